//! Binary type metadata (op 3002): type names, field names and ids, and the schemas that compact
//! footers refer to. Cached per client, shared by all its connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::net::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::op;
use crate::net::wire::{Reader, Writer};

#[derive(Debug, Clone)]
pub struct FieldMeta {
    pub name: String,
    pub type_code: u8,
    pub field_id: i32,
}

#[derive(Debug, Clone)]
pub struct BinaryType {
    pub type_id: i32,
    pub name: String,
    pub fields: Vec<FieldMeta>,
    pub is_enum: bool,
    /// (name, ordinal) of each constant, for enum types
    pub enum_values: Vec<(String, i32)>,
    /// schema id -> field ids in footer order
    pub schemas: HashMap<i32, Vec<i32>>,
}

impl BinaryType {
    pub fn field(&self, field_id: i32) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.field_id == field_id)
    }

    /// Parses a get-binary-type payload. `Ok(None)` when the server knows no such type.
    pub fn parse(payload: &[u8]) -> Result<Option<BinaryType>> {
        let mut r = Reader::new(payload);
        if !r.bool()? {
            return Ok(None);
        }
        let type_id = r.i32()?;
        let name = r.string_object()?.unwrap_or_default();
        let _affinity_key_field = r.string_object()?;
        let n_fields = r.len(9)?;
        let mut fields = Vec::with_capacity(n_fields);
        for _ in 0..n_fields {
            let name = r.string_object()?.unwrap_or_default();
            let type_code = r.i32()?;
            let field_id = r.i32()?;
            fields.push(FieldMeta { name, type_code: type_code as u8, field_id });
        }
        let is_enum = r.bool()?;
        let mut enum_values = Vec::new();
        if is_enum {
            let n = r.len(5)?;
            for _ in 0..n {
                let name = r.string_object()?.unwrap_or_default();
                enum_values.push((name, r.i32()?));
            }
        }
        let n_schemas = r.len(8)?;
        let mut schemas = HashMap::with_capacity(n_schemas);
        for _ in 0..n_schemas {
            let schema_id = r.i32()?;
            let n = r.len(4)?;
            let ids = (0..n).map(|_| r.i32()).collect::<Result<Vec<_>>>()?;
            schemas.insert(schema_id, ids);
        }
        Ok(Some(BinaryType { type_id, name, fields, is_enum, enum_values, schemas }))
    }
}

/// Where the decoder gets binary types from; the scan implements it over its connection.
pub trait TypeResolver {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>>;
    /// Asks the server again, for a schema registered after the type was cached.
    fn refresh(&mut self, type_id: i32) -> Result<Arc<BinaryType>>;
}

/// A client-wide cache of binary types.
#[derive(Default)]
pub struct MetadataCache {
    types: Mutex<HashMap<i32, Arc<BinaryType>>>,
}

impl MetadataCache {
    pub fn get(&self, type_id: i32) -> Option<Arc<BinaryType>> {
        self.types.lock().unwrap().get(&type_id).cloned()
    }

    /// Returns the type, asking the server through `conn` on a miss.
    pub fn fetch(&self, type_id: i32, conn: &mut Connection) -> Result<Arc<BinaryType>> {
        if let Some(t) = self.get(type_id) {
            return Ok(t);
        }
        let t = Arc::new(request_binary_type(conn, type_id)?);
        self.types.lock().unwrap().insert(type_id, t.clone());
        Ok(t)
    }

    /// Forgets a type so that the next fetch asks the server again (a schema we have not seen
    /// may have been registered since we cached it).
    pub fn invalidate(&self, type_id: i32) {
        self.types.lock().unwrap().remove(&type_id);
    }
}

pub fn request_binary_type(conn: &mut Connection, type_id: i32) -> Result<BinaryType> {
    let mut w = Writer::new();
    w.i32(type_id);
    let payload = conn.request(op::GET_BINARY_TYPE, &w.buf)?;
    BinaryType::parse(&payload)?.ok_or_else(|| {
        Error::Schema(format!("the server has no binary type metadata for type id {type_id}"))
    })
}

/// Resolves through a metadata cache and a connection.
pub struct ConnectionResolver<'a> {
    pub cache: &'a MetadataCache,
    pub conn: &'a mut Connection,
}

impl TypeResolver for ConnectionResolver<'_> {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.cache.fetch(type_id, self.conn)
    }

    fn refresh(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.cache.invalidate(type_id);
        self.cache.fetch(type_id, self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_binary_type() {
        let mut w = Writer::new();
        w.bool(true).i32(42).string_object(Some("Digit")).string_object(None).i32(2);
        w.string_object(Some("label")).i32(3).i32(7);
        w.string_object(Some("pixels")).i32(12).i32(9);
        w.bool(false).i32(1).i32(-5).i32(2).i32(7).i32(9);
        let t = BinaryType::parse(&w.buf).unwrap().unwrap();
        assert_eq!(t.name, "Digit");
        assert_eq!(t.field(9).unwrap().name, "pixels");
        assert_eq!(t.schemas[&-5], vec![7, 9]);
    }

    #[test]
    fn unknown_type_is_none_and_truncation_is_an_error() {
        assert!(BinaryType::parse(&[0]).unwrap().is_none());
        assert!(BinaryType::parse(&[1, 42, 0]).is_err());
    }
}
