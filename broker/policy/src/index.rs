//! Small, fast building blocks of the decision index.
//!
//! A decision is two hash lookups and a scan of a few entries; with a large policy those
//! entries are cold in the cache, so every pointer the lookup avoids chasing counts. Agency
//! codes are therefore compared as inline integers, purposes as bits, and the maps hash with a
//! multiply-rotate hash instead of SipHash: their keys are policy data, and a caller choosing
//! lookup keys to collide gains nothing but a slower probe of its own request.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use tongdao_schemas::v1::DataClass;

/// A `HashMap` with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The rustc/Firefox "Fx" hash: one rotate, xor and multiply per word.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// An agency code as one integer: up to 15 bytes and the length, so codes compare without
/// following a pointer. Registered codes are 10 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AgencyKey(u128);

impl AgencyKey {
    /// `None` for codes too long to be registered ones.
    pub(crate) fn new(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if bytes.len() > 15 {
            return None;
        }
        let mut buffer = [0; 16];
        buffer[..bytes.len()].copy_from_slice(bytes);
        buffer[15] = bytes.len() as u8;
        Some(Self(u128::from_le_bytes(buffer)))
    }
}

/// A set of purposes by their index in the purpose registry (at most [`PurposeSet::CAPACITY`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PurposeSet([u64; 4]);

impl PurposeSet {
    /// The official list has 182 purposes.
    pub(crate) const CAPACITY: usize = 256;

    pub(crate) fn insert(&mut self, index: usize) {
        if index < Self::CAPACITY {
            self.0[index / 64] |= 1 << (index % 64);
        }
    }

    pub(crate) fn union_with(&mut self, other: &Self) {
        for (word, other) in self.0.iter_mut().zip(other.0) {
            *word |= other;
        }
    }

    /// The indices in the set, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word_index, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(word_index * 64 + bit)
            })
        })
    }

    pub(crate) fn contains(&self, index: usize) -> bool {
        index < Self::CAPACITY && self.0[index / 64] & (1 << (index % 64)) != 0
    }
}

/// A set of data classes as bits of their class number (C001 = bit 1 … C116 = bit 116).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClassSet(u128);

impl ClassSet {
    pub(crate) fn from_classes(classes: &[DataClass]) -> Self {
        let mut bits = 0u128;
        for &class in classes {
            let number = class as i32;
            if (0..128).contains(&number) {
                bits |= 1 << number;
            }
        }
        Self(bits)
    }

    /// The classes in code order.
    pub(crate) fn to_vec(self) -> Vec<DataClass> {
        let mut classes = Vec::with_capacity(self.0.count_ones() as usize);
        let mut rest = self.0;
        while rest != 0 {
            let number = rest.trailing_zeros();
            rest &= rest - 1;
            if let Ok(class) = DataClass::try_from(number as i32) {
                classes.push(class);
            }
        }
        classes
    }
}

#[cfg(test)]
mod tests;
