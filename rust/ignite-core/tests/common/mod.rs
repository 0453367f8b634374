//! Helpers shared by the decoder tests and the fuzz harnesses: encoded values, objects built by the
//! production object encoder, a type resolver over fixed metadata, and the fuzzers' inputs count,
//! random numbers and counting allocator ([`counting`]).

#![allow(dead_code)]

pub mod counting;

use std::collections::HashMap;
use std::sync::Arc;

use ignite_core::ignite2::format::metadata::{BinaryType, TypeResolver};
use ignite_core::ignite2::format::object_encoder::{Footer, ObjectEncoder};
use ignite_core::ignite2::protocol::{name_id, schema_id, type_code as tc};
use ignite_core::{Error, Result};

/// Binary types by id, as the server's metadata would give them.
pub struct Types(pub HashMap<i32, Arc<BinaryType>>);

impl TypeResolver for Types {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.0
            .get(&type_id)
            .cloned()
            .ok_or_else(|| Error::Schema(format!("no type {type_id}")))
    }
    fn refresh(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.binary_type(type_id)
    }
}

/// An int value (type code 3).
pub fn int(v: i32) -> Vec<u8> {
    let mut b = vec![tc::INT];
    b.extend_from_slice(&v.to_le_bytes());
    b
}

/// A string value (type code 9).
pub fn string(s: &str) -> Vec<u8> {
    let mut b = vec![tc::STRING];
    b.extend_from_slice(&(s.len() as i32).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
    b
}

/// A binary object of type `type_id` with `fields` (field id, encoded value) in that order, made by
/// the production object encoder: a compact or a full footer, offsets of `offset_size` bytes
/// (`None`: as narrow as the object allows).
pub fn object_of_ids(
    type_id: i32,
    fields: &[(i32, &[u8])],
    compact: bool,
    offset_size: Option<usize>,
) -> Vec<u8> {
    let ids: Vec<i32> = fields.iter().map(|(id, _)| *id).collect();
    let mut encoder = ObjectEncoder::new();
    for (_, value) in fields {
        encoder.field().extend_from_slice(value);
    }
    let mut out = Vec::new();
    let footer = Footer {
        field_ids: (!compact).then_some(ids.as_slice()),
        offset_size,
    };
    encoder.finish(&mut out, type_id, schema_id(&ids), footer);
    out
}

/// Like [`object_of_ids`], with the type and the fields named.
pub fn object(
    type_name: &str,
    fields: &[(&str, Vec<u8>)],
    compact: bool,
    offset_size: usize,
) -> Vec<u8> {
    let fields: Vec<(i32, &[u8])> = fields
        .iter()
        .map(|(name, value)| (name_id(name), value.as_slice()))
        .collect();
    object_of_ids(name_id(type_name), &fields, compact, Some(offset_size))
}

/// A value wrapped (type code 27) around an object, as keep-binary scans deliver them.
pub fn wrapped(object: &[u8]) -> Vec<u8> {
    let mut v = vec![tc::WRAPPED];
    v.extend_from_slice(&(object.len() as i32).to_le_bytes());
    v.extend_from_slice(object);
    v.extend_from_slice(&0i32.to_le_bytes()); // the object starts at offset 0 inside
    v
}

/// Inputs per mutation test: env `FUZZ_ITERATIONS`, else `default`.
pub fn fuzz_iterations(default: usize) -> usize {
    std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: small, deterministic, good enough to drive mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A mutation both fuzzers make: a copy of one region of `bytes` (up to 32 bytes) over
    /// another.
    pub fn copy_region(&mut self, bytes: &mut [u8]) {
        let a = self.below(bytes.len());
        let b = self.below(bytes.len());
        let n = self.below(32).min(bytes.len() - a.max(b));
        bytes.copy_within(a..a + n, b);
    }
}
