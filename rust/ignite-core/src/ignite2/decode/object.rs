//! An Ignite 2 binary object into a struct column: its type from the binary metadata (asked for
//! once per column), its shape from the schema its footer refers to (worked out once per type and
//! schema), then each field's value into its column through the footer's offsets.

use std::sync::Arc;

use crate::decode::struct_builder::{FieldDecl, StructBuilder, StructType, SKIP};
use crate::decode::DecodeOptions;
use crate::error::{Error, Result};
use crate::ignite2::decode::budget::Budget;
use crate::ignite2::decode::value::{push_field, value_kind};
use crate::ignite2::format::metadata::{BinaryType, TypeResolver};
use crate::ignite2::format::object::ObjectLayout;

/// Decodes the object at `pos` (type code 103) as one row of `s`; returns the position past it.
/// Spends from `budget` for the row and for every column the object adds (hostile footers may
/// point many entries at the same bytes; shared children add columns at every copy).
pub fn push_object(
    s: &mut StructBuilder,
    buf: &[u8],
    pos: usize,
    types: &mut dyn TypeResolver,
    depth: u32,
    budget: &mut Budget,
) -> Result<usize> {
    let layout = ObjectLayout::parse(buf, pos)?;
    let columns_before = s.column_count();
    let type_index = match s.type_index(layout.type_id) {
        Some(index) => index,
        None => {
            let options = s.options();
            s.add_type(layout.type_id, || {
                types
                    .binary_type(layout.type_id)
                    .map(|t| struct_type(&t, options))
            })?
        }
    };
    let key = (layout.type_id, layout.schema_id);
    let shape = match s.shape(key) {
        Some(shape) => shape,
        None => {
            let columns = shape_columns(s, &layout, buf, types)?;
            s.add_shape(key, columns)
        }
    };
    // A new column costs its own memory, with room for the batch's rows and nulls for the rows
    // before; a row, one unit per footer entry and per column.
    let new_columns = s.column_count() - columns_before;
    budget.spend_columns(new_columns, s.len() + s.rows_hint())?;
    budget.spend(layout.field_count() + s.column_count())?;
    if s.shape_len(shape) != layout.field_count() {
        return Err(Error::protocol(format!(
            "object '{}': {} footer entries where schema {} has {}",
            s.path(),
            layout.field_count(),
            layout.schema_id,
            s.shape_len(shape)
        )));
    }
    let (columns_of_fields, columns) = s.begin_row(type_index, shape);
    for (i, &index) in columns_of_fields.iter().enumerate() {
        if index == SKIP {
            continue; // not selected: never decoded
        }
        let p = layout.field_position(buf, i)?;
        push_field(&mut columns[index], buf, p, types, depth + 1, budget)?;
    }
    s.end_row();
    Ok(layout.end())
}

/// A binary type as the struct builder takes it.
fn struct_type(t: &BinaryType, options: DecodeOptions) -> StructType {
    StructType {
        name: t.name.clone(),
        fields: t
            .fields
            .iter()
            .map(|f| field_decl(f.field_id, &f.name, f.type_code, options))
            .collect(),
    }
}

fn field_decl(id: i32, name: &str, type_code: u8, options: DecodeOptions) -> FieldDecl {
    FieldDecl {
        id,
        name: name.to_string(),
        declared: value_kind(type_code, options),
    }
}

/// The column of each footer entry of objects laid out like `layout`: field ids from the
/// footer, or from the schema (compact footers), asking the server again for a schema or a
/// field registered after the type was looked up.
fn shape_columns(
    s: &mut StructBuilder,
    layout: &ObjectLayout,
    buf: &[u8],
    types: &mut dyn TypeResolver,
) -> Result<Vec<usize>> {
    let mut t = types.binary_type(layout.type_id)?;
    let ids: Vec<i32> = if layout.is_compact() {
        if !t.schemas.contains_key(&layout.schema_id) {
            // A schema registered after we looked the type up: ask once more.
            t = types.refresh(t.type_id)?;
        }
        t.schemas.get(&layout.schema_id).cloned().ok_or_else(|| {
            Error::Schema(format!(
                "object '{}' of type {} uses schema {}, which the server's metadata does not list",
                s.path(),
                t.name,
                layout.schema_id
            ))
        })?
    } else {
        (0..layout.field_count())
            .map(|i| layout.footer_field_id(buf, i))
            .collect::<Result<_>>()?
    };
    if ids.len() != layout.field_count() {
        return Err(Error::protocol(format!(
            "object '{}': schema {} names {} fields but the footer has {}",
            s.path(),
            layout.schema_id,
            ids.len(),
            layout.field_count()
        )));
    }
    ids.into_iter()
        .map(|id| field_column(s, &mut t, id, types))
        .collect()
}

/// The column of field `field_id`, added if new, or [`SKIP`] when the field is not selected.
fn field_column(
    s: &mut StructBuilder,
    t: &mut Arc<BinaryType>,
    field_id: i32,
    types: &mut dyn TypeResolver,
) -> Result<usize> {
    if let Some(index) = s.field_column(field_id) {
        return Ok(index);
    }
    if t.field(field_id).is_none() {
        // A field added after we looked the type up.
        *t = types.refresh(t.type_id)?;
    }
    let Some(meta) = t.field(field_id) else {
        return Err(Error::Schema(format!(
            "object '{}' of type {} has field id {field_id}, which its metadata does not name",
            s.path(),
            t.name
        )));
    };
    Ok(s.add_field(&field_decl(
        meta.field_id,
        &meta.name,
        meta.type_code,
        s.options(),
    )))
}
