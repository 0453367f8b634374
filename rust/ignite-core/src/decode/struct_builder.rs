//! The columns of an object column: one per field, found by field id, never by position. A
//! source names the object types it meets ([`StructBuilder::add_type`]) and the shapes their rows
//! come in ([`StructBuilder::add_shape`]: which field column each of a row's values goes to), then
//! fills rows shape by shape. Fields a row lacks are null in it; a null object makes every field
//! null in its row.

use std::sync::Arc;

use crate::decode::column::Column;
use crate::decode::column_builder::{ColumnBuilder, DecodeOptions};
use crate::decode::selection::Selection;
use crate::decode::value_kind::ValueKind;
use crate::error::{Error, Result};

/// In a shape: a value whose field is not selected, and is skipped undecoded.
pub const SKIP: usize = usize::MAX;

/// An object type as the source describes it.
#[derive(Debug, Clone)]
pub struct StructType {
    pub name: String,
    pub fields: Vec<FieldDecl>,
}

/// A field of an object type.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    /// The source's id of the field; fields of the same id are one column.
    pub id: i32,
    pub name: String,
    /// What the field holds by declaration, to type a column of nulls.
    pub declared: Option<ValueKind>,
}

/// Builds the columns of one object type (or, as a union, of every type it meets).
pub struct StructBuilder {
    path: String,
    rows_hint: usize,
    options: DecodeOptions,
    selection: Option<Arc<Selection>>,
    /// Accept objects of several types: their fields merge by id, and a `_type` column names
    /// each row's type.
    union: bool,
    len: usize,
    /// The types met so far (id, name), in the order met.
    types: Vec<(i32, String)>,
    /// The field columns, with their fields' ids and names.
    field_ids: Vec<i32>,
    field_names: Vec<String>,
    columns: Vec<ColumnBuilder>,
    /// Row shapes by the source's key (an Ignite 2 object's type and schema ids): for each of a
    /// row's values in order, the index of its column, or [`SKIP`]. A column meets one or a few
    /// shapes, so a list searched from the start beats hashing the key for every row.
    shapes: Vec<((i32, i32), Vec<usize>)>,
    type_column: Option<ColumnBuilder>,
}

impl StructBuilder {
    pub(crate) fn new(
        path: String,
        nulls: usize,
        rows_hint: usize,
        options: DecodeOptions,
        selection: Option<Arc<Selection>>,
        union: bool,
    ) -> Self {
        StructBuilder {
            path,
            rows_hint,
            options,
            selection,
            union,
            len: nulls,
            types: Vec::new(),
            field_ids: Vec::new(),
            field_names: Vec::new(),
            columns: Vec::new(),
            shapes: Vec::new(),
            type_column: None,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn options(&self) -> DecodeOptions {
        self.options
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push_null(&mut self) {
        self.len += 1;
        if let Some(c) = &mut self.type_column {
            c.push_null();
        }
        for column in &mut self.columns {
            column.push_null();
        }
    }

    /// The index of type `type_id` if it was met before.
    #[inline]
    pub fn type_index(&self, type_id: i32) -> Option<usize> {
        self.types.iter().position(|(id, _)| *id == type_id)
    }

    /// Takes a type not met before, described by `describe`, and returns its index. Its fields
    /// all get columns (so that batches keep one structure), and the selection must name only
    /// fields it has. Outside union mode a second type is a schema error.
    pub fn add_type(
        &mut self,
        type_id: i32,
        describe: impl FnOnce() -> Result<StructType>,
    ) -> Result<usize> {
        if let (Some((_, first)), false) = (self.types.first(), self.union) {
            let other = describe()
                .map(|t| t.name)
                .unwrap_or_else(|_| type_id.to_string());
            return Err(Error::Schema(format!(
                "column '{}' holds objects of two types, {first} and {other}; select one with value_type=, or read them all with value_type=\"*\"",
                self.path
            )));
        }
        let t = describe()?;
        if !self.union {
            self.check_selection(&t)?;
        }
        for field in &t.fields {
            if !self.field_ids.contains(&field.id) {
                self.add_field(field);
            }
        }
        self.types.push((type_id, t.name));
        Ok(self.types.len() - 1)
    }

    /// Every selected name must be a field of the type (checked once, on the first object).
    fn check_selection(&self, t: &StructType) -> Result<()> {
        let Some(selection) = &self.selection else {
            return Ok(());
        };
        for name in selection.names() {
            if !t
                .fields
                .iter()
                .any(|f| f.name == *name || f.name.eq_ignore_ascii_case(name))
            {
                let mut known: Vec<&str> = t.fields.iter().map(|f| f.name.as_str()).collect();
                known.sort_unstable();
                return Err(Error::InvalidArgument(format!(
                    "objects in '{}' (type {}) have no field '{name}'; their fields are: {}",
                    self.path,
                    t.name,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// How many field columns the builder has (selected fields only).
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// The rows a new column reserves room for.
    pub fn rows_hint(&self) -> usize {
        self.rows_hint
    }

    /// The column of field `field_id`, if it has one.
    pub fn field_column(&self, field_id: i32) -> Option<usize> {
        self.field_ids.iter().position(|&id| id == field_id)
    }

    /// Adds a column for `field` if it is selected; returns its index, or [`SKIP`].
    pub fn add_field(&mut self, field: &FieldDecl) -> usize {
        let sub_selection = match &self.selection {
            None => None,
            Some(selection) => match selection.lookup(&field.name) {
                Some(sub) => sub,
                None => return SKIP,
            },
        };
        let path = format!("{}.{}", self.path, field.name);
        let column =
            ColumnBuilder::with_nulls(path, field.declared, self.len, self.rows_hint, self.options)
                .select(sub_selection);
        self.field_ids.push(field.id);
        self.field_names.push(field.name.clone());
        self.columns.push(column);
        self.columns.len() - 1
    }

    /// The index of the shape named `key` if it was added before.
    #[inline]
    pub fn shape(&self, key: (i32, i32)) -> Option<usize> {
        self.shapes.iter().position(|(k, _)| *k == key)
    }

    /// Adds the shape named `key`: the column of each of a row's values, or [`SKIP`].
    pub fn add_shape(&mut self, key: (i32, i32), columns: Vec<usize>) -> usize {
        self.shapes.push((key, columns));
        self.shapes.len() - 1
    }

    /// How many values a row of `shape` has.
    #[inline]
    pub fn shape_len(&self, shape: usize) -> usize {
        self.shapes[shape].1.len()
    }

    /// Starts a row of type `type_index` in `shape`: returns the shape's column indices and the
    /// columns, for the row's values to be pushed; [`Self::end_row`] completes it.
    #[inline]
    pub fn begin_row(
        &mut self,
        type_index: usize,
        shape: usize,
    ) -> (&[usize], &mut [ColumnBuilder]) {
        if self.union {
            let len = self.len;
            let column = self.type_column.get_or_insert_with(|| {
                ColumnBuilder::with_nulls(
                    format!("{}._type", self.path),
                    None,
                    len,
                    0,
                    DecodeOptions::default(),
                )
            });
            column.push_text(self.types[type_index].1.as_bytes());
        }
        (&self.shapes[shape].1, &mut self.columns)
    }

    /// Completes a row: fields it had no value for are null in it.
    #[inline]
    pub fn end_row(&mut self) {
        self.len += 1;
        for column in &mut self.columns {
            if column.len() < self.len {
                column.push_null();
            }
        }
    }

    pub(crate) fn finish(self, own_validity: Option<&[u8]>) -> Result<Column> {
        let len = self.len;
        let type_name = self
            .types
            .iter()
            .map(|(_, name)| name.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let mut fields: Vec<(String, Column)> = self
            .field_names
            .into_iter()
            .zip(self.columns)
            .map(|(name, column)| Ok((name, column.finish(own_validity)?)))
            .collect::<Result<_>>()?;
        if let Some(c) = self.type_column {
            fields.push(("_type".to_string(), c.finish(own_validity)?));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Column::Struct {
            type_name,
            fields,
            len,
        })
    }
}
