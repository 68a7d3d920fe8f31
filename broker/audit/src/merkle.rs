//! RFC 6962 Merkle tree hashing, proofs and their verification.
//!
//! The proof algorithms are those of RFC 6962 §2.1 (PATH and SUBPROOF) and their
//! verification that of RFC 9162 §2.1.3.2 and §2.1.4.2. They read node hashes through
//! [`Nodes`], so the same code serves the live log (hashes in memory and in tiles), the
//! offline reader and the tests.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::error::{AuditError, ProofError};

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash as standard base64, the encoding checkpoints use.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Parses standard base64 (as in checkpoints and receipts).
    pub fn from_base64(text: &str) -> Option<Hash> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        Some(Hash(bytes.try_into().ok()?))
    }

    /// The hash as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// Lowercase hex; a hand-written loop because no hex crate is otherwise needed.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

/// Parses exactly 32 bytes of hex (either case).
pub(crate) fn unhex32(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
    }
    Some(out)
}

/// RFC 6962 leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Hash of a complete subtree given its `2^k` lowest hashes (a slice of a tile).
pub(crate) fn subtree_hash(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let half = hashes.len() / 2;
            node_hash(
                &subtree_hash(&hashes[..half]),
                &subtree_hash(&hashes[half..]),
            )
        }
    }
}

/// Access to complete subtree hashes of one log.
pub(crate) trait Nodes {
    /// Hash of the complete subtree of height `level` whose leaves are
    /// `[index << level, (index + 1) << level)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, AuditError>;
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[lo:hi])`; `lo` is aligned to the subtree sizes the RFC algorithms produce.
fn range_hash(nodes: &impl Nodes, lo: u64, hi: u64) -> Result<Hash, AuditError> {
    let n = hi - lo;
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let level = n.trailing_zeros() as u8;
        return nodes.node(level, lo >> level);
    }
    let k = split_point(n);
    let left = range_hash(nodes, lo, lo + k)?;
    let right = range_hash(nodes, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// Root hash of the tree of the first `size` entries.
pub(crate) fn root(nodes: &impl Nodes, size: u64) -> Result<Hash, AuditError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(nodes, 0, size)
}

/// RFC 6962 PATH: the inclusion proof of entry `index` in the tree of `size` entries.
pub(crate) fn inclusion_proof(
    nodes: &impl Nodes,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(nodes, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    nodes: &impl Nodes,
    m: u64,
    lo: u64,
    hi: u64,
    proof: &mut Vec<Hash>,
) -> Result<(), AuditError> {
    let n = hi - lo;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < lo + k {
        path(nodes, m, lo, lo + k, proof)?;
        proof.push(range_hash(nodes, lo + k, hi)?);
    } else {
        path(nodes, m, lo + k, hi, proof)?;
        proof.push(range_hash(nodes, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 6962 PROOF: the consistency proof between the trees of `old` and `new` entries.
pub(crate) fn consistency_proof(
    nodes: &impl Nodes,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, AuditError> {
    if old > new {
        return Err(AuditError::OutOfRange {
            index: old,
            size: new,
        });
    }
    let mut proof = Vec::new();
    if old == 0 || old == new {
        return Ok(proof);
    }
    subproof(nodes, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    nodes: &impl Nodes,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    proof: &mut Vec<Hash>,
) -> Result<(), AuditError> {
    let n = hi - lo;
    if m == n {
        if !whole {
            proof.push(range_hash(nodes, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(nodes, m, lo, lo + k, whole, proof)?;
        proof.push(range_hash(nodes, lo + k, hi)?);
    } else {
        subproof(nodes, m - k, lo + k, hi, false, proof)?;
        proof.push(range_hash(nodes, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    proof: &[Hash],
    index: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` entries with root `old_root` is a prefix of the tree of
/// `new` entries with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    proof: &[Hash],
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange);
    }
    if old == new {
        return match (proof.is_empty(), old_root == new_root) {
            (true, true) => Ok(()),
            (false, _) => Err(ProofError::WrongLength),
            (true, false) => Err(ProofError::RootMismatch),
        };
    }
    if old == 0 {
        // The empty tree is a prefix of every tree; nothing to prove.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: one hash per complete subtree, largest first.
///
/// `verify` and recovery stream entries through it and ask for the root at any size
/// without keeping the leaves.
#[derive(Debug, Default, Clone)]
pub(crate) struct Frontier {
    size: u64,
    // (height, hash) of complete subtrees, left to right, strictly decreasing height.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut node = (0u8, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.size += 1;
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn root(&self) -> Hash {
        let mut nodes = self.stack.iter().rev();
        let Some(&(_, mut root)) = nodes.next() else {
            return empty_root();
        };
        for (_, left) in nodes {
            root = node_hash(left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests;
