//! Subject Directory Attributes (extension 2.5.29.9), where GPKI keeps identity data:
//! `SubjectDirectoryAttributes ::= SEQUENCE SIZE (1..MAX) OF Attribute`,
//! `Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }`.
//!
//! x509-parser does not decode this extension, so it is encoded and parsed here.

use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::der_parser::der::parse_der;

use crate::der;
use crate::profile::Oid;

/// The extension's OID arcs (2.5.29.9).
pub const SDA_EXTENSION_ARCS: [u64; 4] = [2, 5, 29, 9];

/// One attribute: a type and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdaAttribute {
    /// Attribute type.
    pub oid: Oid,
    /// Attribute values (a SET OF, at least one).
    pub values: Vec<AttributeValue>,
}

impl SdaAttribute {
    /// An attribute with one value, the only shape GPKI uses.
    pub fn single(oid: Oid, value: AttributeValue) -> Self {
        SdaAttribute {
            oid,
            values: vec![value],
        }
    }
}

/// An attribute value; only the types GPKI attributes use are decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// OBJECT IDENTIFIER (e.g. the subject class).
    Oid(Oid),
    /// PrintableString.
    Printable(String),
    /// UTF8String.
    Utf8(String),
    /// IA5String.
    Ia5(String),
    /// Any other type, kept as its tag number so unrelated attributes do not fail parsing.
    Other {
        /// The universal tag number.
        tag: u32,
    },
}

impl AttributeValue {
    /// The value as text: dotted decimal for OIDs, the string otherwise; `None` for `Other`.
    pub fn as_text(&self) -> Option<String> {
        match self {
            AttributeValue::Oid(oid) => Some(oid.to_string()),
            AttributeValue::Printable(s) | AttributeValue::Utf8(s) | AttributeValue::Ia5(s) => {
                Some(s.clone())
            }
            AttributeValue::Other { .. } => None,
        }
    }

    fn encode(&self) -> Result<Vec<u8>, SdaError> {
        Ok(match self {
            AttributeValue::Oid(oid) => der::oid(oid),
            AttributeValue::Printable(s) if der::is_printable(s) => {
                der::tlv(der::TAG_PRINTABLE, s.as_bytes())
            }
            AttributeValue::Printable(s) => {
                return Err(SdaError::Encode(format!("{s:?} is not a PrintableString")));
            }
            AttributeValue::Utf8(s) => der::tlv(der::TAG_UTF8, s.as_bytes()),
            AttributeValue::Ia5(s) if s.is_ascii() => der::tlv(der::TAG_IA5, s.as_bytes()),
            AttributeValue::Ia5(s) => {
                return Err(SdaError::Encode(format!("{s:?} is not an IA5String")));
            }
            AttributeValue::Other { tag } => {
                return Err(SdaError::Encode(format!(
                    "cannot encode a value of tag {tag}"
                )));
            }
        })
    }
}

/// Why attributes could not be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdaError {
    /// A value cannot be represented in its declared string type.
    #[error("cannot encode Subject Directory Attributes: {0}")]
    Encode(String),
    /// The extension value is not a well-formed SEQUENCE OF Attribute.
    #[error("malformed Subject Directory Attributes: {0}")]
    Malformed(String),
}

/// Encodes attributes as the DER value of extension 2.5.29.9.
pub fn encode(attributes: &[SdaAttribute]) -> Result<Vec<u8>, SdaError> {
    if attributes.is_empty() {
        return Err(SdaError::Encode(
            "SEQUENCE SIZE (1..MAX): no attributes".into(),
        ));
    }
    let mut encoded = Vec::with_capacity(attributes.len());
    for attribute in attributes {
        if attribute.values.is_empty() {
            return Err(SdaError::Encode(format!(
                "attribute {} has no values",
                attribute.oid
            )));
        }
        let values = attribute
            .values
            .iter()
            .map(AttributeValue::encode)
            .collect::<Result<Vec<_>, _>>()?;
        encoded.push(der::sequence(&[
            der::oid(&attribute.oid),
            der::set_of(values),
        ]));
    }
    Ok(der::sequence(&encoded))
}

/// Parses the DER value of extension 2.5.29.9. Never panics; rejects trailing bytes.
pub fn parse(value: &[u8]) -> Result<Vec<SdaAttribute>, SdaError> {
    let malformed = |m: String| SdaError::Malformed(m);
    let (rest, outer) = parse_der(value).map_err(|e| malformed(format!("not DER: {e}")))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} trailing bytes", rest.len())));
    }
    let BerObjectContent::Sequence(items) = &outer.content else {
        return Err(malformed("not a SEQUENCE".into()));
    };
    if items.is_empty() {
        return Err(malformed("empty SEQUENCE".into()));
    }
    items.iter().map(parse_attribute).collect()
}

fn parse_attribute(item: &BerObject<'_>) -> Result<SdaAttribute, SdaError> {
    let malformed = |m: &str| SdaError::Malformed(m.to_owned());
    let BerObjectContent::Sequence(parts) = &item.content else {
        return Err(malformed("an Attribute is not a SEQUENCE"));
    };
    let [kind, values] = parts.as_slice() else {
        return Err(malformed(
            "an Attribute must have exactly a type and a value set",
        ));
    };
    let BerObjectContent::OID(oid) = &kind.content else {
        return Err(malformed("an Attribute type is not an OBJECT IDENTIFIER"));
    };
    let oid = Oid::parse(&oid.to_id_string())
        .map_err(|_| malformed("an Attribute type is not a usable OID"))?;
    let BerObjectContent::Set(values) = &values.content else {
        return Err(malformed("Attribute values are not a SET"));
    };
    if values.is_empty() {
        return Err(SdaError::Malformed(format!(
            "attribute {oid} has no values"
        )));
    }
    let values = values
        .iter()
        .map(|v| parse_value(v).ok_or_else(|| malformed("an OID value is not a usable OID")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SdaAttribute { oid, values })
}

fn parse_value(value: &BerObject<'_>) -> Option<AttributeValue> {
    Some(match &value.content {
        BerObjectContent::OID(oid) => AttributeValue::Oid(Oid::parse(&oid.to_id_string()).ok()?),
        BerObjectContent::PrintableString(s) => AttributeValue::Printable((*s).to_owned()),
        BerObjectContent::UTF8String(s) => AttributeValue::Utf8((*s).to_owned()),
        BerObjectContent::IA5String(s) => AttributeValue::Ia5((*s).to_owned()),
        _ => AttributeValue::Other {
            tag: value.header.tag().0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        Oid::parse(s).expect("oid")
    }

    #[test]
    fn round_trips_every_value_type() {
        let attrs = vec![
            SdaAttribute::single(
                oid("2.16.886.1.100.2.1"),
                AttributeValue::Oid(oid("2.16.886.1.100.3.2.1.1")),
            ),
            SdaAttribute::single(
                oid("2.16.886.1.100.2.102"),
                AttributeValue::Printable("2.16.886.101.20003.20004".into()),
            ),
            SdaAttribute::single(
                oid("2.16.886.1.100.2.51"),
                AttributeValue::Ia5("6789".into()),
            ),
            SdaAttribute {
                oid: oid("1.2.3.4"),
                values: vec![
                    AttributeValue::Utf8("臺北".into()),
                    AttributeValue::Utf8("高雄".repeat(100)),
                ],
            },
        ];
        let der = encode(&attrs).expect("encode");
        let parsed = parse(&der).expect("parse");
        assert_eq!(parsed.len(), 4);
        assert_eq!(parsed[..3], attrs[..3]);
        // SET OF is sorted on encoding, so compare the multi-valued one as a set.
        let mut got = parsed[3].values.clone();
        let mut want = attrs[3].values.clone();
        got.sort_by_key(|v| v.as_text());
        want.sort_by_key(|v| v.as_text());
        assert_eq!(got, want);
    }

    #[test]
    fn rejects_bad_shapes_without_panicking() {
        assert!(encode(&[]).is_err());
        assert!(
            encode(&[SdaAttribute::single(
                oid("1.2"),
                AttributeValue::Printable("臺".into())
            )])
            .is_err()
        );
        let good = encode(&[SdaAttribute::single(
            oid("2.16.886.1.100.2.1"),
            AttributeValue::Oid(oid("2.16.886.1.100.3.1.1")),
        )])
        .expect("encode");
        for len in 0..good.len() {
            assert!(parse(&good[..len]).is_err(), "truncated at {len} accepted");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
        for bad in [
            &[0x30, 0x00][..],                         // empty SEQUENCE
            &[0x31, 0x00][..],                         // SET, not SEQUENCE
            &[0x30, 0x02, 0x05, 0x00][..],             // attribute is NULL
            &[0x30, 0x04, 0x30, 0x02, 0x05, 0x00][..], // attribute without values
            &[0xff; 16][..],
        ] {
            assert!(parse(bad).is_err(), "{bad:02x?} accepted");
        }
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0xff;
            let _ = parse(&flipped); // must not panic
        }
    }
}
