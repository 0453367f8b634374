//! Helpers shared by the decoder tests and the fuzz harness: encoded values and a type resolver
//! over fixed metadata.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use ignite_core::metadata::{BinaryType, TypeResolver};
use ignite_core::protocol::type_code as tc;
use ignite_core::{Error, Result};

/// Binary types by id, as the server's metadata would give them.
pub struct Types(pub HashMap<i32, Arc<BinaryType>>);

impl TypeResolver for Types {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.0.get(&type_id).cloned().ok_or_else(|| Error::Schema(format!("no type {type_id}")))
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
