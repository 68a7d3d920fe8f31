//! A minimal DER encoder for the few structures rcgen cannot write for us (Subject Directory
//! Attributes, certificate policies). Hand-written on purpose: four tags do not justify another
//! ASN.1 crate, and the output is checked by parsing it back with der-parser in tests.

use crate::profile::Oid;

/// Universal tag: OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;
/// Universal tag: UTF8String.
pub(crate) const TAG_UTF8: u8 = 0x0c;
/// Universal tag: PrintableString.
pub(crate) const TAG_PRINTABLE: u8 = 0x13;
/// Universal tag: IA5String.
pub(crate) const TAG_IA5: u8 = 0x16;
/// Constructed SEQUENCE.
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
/// Constructed SET.
pub(crate) const TAG_SET: u8 = 0x31;

/// One TLV with a definite, minimal-length length (DER forbids anything else).
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 10);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let significant = bytes.get(first..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// SEQUENCE of already-encoded elements, in the given order.
pub(crate) fn sequence(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &items.concat())
}

/// SET OF already-encoded elements; DER requires them sorted by their encodings.
pub(crate) fn set_of(mut items: Vec<Vec<u8>>) -> Vec<u8> {
    items.sort();
    tlv(TAG_SET, &items.concat())
}

/// OBJECT IDENTIFIER: first two arcs packed as 40*a+b, then base-128 with continuation bits.
pub(crate) fn oid(oid: &Oid) -> Vec<u8> {
    let arcs = oid.arcs();
    let mut content = Vec::new();
    // Oid::parse guarantees at least two arcs and that 40*a+b does not overflow.
    if let [a, b, rest @ ..] = arcs {
        push_base128(&mut content, 40 * a + b);
        for arc in rest {
            push_base128(&mut content, *arc);
        }
    }
    tlv(TAG_OID, &content)
}

fn push_base128(out: &mut Vec<u8>, mut value: u64) {
    // Least significant group first (no continuation bit), then reversed into place.
    let mut groups = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        groups.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.extend(groups.iter().rev());
}

/// The PrintableString alphabet (X.680 §41.4).
pub(crate) fn is_printable(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_oid_and_lengths() {
        let sda = Oid::parse("2.5.29.9").expect("oid");
        assert_eq!(oid(&sda), vec![0x06, 0x03, 0x55, 0x1d, 0x09]);
        let gov = Oid::parse("2.16.886.1.100.2.1").expect("oid");
        // 2.16 -> 96 (0x60); 886 -> 0x86 0x76; 1; 100 (0x64); 2; 1.
        assert_eq!(
            oid(&gov),
            vec![0x06, 0x07, 0x60, 0x86, 0x76, 0x01, 0x64, 0x02, 0x01]
        );
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert!(is_printable("2.16.886.101") && !is_printable("臺北") && !is_printable("a@b"));
    }
}
