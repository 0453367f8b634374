//! Binary type metadata: type names, field names and ids, and the schemas that compact footers
//! refer to, in the form the server answers a type lookup (op 3002) and takes a type's
//! registration (op 3003). Parsed and written here, and nowhere else.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Result;
use crate::ignite2::wire::{Reader, Writer};

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
            fields.push(FieldMeta {
                name,
                type_code: type_code as u8,
                field_id,
            });
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
        Ok(Some(BinaryType {
            type_id,
            name,
            fields,
            is_enum,
            enum_values,
            schemas,
        }))
    }

    /// The type as a registration (op 3003) sends it: the lookup answer's layout without its
    /// leading "found" flag.
    pub fn encode(&self, w: &mut Writer) {
        w.i32(self.type_id)
            .string_object(Some(&self.name))
            .string_object(None); // no affinity key field
        w.i32(self.fields.len() as i32);
        for f in &self.fields {
            w.string_object(Some(&f.name))
                .i32(f.type_code as i32)
                .i32(f.field_id);
        }
        w.bool(self.is_enum);
        if self.is_enum {
            w.i32(self.enum_values.len() as i32);
            for (name, ordinal) in &self.enum_values {
                w.string_object(Some(name)).i32(*ordinal);
            }
        }
        w.i32(self.schemas.len() as i32);
        for (schema_id, ids) in &self.schemas {
            w.i32(*schema_id).i32(ids.len() as i32);
            for id in ids {
                w.i32(*id);
            }
        }
    }
}

/// Where the decoder gets binary types from; a scan implements it over its connection
/// (`read::known_types`), the tests over fixed metadata.
pub trait TypeResolver {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>>;
    /// Asks the server again, for a schema registered after the type was cached.
    fn refresh(&mut self, type_id: i32) -> Result<Arc<BinaryType>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_binary_type() {
        let mut w = Writer::new();
        w.bool(true)
            .i32(42)
            .string_object(Some("Digit"))
            .string_object(None)
            .i32(2);
        w.string_object(Some("label")).i32(3).i32(7);
        w.string_object(Some("pixels")).i32(12).i32(9);
        w.bool(false).i32(1).i32(-5).i32(2).i32(7).i32(9);
        let t = BinaryType::parse(&w.buf).unwrap().unwrap();
        assert_eq!(t.name, "Digit");
        assert_eq!(t.field(9).unwrap().name, "pixels");
        assert_eq!(t.schemas[&-5], vec![7, 9]);
    }

    #[test]
    fn a_registration_reads_back_as_the_lookup_answer() {
        let t = BinaryType {
            type_id: 42,
            name: "Digit".into(),
            fields: vec![FieldMeta {
                name: "label".into(),
                type_code: 3,
                field_id: 7,
            }],
            is_enum: true,
            enum_values: vec![("ONE".into(), 1)],
            schemas: HashMap::from([(-5, vec![7])]),
        };
        let mut w = Writer::new();
        w.bool(true);
        t.encode(&mut w);
        let back = BinaryType::parse(&w.buf).unwrap().unwrap();
        assert_eq!(
            (back.type_id, back.name.as_str(), back.is_enum),
            (42, "Digit", true)
        );
        assert_eq!(back.field(7).unwrap().name, "label");
        assert_eq!(back.enum_values, vec![("ONE".to_string(), 1)]);
        assert_eq!(back.schemas[&-5], vec![7]);
    }

    #[test]
    fn unknown_type_is_none_and_truncation_is_an_error() {
        assert!(BinaryType::parse(&[0]).unwrap().is_none());
        assert!(BinaryType::parse(&[1, 42, 0]).is_err());
    }
}
