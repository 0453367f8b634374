//! Registering an object value's type before writing it: its name (op 3001), then its fields and
//! their one schema (op 3003), so that every reader, Java's included, can read the objects.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::format::metadata::{BinaryType, FieldMeta};
use crate::ignite2::protocol::{name_id, op, schema_id};
use crate::ignite2::wire::Writer;
use crate::kinds::WriteColumn;

/// The metadata of objects of `type_name` made of `fields` (in the order they are written): the
/// type that [`register`] sends, and that readers of the objects look up.
pub fn binary_type_of(type_name: &str, fields: &[(String, WriteColumn)]) -> BinaryType {
    let ids: Vec<i32> = fields.iter().map(|(n, _)| name_id(n)).collect();
    BinaryType {
        type_id: name_id(type_name),
        name: type_name.to_string(),
        fields: fields
            .iter()
            .zip(&ids)
            .map(|((name, column), &field_id)| FieldMeta {
                name: name.clone(),
                type_code: column.type_code(),
                field_id,
            })
            .collect(),
        is_enum: false,
        enum_values: Vec::new(),
        schemas: HashMap::from([(schema_id(&ids), ids)]),
    }
}

/// Registers `type_name` with `fields` (in the order they are written).
pub fn register(
    conn: &mut Connection,
    type_name: &str,
    fields: &[(String, WriteColumn)],
) -> Result<()> {
    let binary_type = binary_type_of(type_name, fields);
    let mut w = Writer::new();
    w.u8(0)
        .i32(binary_type.type_id)
        .string_object(Some(type_name)); // platform 0: Java
    conn.request(op::REGISTER_TYPE_NAME, &w.buf)?;
    let mut w = Writer::new();
    binary_type.encode(&mut w);
    conn.request(op::PUT_BINARY_TYPE, &w.buf).map_err(|e| match e {
        Error::Server { status, message } => Error::Schema(format!(
            "the cluster refused type '{type_name}' (status {status}): {message}; a type keeps its field types for good"
        )),
        other => other,
    })?;
    Ok(())
}
