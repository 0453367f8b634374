//! Decoding values straight into typed column buffers. A column's kind is fixed by the first value
//! it sees (or by the type metadata when it sees only nulls); objects become struct columns whose
//! fields are found through the footer and the schema, never by position; arrays, collections and
//! maps become list columns (offsets plus a child column of any kind).

use std::collections::HashMap;
use std::sync::Arc;

pub use crate::kinds::{PrimKind, ScalarKind};
use crate::format::decimal as dec;
use crate::format::object::ObjectLayout;
use crate::format::values::{self as binary, MAX_DEPTH};
use crate::buffer::AlignedBuf;
use crate::error::{Error, Result};
use crate::format::metadata::{BinaryType, TypeResolver};
use crate::protocol::{type_code as tc, type_code_name};
use crate::net::wire::Reader;

/// How values that have more than one sensible form are decoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Decimals as exact strings instead of the nearest float64.
    pub decimal_as_string: bool,
}

/// Which fields of an object column to decode: each selected name with the selection of its own
/// fields (`None`: all of them). Unselected fields are skipped without being decoded.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    fields: HashMap<String, Option<Arc<Selection>>>,
}

impl Selection {
    /// From dotted paths: `["label", "metadata.width"]`.
    pub fn from_paths<S: AsRef<str>>(paths: &[S]) -> Result<Selection> {
        let mut root = Selection::default();
        for path in paths {
            let path = path.as_ref();
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(Error::InvalidArgument(format!("'{path}' is not a field path (names joined by '.')")));
            }
            root.insert(path.split('.').collect::<Vec<_>>().as_slice());
        }
        Ok(root)
    }

    fn insert(&mut self, parts: &[&str]) {
        let (first, rest) = parts.split_first().expect("non-empty path");
        if rest.is_empty() {
            self.fields.insert(first.to_string(), None); // the whole field
            return;
        }
        let entry = self.fields.entry(first.to_string()).or_insert_with(|| Some(Arc::new(Selection::default())));
        if let Some(sub) = entry {
            Arc::make_mut(sub).insert(rest);
        }
    }

    /// `Some(sub-selection)` when `name` is selected (exactly, or else ignoring case).
    fn lookup(&self, name: &str) -> Option<Option<Arc<Selection>>> {
        if let Some(sub) = self.fields.get(name) {
            return Some(sub.clone());
        }
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    fn names(&self) -> impl Iterator<Item = &String> {
        self.fields.keys()
    }
}

fn scalar_accepts(kind: ScalarKind, code: u8) -> bool {
    match kind {
        ScalarKind::Prim(k) => code == k.code(),
        ScalarKind::Enum { .. } => code == tc::ENUM || code == tc::BINARY_ENUM,
        _ => ScalarKind::from_code(code) == Some(kind),
    }
}

/// Type codes whose values are a count of full values: lists of any element kind.
fn is_list_code(code: u8) -> bool {
    matches!(
        code,
        tc::STRING_ARR | tc::UUID_ARR | tc::DATE_ARR | tc::DECIMAL_ARR | tc::TIMESTAMP_ARR | tc::TIME_ARR
            | tc::OBJ_ARR | tc::ENUM_ARR | tc::COLLECTION
    )
}

/// Appends one primitive value (`bytes` is `kind.size()` long) with a store of its size rather
/// than a call to memcpy; a bool byte becomes 0 or 1.
#[inline]
fn push_prim(values: &mut AlignedBuf, kind: PrimKind, bytes: &[u8]) {
    if kind == PrimKind::Bool {
        return copy_elements(values, kind, bytes);
    }
    match bytes.len() {
        8 => values.extend_from_array::<8>(bytes.try_into().expect("length matched")),
        4 => values.extend_from_array::<4>(bytes.try_into().expect("length matched")),
        2 => values.extend_from_array::<2>(bytes.try_into().expect("length matched")),
        _ => values.extend_from_slice(bytes),
    }
}

/// Copies primitive elements into `out`, turning any non-zero bool byte into 1 so that the
/// buffer is a valid numpy bool array.
#[inline]
fn copy_elements(out: &mut AlignedBuf, kind: PrimKind, bytes: &[u8]) {
    if kind == PrimKind::Bool {
        out.reserve(bytes.len());
        for &b in bytes {
            out.push_u8((b != 0) as u8);
        }
    } else {
        out.extend_from_slice(bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Finished columns: what a batch hands to the bindings.

/// A decoded column. `validity` (one byte per row, 1 = present) is `None` when nothing is null.
#[derive(Debug)]
pub enum Column {
    /// Only nulls were seen and no type is known.
    Null { len: usize },
    Scalar { kind: ScalarKind, values: AlignedBuf, len: usize, validity: Option<AlignedBuf> },
    /// Primitive arrays that all have `width` elements: a row-major 2-D buffer.
    FixedArray { kind: PrimKind, values: AlignedBuf, len: usize, width: usize, validity: Option<AlignedBuf> },
    /// Primitive arrays of varying length: values plus `len + 1` i64 offsets (in elements).
    VarArray { kind: PrimKind, values: AlignedBuf, offsets: AlignedBuf, len: usize, validity: Option<AlignedBuf> },
    /// UTF-8 strings (or exact decimals) padded with zero bytes to a common `width` (numpy
    /// `S<width>`), at least 1.
    Strings { values: AlignedBuf, width: usize, len: usize, validity: Option<AlignedBuf>, decimal: bool },
    /// Arrays of objects or strings, collections: `len + 1` i64 offsets into the child column.
    List { offsets: AlignedBuf, child: Box<Column>, len: usize, validity: Option<AlignedBuf> },
    /// Maps: `len + 1` i64 offsets into the key and value columns.
    Map { offsets: AlignedBuf, keys: Box<Column>, values: Box<Column>, len: usize, validity: Option<AlignedBuf> },
    /// An object: its fields sorted by name. A null object makes every field null in that row.
    Struct { type_name: String, fields: Vec<(String, Column)>, len: usize },
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Null { len }
            | Column::Scalar { len, .. }
            | Column::FixedArray { len, .. }
            | Column::VarArray { len, .. }
            | Column::Strings { len, .. }
            | Column::List { len, .. }
            | Column::Map { len, .. }
            | Column::Struct { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Builders.

enum Data {
    /// No value seen yet: only nulls so far.
    Unknown,
    Scalar { kind: ScalarKind, values: AlignedBuf },
    /// `code` is STRING, or DECIMAL when decimals are read as exact strings.
    Str { code: u8, bytes: Vec<u8>, offsets: Vec<usize> },
    Array { kind: PrimKind, values: AlignedBuf, offsets: AlignedBuf },
    List { code: u8, offsets: AlignedBuf, child: Box<ColumnBuilder> },
    Map { offsets: AlignedBuf, keys: Box<ColumnBuilder>, values: Box<ColumnBuilder> },
    Struct(Box<StructBuilder>),
}

pub struct ColumnBuilder {
    path: String,
    /// Rows this batch is expected to hold: buffers are sized from it when the first value shows
    /// the element size, instead of growing by doubling (an aligned realloc copies).
    rows_hint: usize,
    options: DecodeOptions,
    len: usize,
    validity: AlignedBuf,
    null_count: usize,
    /// Type code from binary metadata, used to type a column that holds only nulls.
    declared: Option<u8>,
    /// For object columns: the fields to decode.
    selection: Option<Arc<Selection>>,
    /// For object columns: accept objects of several types.
    union: bool,
    data: Data,
}

fn zero_offsets(rows: usize, capacity_rows: usize) -> AlignedBuf {
    let mut offsets = AlignedBuf::with_capacity(8 * (capacity_rows + 1));
    offsets.extend_zeros(8 * (rows + 1));
    offsets
}

fn last_offset(offsets: &AlignedBuf) -> i64 {
    offsets.i64_at(offsets.len() / 8 - 1)
}

impl ColumnBuilder {
    pub fn new(path: impl Into<String>) -> Self {
        Self::with_options(path, 0, DecodeOptions::default())
    }

    pub fn with_rows_hint(path: impl Into<String>, rows_hint: usize) -> Self {
        Self::with_options(path, rows_hint, DecodeOptions::default())
    }

    pub fn with_options(path: impl Into<String>, rows_hint: usize, options: DecodeOptions) -> Self {
        ColumnBuilder {
            path: path.into(),
            rows_hint,
            options,
            len: 0,
            validity: AlignedBuf::new(),
            null_count: 0,
            declared: None,
            selection: None,
            union: false,
            data: Data::Unknown,
        }
    }

    /// Appends a string that did not come from the wire (such as a type name).
    fn push_text(&mut self, text: &[u8]) {
        if matches!(self.data, Data::Unknown) {
            self.start_kind(tc::STRING).expect("strings are supported");
        }
        if let Data::Str { bytes, offsets, .. } = &mut self.data {
            bytes.extend_from_slice(text);
            offsets.push(bytes.len());
            self.validity.push_u8(1);
            self.len += 1;
        }
    }

    /// Read objects of every type into this column, merging their fields (see [`StructBuilder`]).
    pub fn union_of_types(mut self, union: bool) -> Self {
        self.union = union;
        self
    }

    /// Decode only the selected fields of the objects in this column.
    pub fn select(mut self, selection: Option<Arc<Selection>>) -> Self {
        self.selection = selection;
        self
    }

    fn child(&self, suffix: &str) -> Box<ColumnBuilder> {
        Box::new(ColumnBuilder::with_options(format!("{}{suffix}", self.path), self.rows_hint, self.options))
    }

    fn with_nulls(path: String, declared: Option<u8>, nulls: usize, rows_hint: usize, options: DecodeOptions) -> Self {
        let mut c = ColumnBuilder::with_options(path, rows_hint, options);
        c.validity.reserve(rows_hint);
        c.declared = declared;
        for _ in 0..nulls {
            c.push_null();
        }
        c
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_null(&mut self) {
        self.len += 1;
        self.null_count += 1;
        self.validity.push_u8(0);
        match &mut self.data {
            Data::Unknown => {}
            Data::Scalar { kind, values } => values.extend_zeros(kind.size()),
            Data::Str { bytes, offsets, .. } => offsets.push(bytes.len()),
            Data::Array { kind, values, offsets } => offsets.push_i64((values.len() / kind.size()) as i64),
            Data::List { offsets, .. } | Data::Map { offsets, .. } => {
                let last = last_offset(offsets);
                offsets.push_i64(last);
            }
            Data::Struct(s) => s.push_null(),
        }
    }

    /// Gives an `Unknown` column the kind of `code`, back-filling the nulls seen so far.
    fn start_kind(&mut self, code: u8) -> Result<()> {
        if self.selection.is_some() && code != tc::OBJECT {
            return Err(Error::InvalidArgument(format!(
                "fields can only be selected from objects, and column '{}' holds {} values",
                self.path,
                type_code_name(code)
            )));
        }
        let rows = self.len;
        let expected_rows = self.rows_hint.max(rows + 64);
        self.data = if let Some(kind) = ScalarKind::from_code(code).filter(|_| !(code == tc::DECIMAL && self.options.decimal_as_string)) {
            let mut values = AlignedBuf::with_capacity(kind.size() * expected_rows);
            values.extend_zeros(kind.size() * rows);
            Data::Scalar { kind, values }
        } else if let Some(kind) = PrimKind::from_array_code(code) {
            Data::Array { kind, values: AlignedBuf::new(), offsets: zero_offsets(rows, expected_rows) }
        } else if code == tc::STRING || code == tc::DECIMAL {
            Data::Str { code, bytes: Vec::new(), offsets: vec![0; rows + 1] }
        } else if is_list_code(code) {
            Data::List { code, offsets: zero_offsets(rows, expected_rows), child: self.child("[]") }
        } else if code == tc::MAP {
            Data::Map { offsets: zero_offsets(rows, expected_rows), keys: self.child(".key"), values: self.child(".value") }
        } else if code == tc::OBJECT {
            let mut s = StructBuilder::new(self.path.clone(), rows, self.rows_hint, self.options);
            s.selection = self.selection.clone();
            s.union = self.union;
            Data::Struct(Box::new(s))
        } else {
            return Err(self.unsupported(code));
        };
        Ok(())
    }

    fn unsupported(&self, code: u8) -> Error {
        Error::UnsupportedType(format!(
            "column '{}' holds {} values (type code {code}), which ignite_fast does not decode",
            self.path,
            type_code_name(code)
        ))
    }

    fn conflict(&self, expected: &str, got: u8) -> Error {
        Error::Schema(format!(
            "column '{}' holds both {expected} and {} values; read one type at a time",
            self.path,
            type_code_name(got)
        ))
    }

    /// Decodes the value at `pos` into this column and returns the position just past it.
    /// Appends a primitive scalar of this column's own kind (a double field's double, say)
    /// without the general path's checks and dispatch; `None` (nothing appended) for anything
    /// else, which the caller hands to [`ColumnBuilder::push_value`]. Object fields take this way
    /// for nearly every value of a table of numbers.
    #[inline]
    fn push_own_scalar(&mut self, buf: &[u8], pos: usize) -> Option<()> {
        let Data::Scalar { kind: ScalarKind::Prim(k), values } = &mut self.data else { return None };
        if *buf.get(pos)? != k.code() {
            return None;
        }
        push_prim(values, *k, buf.get(pos + 1..pos + 1 + k.size())?);
        self.validity.push_u8(1);
        self.len += 1;
        Some(())
    }

    pub fn push_value(
        &mut self,
        buf: &[u8],
        pos: usize,
        types: &mut dyn TypeResolver,
        depth: u32,
    ) -> Result<usize> {
        if depth > MAX_DEPTH {
            return Err(Error::protocol(format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        let mut r = Reader::at(buf, pos)?;
        let code = r.u8()?;
        match code {
            tc::NULL => {
                self.push_null();
                return Ok(pos + 1);
            }
            tc::HANDLE => {
                let target = binary::handle_target(buf, pos)?;
                self.push_value(buf, target, types, depth + 1)?;
                return Ok(pos + 5);
            }
            tc::WRAPPED => {
                let inner = binary::wrapped_target(buf, pos)?;
                self.push_value(buf, inner, types, depth + 1)?;
                return binary::value_end(buf, pos, depth);
            }
            _ => {}
        }
        if matches!(self.data, Data::Unknown) {
            self.start_kind(code)?;
        }
        let rows_hint = self.rows_hint;
        let rows = self.len;
        let end = match &mut self.data {
            Data::Scalar { kind, values } => {
                if !scalar_accepts(*kind, code) {
                    let expected = kind.name();
                    return Err(self.conflict(expected, code));
                }
                push_scalar(kind, values, &mut r, &self.path)?;
                r.pos()
            }
            Data::Array { kind, values, offsets } => {
                if code != kind.array_code() {
                    let expected = type_code_name(kind.array_code());
                    return Err(self.conflict(expected, code));
                }
                let n = r.len(kind.size())?;
                if values.is_empty() {
                    // Most array columns hold arrays of one length: size for the whole batch.
                    values.reserve(batch_reservation(n * kind.size(), rows_hint, rows));
                }
                copy_elements(values, *kind, r.take(n * kind.size())?);
                offsets.push_i64((values.len() / kind.size()) as i64);
                r.pos()
            }
            Data::Str { code: str_code, bytes, offsets } => {
                if code != *str_code {
                    let expected = type_code_name(*str_code);
                    return Err(self.conflict(expected, code));
                }
                if code == tc::DECIMAL {
                    bytes.extend_from_slice(dec::read_decimal(&mut r)?.to_decimal_string().as_bytes());
                } else {
                    let n = r.len(1)?;
                    let s = r.take(n)?;
                    if bytes.is_empty() {
                        bytes.reserve(batch_reservation(n, rows_hint, rows));
                    }
                    if std::str::from_utf8(s).is_err() {
                        return Err(Error::protocol(format!("column '{}': a string is not valid UTF-8", self.path)));
                    }
                    bytes.extend_from_slice(s);
                }
                offsets.push(bytes.len());
                r.pos()
            }
            Data::List { code: list_code, offsets, child } => {
                if code != *list_code {
                    let expected = type_code_name(*list_code);
                    return Err(self.conflict(expected, code));
                }
                if code == tc::OBJ_ARR || code == tc::ENUM_ARR {
                    r.i32()?; // element type id; each element carries its own
                }
                let n = r.len(1)?;
                if code == tc::COLLECTION {
                    r.u8()?; // collection kind: ArrayList, HashSet, ... all become lists
                }
                let mut p = r.pos();
                for _ in 0..n {
                    p = child.push_value(buf, p, types, depth + 1)?;
                }
                offsets.push_i64(child.len() as i64);
                p
            }
            Data::Map { offsets, keys, values } => {
                if code != tc::MAP {
                    return Err(self.conflict("map", code));
                }
                let n = r.len(2)?;
                r.u8()?; // map kind: HashMap or LinkedHashMap
                let mut p = r.pos();
                for _ in 0..n {
                    p = keys.push_value(buf, p, types, depth + 1)?;
                    p = values.push_value(buf, p, types, depth + 1)?;
                }
                offsets.push_i64(keys.len() as i64);
                p
            }
            Data::Struct(s) => {
                if code != tc::OBJECT {
                    return Err(self.conflict("object", code));
                }
                s.push_object(buf, pos, types, depth)?
            }
            Data::Unknown => unreachable!("start_kind set the kind"),
        };
        self.validity.push_u8(1);
        self.len += 1;
        Ok(end)
    }

    /// Turns the builder into a column. `parent_validity` makes rows of a null parent object null.
    pub fn finish(self, parent_validity: Option<&[u8]>) -> Column {
        let len = self.len;
        let mut validity = self.validity;
        let mut null_count = self.null_count;
        if let Some(parent) = parent_validity {
            for (v, &p) in validity.as_mut_slice().iter_mut().zip(parent) {
                if *v == 1 && p == 0 {
                    *v = 0;
                    null_count += 1;
                }
            }
        }
        let validity = if null_count > 0 { Some(validity) } else { None };
        match self.data {
            Data::Unknown => match self.declared {
                // Only nulls, but the metadata says what the field holds: a typed, all-null column.
                Some(code) if code != tc::OBJECT && code != tc::NULL => {
                    let mut typed = ColumnBuilder::with_options(self.path, 0, self.options);
                    if typed.start_kind(code).is_err() {
                        return Column::Null { len };
                    }
                    for _ in 0..len {
                        typed.push_null();
                    }
                    typed.finish(None)
                }
                _ => Column::Null { len },
            },
            Data::Scalar { kind, values } => Column::Scalar { kind, values, len, validity },
            Data::Array { kind, values, offsets } => finish_array(kind, values, offsets, len, validity),
            Data::Str { code, bytes, offsets } => finish_strings(&bytes, &offsets, len, validity, code == tc::DECIMAL),
            Data::List { offsets, child, .. } => Column::List { offsets, child: Box::new(child.finish(None)), len, validity },
            Data::Map { offsets, keys, values } => Column::Map {
                offsets,
                keys: Box::new(keys.finish(None)),
                values: Box::new(values.finish(None)),
                len,
                validity,
            },
            Data::Struct(s) => s.finish(validity.as_ref().map(|v| v.as_slice())),
        }
    }
}

/// Decodes one scalar (after its type code) into the column's buffer.
#[inline]
fn push_scalar(kind: &mut ScalarKind, values: &mut AlignedBuf, r: &mut Reader<'_>, path: &str) -> Result<()> {
    match kind {
        ScalarKind::Prim(k) => push_prim(values, *k, r.take(k.size())?),
        ScalarKind::Uuid => values.extend_from_slice(&r.uuid()?),
        ScalarKind::Date | ScalarKind::Time => values.extend_from_slice(&r.i64()?.to_le_bytes()),
        ScalarKind::Timestamp => values.extend_from_slice(&binary::read_timestamp_nanos(r)?.to_le_bytes()),
        ScalarKind::Decimal => values.extend_from_slice(&dec::read_decimal(r)?.to_f64().to_le_bytes()),
        ScalarKind::Enum { type_id } => {
            let value_type = r.i32()?;
            let ordinal = r.i32()?;
            if *type_id == 0 {
                *type_id = value_type;
            } else if *type_id != value_type {
                return Err(Error::Schema(format!(
                    "column '{path}' holds values of two enum types ({type_id} and {value_type})"
                )));
            }
            values.extend_from_slice(&ordinal.to_le_bytes());
        }
    }
    Ok(())
}

/// Bytes to reserve for a variable-size column on its first value: that value's size for every
/// row still expected, capped so that an odd first value cannot reserve without bound.
fn batch_reservation(first_value_bytes: usize, rows_hint: usize, rows_so_far: usize) -> usize {
    const MAX_RESERVATION: usize = 256 << 20;
    first_value_bytes
        .saturating_mul(rows_hint.saturating_sub(rows_so_far).max(1))
        .min(MAX_RESERVATION)
}

fn finish_array(kind: PrimKind, values: AlignedBuf, offsets: AlignedBuf, len: usize, validity: Option<AlignedBuf>) -> Column {
    // Null rows have no elements, so they would break a 2-D layout unless every row is empty.
    let width = if len > 0 { offsets.i64_at(1) - offsets.i64_at(0) } else { 0 };
    let uniform = (0..len).all(|i| offsets.i64_at(i + 1) - offsets.i64_at(i) == width);
    let null_rows_filled = validity.is_none() || width == 0;
    if uniform && null_rows_filled && len > 0 {
        return Column::FixedArray { kind, values, len, width: width as usize, validity };
    }
    Column::VarArray { kind, values, offsets, len, validity }
}

fn finish_strings(bytes: &[u8], offsets: &[usize], len: usize, validity: Option<AlignedBuf>, decimal: bool) -> Column {
    let width = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0).max(1);
    let mut values = AlignedBuf::with_capacity(width * len);
    for w in offsets.windows(2) {
        values.extend_from_slice(&bytes[w[0]..w[1]]);
        values.extend_zeros(width - (w[1] - w[0]));
    }
    Column::Strings { values, width, len, validity, decimal }
}

/// Marks a footer entry whose field is not selected.
const SKIP: usize = usize::MAX;

struct FieldColumn {
    id: i32,
    name: String,
    column: ColumnBuilder,
}

/// Builds the columns of one object type (or, as a union, of every type it meets).
pub struct StructBuilder {
    path: String,
    rows_hint: usize,
    options: DecodeOptions,
    selection: Option<Arc<Selection>>,
    /// Accept objects of several types: their fields merge by name (a field id is the hash of
    /// its name), and a `_type` column names each row's type.
    union: bool,
    len: usize,
    /// The types met so far, by id, in the order met.
    types_seen: Vec<Arc<BinaryType>>,
    fields: Vec<FieldColumn>,
    /// (type id, schema id) -> index into `fields` for each footer entry. A column meets one
    /// or a few schemas, so a list searched from the start beats hashing the key for every row.
    layouts: Vec<((i32, i32), Vec<usize>)>,
    type_column: Option<ColumnBuilder>,
}

impl StructBuilder {
    fn new(path: String, nulls: usize, rows_hint: usize, options: DecodeOptions) -> Self {
        StructBuilder {
            path,
            rows_hint,
            options,
            selection: None,
            union: false,
            len: nulls,
            types_seen: Vec::new(),
            fields: Vec::new(),
            layouts: Vec::new(),
            type_column: None,
        }
    }

    fn push_null(&mut self) {
        self.len += 1;
        if let Some(c) = &mut self.type_column {
            c.push_null();
        }
        for f in &mut self.fields {
            f.column.push_null();
        }
    }

    /// The column of field `field_id`, or [`SKIP`] when the field is not selected.
    fn field_index(&mut self, t: &mut Arc<BinaryType>, field_id: i32, types: &mut dyn TypeResolver) -> Result<usize> {
        if let Some(i) = self.fields.iter().position(|f| f.id == field_id) {
            return Ok(i);
        }
        if t.field(field_id).is_none() {
            // A field added after we cached the type.
            *t = self.refresh(t.type_id, types)?;
        }
        let meta = match t.field(field_id) {
            Some(m) => m.clone(),
            None => {
                return Err(Error::Schema(format!(
                    "object '{}' of type {} has field id {field_id}, which its metadata does not name",
                    self.path, t.name
                )))
            }
        };
        if !self.add_field(meta.field_id, &meta.name, Some(meta.type_code)) {
            return Ok(SKIP);
        }
        Ok(self.fields.len() - 1)
    }

    /// Adds a column for a field if it is selected; returns whether it did.
    fn add_field(&mut self, id: i32, name: &str, declared: Option<u8>) -> bool {
        let sub_selection = match &self.selection {
            None => None,
            Some(selection) => match selection.lookup(name) {
                Some(sub) => sub,
                None => return false,
            },
        };
        let path = format!("{}.{}", self.path, name);
        self.fields.push(FieldColumn {
            id,
            name: name.to_string(),
            column: ColumnBuilder::with_nulls(path, declared, self.len, self.rows_hint, self.options).select(sub_selection),
        });
        true
    }

    /// Every selected name must be a field of the type (checked once, on the first object).
    fn check_selection(&self, t: &BinaryType) -> Result<()> {
        let Some(selection) = &self.selection else { return Ok(()) };
        for name in selection.names() {
            if !t.fields.iter().any(|f| f.name == *name || f.name.eq_ignore_ascii_case(name)) {
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

    fn refresh(&mut self, type_id: i32, types: &mut dyn TypeResolver) -> Result<Arc<BinaryType>> {
        let t = types.refresh(type_id)?;
        if let Some(slot) = self.types_seen.iter_mut().find(|s| s.type_id == type_id) {
            *slot = t.clone();
        }
        Ok(t)
    }

    fn schema_layout(&mut self, mut t: Arc<BinaryType>, layout: &ObjectLayout, buf: &[u8], types: &mut dyn TypeResolver) -> Result<Vec<usize>> {
        let ids: Vec<i32> = if layout.is_compact() {
            if !t.schemas.contains_key(&layout.schema_id) {
                // A schema registered after we cached the type: ask once more.
                t = self.refresh(t.type_id, types)?;
            }
            t.schemas.get(&layout.schema_id).cloned().ok_or_else(|| {
                Error::Schema(format!(
                    "object '{}' of type {} uses schema {}, which the server's metadata does not list",
                    self.path, t.name, layout.schema_id
                ))
            })?
        } else {
            (0..layout.field_count()).map(|i| layout.footer_field_id(buf, i)).collect::<Result<_>>()?
        };
        if ids.len() != layout.field_count() {
            return Err(Error::protocol(format!(
                "object '{}': schema {} names {} fields but the footer has {}",
                self.path,
                layout.schema_id,
                ids.len(),
                layout.field_count()
            )));
        }
        ids.into_iter().map(|id| self.field_index(&mut t, id, types)).collect()
    }

    /// The type of an object, met before or new: a new type adds its fields (all of them, so
    /// that batches keep one structure), or is an error outside union mode.
    /// The type of an object met in this column (its index in `types_seen`), asked for and
    /// checked against the selection the first time.
    fn object_type(&mut self, type_id: i32, types: &mut dyn TypeResolver) -> Result<usize> {
        if let Some(seen) = self.types_seen.iter().position(|t| t.type_id == type_id) {
            return Ok(seen);
        }
        if let (Some(first), false) = (self.types_seen.first(), self.union) {
            let other = types.binary_type(type_id).map(|o| o.name.clone()).unwrap_or_else(|_| type_id.to_string());
            return Err(Error::Schema(format!(
                "column '{}' holds objects of two types, {} and {}; select one with value_type=, or read them all with value_type=\"*\"",
                self.path, first.name, other
            )));
        }
        let t = types.binary_type(type_id)?;
        if !self.union {
            self.check_selection(&t)?;
        }
        for f in &t.fields {
            if !self.fields.iter().any(|c| c.id == f.field_id) {
                self.add_field(f.field_id, &f.name, Some(f.type_code));
            }
        }
        self.types_seen.push(t);
        Ok(self.types_seen.len() - 1)
    }

    fn push_object(&mut self, buf: &[u8], pos: usize, types: &mut dyn TypeResolver, depth: u32) -> Result<usize> {
        let layout = ObjectLayout::parse(buf, pos)?;
        let seen = self.object_type(layout.type_id, types)?;
        let layout_key = (layout.type_id, layout.schema_id);
        let slot = match self.layouts.iter().position(|(key, _)| *key == layout_key) {
            Some(slot) => slot,
            None => {
                let indices = self.schema_layout(self.types_seen[seen].clone(), &layout, buf, types)?;
                self.layouts.push((layout_key, indices));
                self.layouts.len() - 1
            }
        };
        if self.union {
            let len = self.len;
            let column = self.type_column.get_or_insert_with(|| {
                ColumnBuilder::with_nulls(format!("{}._type", self.path), None, len, 0, DecodeOptions::default())
            });
            column.push_text(self.types_seen[seen].name.as_bytes());
        }
        let indices = &self.layouts[slot].1;
        if indices.len() != layout.field_count() {
            return Err(Error::protocol(format!(
                "object '{}': {} footer entries where schema {} has {}",
                self.path,
                layout.field_count(),
                layout.schema_id,
                indices.len()
            )));
        }
        for (i, &idx) in indices.iter().enumerate() {
            if idx == SKIP {
                continue; // not selected: never decoded
            }
            let p = layout.field_position(buf, i)?;
            let column = &mut self.fields[idx].column;
            if column.push_own_scalar(buf, p).is_none() {
                column.push_value(buf, p, types, depth + 1)?;
            }
        }
        self.len += 1;
        for f in &mut self.fields {
            if f.column.len < self.len {
                f.column.push_null();
            }
        }
        Ok(layout.end())
    }

    fn finish(self, own_validity: Option<&[u8]>) -> Column {
        let len = self.len;
        let type_name = self.types_seen.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(" | ");
        let mut fields: Vec<(String, Column)> = self
            .fields
            .into_iter()
            .map(|f| (f.name, f.column.finish(own_validity)))
            .collect();
        if let Some(c) = self.type_column {
            fields.push(("_type".to_string(), c.finish(own_validity)));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Column::Struct { type_name, fields, len }
    }
}

