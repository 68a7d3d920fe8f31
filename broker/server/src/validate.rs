//! Validation: the body is a message of the method's input type and names a valid data subject
//! — for a citizen, themselves.

use prost_reflect::{DynamicMessage, Value};
use tongdao_core::{
    Principal, Reason, Rejection,
    ids::{BusinessNumber, NationalId, ParcelKey},
};
use tongdao_schemas::{descriptors, v1::SubjectKind};

use crate::{
    exchange::{Exchange, Subject},
    layers::Step,
};

/// Decodes the request against the method's input descriptor and reads the subject from the
/// field the schema marks with `(tongdao.v1.subject)`. The original bytes are forwarded; the
/// decoded message is only looked at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Validate;

impl Step<Exchange> for Validate {
    type Out = Exchange;

    fn apply(&self, mut exchange: Exchange) -> Result<Exchange, Rejection> {
        let input = exchange.method.descriptor.input();
        let message =
            DynamicMessage::decode(input.clone(), exchange.body.clone()).map_err(|_| {
                Rejection::new(
                    Reason::MalformedRequest,
                    format!(
                        "the request body is not a valid {} message",
                        input.full_name()
                    ),
                )
            })?;
        if let Some((field, kind)) = descriptors::subject_field(&input) {
            let value = match message.get_field(&field).as_ref() {
                Value::String(text) => text.clone(),
                // A land parcel is named by its key message (office, section, number).
                Value::Message(key) if kind == SubjectKind::LandParcel => parcel_key(key)
                    .ok_or_else(|| {
                        Rejection::new(
                            Reason::SubjectInvalid,
                            format!(
                                "field {} must hold a parcel key: land office code (2 capital \
                                 letters), section code (4 digits) and parcel number \
                                 (NNNN-NNNN)",
                                field.name()
                            ),
                        )
                    })?,
                _ => String::new(),
            };
            let subject = subject(kind, &value, field.name())?;
            // A citizen acts for themselves only: the certificate proves the last 4
            // characters of their national ID, so the subject must end in them.
            if let (Principal::Citizen(citizen), Subject::NationalId(id)) =
                (&exchange.principal, &subject)
                && !citizen.is(id)
            {
                return Err(Rejection::new(
                    Reason::IdentityMismatch,
                    format!(
                        "a citizen certificate acts for its holder only: the national ID in \
                         field {} does not end in the 4 characters the certificate carries",
                        field.name()
                    ),
                ));
            }
            exchange.subject = Some(subject);
        }
        Ok(exchange)
    }
}

fn subject(kind: SubjectKind, value: &str, field: &str) -> Result<Subject, Rejection> {
    let invalid = |what: &str| {
        Rejection::new(
            Reason::SubjectInvalid,
            format!("field {field} must hold {what}"),
        )
    };
    if value.is_empty() {
        return Err(invalid("the data subject's identifier; it is empty"));
    }
    match kind {
        SubjectKind::NationalId => value
            .parse::<NationalId>()
            .map(Subject::NationalId)
            .map_err(|_| invalid("a valid national ID (format or check digit is wrong)")),
        SubjectKind::BusinessNumber => value
            .parse::<BusinessNumber>()
            .map(Subject::BusinessNumber)
            .map_err(|_| {
                invalid("a valid unified business number (format or check digit is wrong)")
            }),
        SubjectKind::LandParcel | SubjectKind::Unspecified => Ok(Subject::Other(value.to_owned())),
    }
}

/// The parcel key as `OFFICE/SECTION/NNNN-NNNN`, if all three parts have the register's shape.
fn parcel_key(key: &DynamicMessage) -> Option<String> {
    let part = |name: &str| match key.get_field_by_name(name)?.as_ref() {
        Value::String(text) => Some(text.clone()),
        _ => None,
    };
    ParcelKey::new(
        &part("land_office_code")?,
        &part("section_code")?,
        &part("parcel_number")?,
    )
    .ok()
    .map(|key| key.to_string())
}
