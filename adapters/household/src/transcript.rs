//! From a parsed household to the `tongdao.household.v1.Transcript` message (戶籍謄本).
//!
//! Pure mapping: no clock, no I/O. The transcript number and print time derive from the
//! extract date and the household number, so the same extract always yields the same
//! transcript.

use tongdao_core::ids::NationalId;
use tongdao_schemas::household::v1 as pb;

use crate::extract::{Event, Household, HouseholdType, Member, Registry, RocDate};
use crate::service::LookupError;

/// `UNSPECIFIED` means the default, `CURRENT_WHOLE` (household.proto).
fn effective(kind: pb::TranscriptKind) -> pb::TranscriptKind {
    match kind {
        pb::TranscriptKind::Unspecified => pb::TranscriptKind::CurrentWhole,
        other => other,
    }
}

/// Whether removed members (除戶) may appear.
fn includes_removed(kind: pb::TranscriptKind) -> bool {
    matches!(
        kind,
        pb::TranscriptKind::RemovedWhole | pb::TranscriptKind::RemovedPartial
    )
}

impl Registry {
    /// The transcript of the household `subject` belongs to. Current kinds need the subject
    /// to be a current member; removed kinds also find a household they were removed from.
    pub fn transcript(
        &self,
        subject: &NationalId,
        kind: pb::TranscriptKind,
    ) -> Result<pb::Transcript, LookupError> {
        let kind = effective(kind);
        let household = if includes_removed(kind) {
            self.household_of(subject)?
        } else {
            self.current_household_of(subject)?
        };
        transcript(household, subject, kind)
    }
}

/// Maps `household` for `subject`: `CURRENT_WHOLE` lists every current member,
/// `CURRENT_PARTIAL` only the subject, `REMOVED_WHOLE` every member including removed ones,
/// `REMOVED_PARTIAL` the subject even if removed. `NotFound` if the subject is not a member
/// (or, for current kinds, was removed).
pub fn transcript(
    household: &Household,
    subject: &NationalId,
    kind: pb::TranscriptKind,
) -> Result<pb::Transcript, LookupError> {
    let kind = effective(kind);
    let with_removed = includes_removed(kind);
    let subject_member = household
        .members
        .iter()
        .find(|m| m.national_id == *subject && (with_removed || m.removed.is_none()))
        .ok_or(LookupError::NotFound)?;
    let members: Vec<pb::Member> = match kind {
        pb::TranscriptKind::CurrentPartial | pb::TranscriptKind::RemovedPartial => {
            vec![member(subject_member)]
        }
        _ => household
            .members
            .iter()
            .filter(|m| with_removed || m.removed.is_none())
            .map(member)
            .collect(),
    };
    let date = household.extract_date;
    Ok(pb::Transcript {
        // e.g. 1140331戶謄字第A0001234號: unique per household and extract.
        transcript_number: format!("{date}戶謄字第{}號", household.number),
        // The extract is as of midnight Taiwan time on its date.
        printed_at: format!(
            "{:04}-{:02}-{:02}T00:00:00+08:00",
            date.gregorian_year(),
            date.month,
            date.day
        ),
        kind: kind as i32,
        household_number: household.number.clone(),
        household_type: household_type(household.kind) as i32,
        address: Some(pb::Address {
            county: household.county.clone(),
            district: household.district.clone(),
            village: household.village.clone(),
            neighbourhood: u32::from(household.neighbourhood),
            street: household.street.clone(),
        }),
        head_name: household.head_name.clone(),
        members,
        household_events: household.events.iter().map(event).collect(),
        issuing_office: household.issuing_office.clone(),
    })
}

fn household_type(kind: HouseholdType) -> pb::HouseholdType {
    match kind {
        HouseholdType::CommonLiving => pb::HouseholdType::CommonLiving,
        HouseholdType::CommonBusiness => pb::HouseholdType::CommonBusiness,
        HouseholdType::SingleLiving => pb::HouseholdType::SingleLiving,
    }
}

fn roc_date(date: RocDate) -> pb::RocDate {
    pb::RocDate {
        year: u32::from(date.year),
        month: u32::from(date.month),
        day: u32::from(date.day),
    }
}

fn event(e: &Event) -> pb::Event {
    pb::Event {
        date: Some(roc_date(e.date)),
        kind: e.kind.label().to_owned(),
        remark: e.remark.clone(),
    }
}

fn member(m: &Member) -> pb::Member {
    pb::Member {
        relationship: m.relationship.clone(),
        name: m.name.clone(),
        national_id: m.national_id.as_str().to_owned(),
        birth_date: Some(roc_date(m.birth_date)),
        sex: m.sex.label().to_owned(),
        father_name: m.father_name.clone(),
        mother_name: m.mother_name.clone(),
        spouse_name: m.spouse_name.clone(),
        birthplace: m.birthplace.clone(),
        birth_order: m.birth_order.clone(),
        military_service: m.military.label().to_owned(),
        indigenous_status: m
            .indigenous
            .map(|s| s.label().to_owned())
            .unwrap_or_default(),
        indigenous_tribe: m.tribe.clone(),
        removed: m.removed.is_some(),
        events: m.events.iter().map(event).collect(),
    }
}
