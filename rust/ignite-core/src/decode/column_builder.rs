//! One column being built from the values a source reader hands it, row by row. The builder
//! knows kinds ([`ValueKind`]) and buffers, never a wire format: a column's kind is fixed by its
//! first value (or by the kind declared for it when it sees only nulls) and every later value must
//! be of that kind. How a source drives it is told in [`crate::decode`].

use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::decode::buffer::AlignedBuf;
use crate::decode::column::Column;
use crate::decode::selection::Selection;
use crate::decode::struct_builder::StructBuilder;
use crate::decode::value_kind::ValueKind;
use crate::error::{Error, Result};
use crate::kinds::{PrimKind, ScalarKind};

/// How values that have more than one sensible form are decoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Decimals as exact strings instead of the nearest float64.
    pub decimal_as_string: bool,
}

/// The column's storage, by kind.
enum Data {
    /// No value seen yet: only nulls so far.
    Unknown,
    Scalar {
        kind: ScalarKind,
        values: AlignedBuf,
    },
    /// UTF-8 text, or exact decimals as text (`decimal`), in Arrow's layout: the values' bytes
    /// one after another, and where each row ends. The bytes from `checked` on are not yet
    /// known to be UTF-8 (see [`TextSlot::push`]).
    Text {
        decimal: bool,
        data: AlignedBuf,
        offsets: TextOffsets,
        checked: usize,
    },
    Array {
        kind: PrimKind,
        values: AlignedBuf,
        offsets: AlignedBuf,
    },
    List {
        name: &'static str,
        offsets: AlignedBuf,
        child: Box<ColumnBuilder>,
    },
    Map {
        offsets: AlignedBuf,
        keys: Box<ColumnBuilder>,
        values: Box<ColumnBuilder>,
    },
    Struct(Box<StructBuilder>),
}

impl Data {
    fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            Data::Unknown => return None,
            Data::Scalar { kind, .. } => ValueKind::Scalar(*kind),
            Data::Text { decimal: false, .. } => ValueKind::Text,
            Data::Text { decimal: true, .. } => ValueKind::DecimalText,
            Data::Array { kind, .. } => ValueKind::PrimArray(*kind),
            Data::List { name, .. } => ValueKind::List(name),
            Data::Map { .. } => ValueKind::Map,
            Data::Struct(_) => ValueKind::Struct,
        })
    }
}

pub struct ColumnBuilder {
    path: String,
    /// Rows this batch is expected to hold: buffers are sized from it when the first value shows
    /// the element size, instead of growing by doubling (an aligned realloc copies).
    rows_hint: usize,
    options: DecodeOptions,
    len: usize,
    validity: Validity,
    /// What the column holds by its declaration (binary metadata, an SQL column type), used to
    /// type a column that sees only nulls.
    declared: Option<ValueKind>,
    /// For object columns: the fields to decode.
    selection: Option<Arc<Selection>>,
    /// For object columns: accept objects of several types.
    union: bool,
    data: Data,
}

/// A column of primitives of one kind, ready for a value of that kind: the decoder's short path
/// (see [`ColumnBuilder::prim_slot`]).
pub struct PrimSlot<'a> {
    kind: PrimKind,
    values: &'a mut AlignedBuf,
    validity: &'a mut Validity,
    len: &'a mut usize,
}

impl PrimSlot<'_> {
    #[inline(always)]
    pub fn kind(&self) -> PrimKind {
        self.kind
    }

    /// Appends one value: its `kind().size()` little-endian bytes.
    #[inline(always)]
    pub fn push(self, value: &[u8]) {
        push_prim(self.values, self.kind, value);
        self.validity.push_present();
        *self.len += 1;
    }
}

/// A column of strings, ready for a string: the decoder's short path for text (see
/// [`ColumnBuilder::text_slot`]).
pub struct TextSlot<'a> {
    path: &'a str,
    rows_hint: usize,
    data: &'a mut AlignedBuf,
    offsets: &'a mut TextOffsets,
    checked: &'a mut usize,
    validity: &'a mut Validity,
    len: &'a mut usize,
}

impl TextSlot<'_> {
    /// Appends one string; bytes that are not UTF-8 are a protocol error, raised here or by a
    /// later push or [`ColumnBuilder::finish`]. Strings are checked many at a time: a check
    /// costs about as much for one string of tens of bytes as for thousands of them. The bytes
    /// of strings that each begin a character (not with a continuation byte) are UTF-8 as a
    /// whole exactly when each string is (characters never straddle two strings then).
    #[inline(always)]
    pub fn push(self, utf8: &[u8]) -> Result<()> {
        if self.data.is_empty() {
            self.data
                .reserve(batch_reservation(utf8.len(), self.rows_hint, *self.len));
        }
        if utf8.first().is_some_and(|&b| is_continuation(b)) {
            return Err(not_utf8(self.path));
        }
        self.data.extend_from_slice(utf8);
        self.offsets.push(self.data.len());
        self.validity.push_present();
        *self.len += 1;
        if self.data.len() - *self.checked >= CHECK_BYTES {
            check_text(self.path, self.data, self.checked)?;
        }
        Ok(())
    }
}

/// Which rows of a column are present: a byte a row (1 present, 0 null), written only once the
/// column has a null; until then every row is present and nothing is stored (most columns have
/// no null, and a byte a value was a store and a capacity check for every value).
#[derive(Default)]
struct Validity {
    /// A byte for every row once `nulls > 0`, empty before.
    bytes: AlignedBuf,
    nulls: usize,
}

impl Validity {
    #[inline(always)]
    fn push_present(&mut self) {
        if self.nulls > 0 {
            self.bytes.push_u8(1);
        }
    }

    /// A null after `rows` rows; the first one writes the bytes of the rows before it, with
    /// room for `rows_hint` rows.
    fn push_null(&mut self, rows: usize, rows_hint: usize) {
        if self.nulls == 0 {
            self.bytes.reserve(rows_hint.max(rows + 1));
            self.bytes.extend_ones(rows);
        }
        self.bytes.push_u8(0);
        self.nulls += 1;
    }

    /// The bytes of `rows` rows with the rows that `parent` says are null (0) made null too;
    /// `None` when every row is present.
    fn finish(mut self, rows: usize, parent: Option<&[u8]>) -> Option<AlignedBuf> {
        if let Some(parent) = parent.filter(|p| p.iter().take(rows).any(|&b| b == 0)) {
            if self.nulls == 0 {
                self.bytes.extend_ones(rows);
            }
            for (v, &p) in self.bytes.as_mut_slice().iter_mut().zip(parent) {
                if *v == 1 && p == 0 {
                    *v = 0;
                    self.nulls += 1;
                }
            }
        }
        (self.nulls > 0).then_some(self.bytes)
    }
}

/// Bytes of strings checked at once: enough that the check's fixed cost is lost in them, few
/// enough that they are still in the cache when checked.
const CHECK_BYTES: usize = 16 << 10;

#[inline(always)]
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Checks the strings after `checked` in `data` (see [`TextSlot::push`]); all are checked after.
fn check_text(path: &str, data: &AlignedBuf, checked: &mut usize) -> Result<()> {
    if !is_utf8(&data.as_slice()[*checked..]) {
        return Err(not_utf8(path));
    }
    *checked = data.len();
    Ok(())
}

#[cold]
fn not_utf8(path: &str) -> Error {
    Error::protocol(format!("column '{path}': a string is not valid UTF-8"))
}

/// The offsets of a text column (`rows + 1`, the first 0): i32 as Arrow's `utf8` has them, until
/// the bytes pass `i32::MAX`; then i64 (`large_utf8`), widened once.
struct TextOffsets {
    buf: AlignedBuf,
    large: bool,
}

impl TextOffsets {
    /// Offsets of `rows` empty rows, with room for `capacity_rows`.
    fn empty_rows(rows: usize, capacity_rows: usize) -> Self {
        let mut buf = AlignedBuf::with_capacity(4 * (capacity_rows + 1));
        buf.extend_zeros(4 * (rows + 1));
        TextOffsets { buf, large: false }
    }

    /// Ends a row at byte `end` of the data.
    #[inline(always)]
    fn push(&mut self, end: usize) {
        match i32::try_from(end) {
            Ok(end) if !self.large => self.buf.extend_from_array(&end.to_le_bytes()),
            _ => self.push_large(end),
        }
    }

    #[cold]
    fn push_large(&mut self, end: usize) {
        if !self.large {
            let narrow = std::mem::take(&mut self.buf);
            self.buf = AlignedBuf::with_capacity(2 * narrow.len() + 8);
            for offset in narrow.as_slice().chunks_exact(4) {
                let offset = i32::from_le_bytes(offset.try_into().expect("4 bytes"));
                self.buf.push_i64(offset as i64);
            }
            self.large = true;
        }
        self.buf.push_i64(end as i64);
    }
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
            validity: Validity::default(),
            declared: None,
            selection: None,
            union: false,
            data: Data::Unknown,
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

    /// The kind the column holds by declaration: a column that sees only nulls gets it.
    pub fn declare(mut self, kind: Option<ValueKind>) -> Self {
        self.declared = kind;
        self
    }

    /// A column of `nulls` nulls so far (a field first met after some rows).
    pub(crate) fn with_nulls(
        path: String,
        declared: Option<ValueKind>,
        nulls: usize,
        rows_hint: usize,
        options: DecodeOptions,
    ) -> Self {
        let mut c = ColumnBuilder::with_options(path, rows_hint, options).declare(declared);
        for _ in 0..nulls {
            c.push_null();
        }
        c
    }

    fn child(&self, suffix: &str) -> Box<ColumnBuilder> {
        Box::new(ColumnBuilder::with_options(
            format!("{}{suffix}", self.path),
            self.rows_hint,
            self.options,
        ))
    }

    /// The column's name (dotted for fields of objects), as errors name it.
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

    /// What the column holds; `None` while it has seen only nulls.
    pub fn kind(&self) -> Option<ValueKind> {
        self.data.kind()
    }

    pub fn push_null(&mut self) {
        self.validity.push_null(self.len, self.rows_hint);
        self.len += 1;
        match &mut self.data {
            Data::Unknown => {}
            Data::Scalar { kind, values } => values.extend_zeros(kind.size()),
            Data::Text { data, offsets, .. } => offsets.push(data.len()),
            Data::Array {
                kind,
                values,
                offsets,
            } => offsets.push_i64((values.len() / kind.size()) as i64),
            Data::List { offsets, .. } | Data::Map { offsets, .. } => {
                let last = last_offset(offsets);
                offsets.push_i64(last);
            }
            Data::Struct(s) => s.push_null(),
        }
    }

    /// Readies the column for a value of `kind`: gives a column that has seen only nulls this
    /// kind, or checks that the column holds it. Every `push_*` below checks this too; a source
    /// that must read a value before pushing it calls it first, so that a value of the wrong kind
    /// is named as such rather than by whatever reading it would have gone wrong.
    #[inline(always)]
    pub fn expect(&mut self, kind: ValueKind) -> Result<()> {
        if self.holds(kind) {
            return Ok(());
        }
        self.start_or_conflict(kind)
    }

    /// Whether the column holds values of `kind` already (the check of every value, kept small
    /// enough to inline).
    #[inline(always)]
    fn holds(&self, kind: ValueKind) -> bool {
        match (&self.data, kind) {
            (Data::Scalar { kind: own, .. }, ValueKind::Scalar(k)) => own.holds(k),
            (Data::Text { decimal, .. }, ValueKind::Text) => !*decimal,
            (Data::Text { decimal, .. }, ValueKind::DecimalText) => *decimal,
            (Data::Array { kind: own, .. }, ValueKind::PrimArray(k)) => *own == k,
            // list names are static strings, nearly always the same one
            (Data::List { name, .. }, ValueKind::List(n)) => std::ptr::eq(*name, n) || *name == n,
            (Data::Map { .. }, ValueKind::Map) | (Data::Struct(_), ValueKind::Struct) => true,
            _ => false,
        }
    }

    /// The first value of a column, or a value of the wrong kind.
    #[inline(never)]
    fn start_or_conflict(&mut self, kind: ValueKind) -> Result<()> {
        match self.data.kind() {
            None => self.start(kind),
            Some(own) => Err(self.conflict(own.name(), kind.name())),
        }
    }

    /// Gives an `Unknown` column `kind`, back-filling the nulls seen so far.
    fn start(&mut self, kind: ValueKind) -> Result<()> {
        if self.selection.is_some() && kind != ValueKind::Struct {
            return Err(Error::InvalidArgument(format!(
                "fields can only be selected from objects, and column '{}' holds {} values",
                self.path,
                kind.name()
            )));
        }
        let rows = self.len;
        let expected_rows = self.rows_hint.max(rows + 64);
        self.data = match kind {
            ValueKind::Scalar(kind) => {
                let mut values = AlignedBuf::with_capacity(kind.size() * expected_rows);
                values.extend_zeros(kind.size() * rows);
                Data::Scalar { kind, values }
            }
            ValueKind::PrimArray(kind) => Data::Array {
                kind,
                values: AlignedBuf::new(),
                offsets: zero_offsets(rows, expected_rows),
            },
            ValueKind::Text | ValueKind::DecimalText => Data::Text {
                decimal: kind == ValueKind::DecimalText,
                data: AlignedBuf::new(),
                offsets: TextOffsets::empty_rows(rows, expected_rows),
                checked: 0,
            },
            ValueKind::List(name) => Data::List {
                name,
                offsets: zero_offsets(rows, expected_rows),
                child: self.child("[]"),
            },
            ValueKind::Map => Data::Map {
                offsets: zero_offsets(rows, expected_rows),
                keys: self.child(".key"),
                values: self.child(".value"),
            },
            ValueKind::Struct => Data::Struct(Box::new(StructBuilder::new(
                self.path.clone(),
                rows,
                self.rows_hint,
                self.options,
                self.selection.clone(),
                self.union,
            ))),
        };
        Ok(())
    }

    fn conflict(&self, expected: &str, got: &str) -> Error {
        Error::Schema(format!(
            "column '{}' holds both {expected} and {got} values; read one type at a time",
            self.path
        ))
    }

    /// The error for a value that the source cannot decode (`name` and `code` are the source's
    /// names for its type): the kinds conflict when the column holds something already.
    pub fn unsupported(&self, name: &str, code: u8) -> Error {
        match self.data.kind() {
            Some(own) => self.conflict(own.name(), name),
            None if self.selection.is_some() => Error::InvalidArgument(format!(
                "fields can only be selected from objects, and column '{}' holds {name} values",
                self.path
            )),
            None => Error::UnsupportedType(format!(
                "column '{}' holds {name} values (type code {code}), which ignite_fast does not decode",
                self.path
            )),
        }
    }

    /// The short path for a column of strings (not decimals as text): `None` unless the column
    /// holds them. Text fields take it for nearly every value; the source checks that the value
    /// is a string and hands over its bytes.
    #[inline(always)]
    pub fn text_slot(&mut self) -> Option<TextSlot<'_>> {
        let Data::Text {
            decimal: false,
            data,
            offsets,
            checked,
        } = &mut self.data
        else {
            return None;
        };
        Some(TextSlot {
            path: &self.path,
            rows_hint: self.rows_hint,
            data,
            offsets,
            checked,
            validity: &mut self.validity,
            len: &mut self.len,
        })
    }

    /// Whether the column holds objects already.
    #[inline(always)]
    pub fn holds_structs(&self) -> bool {
        matches!(self.data, Data::Struct(_))
    }

    /// A present value was appended to the column's data.
    #[inline]
    fn mark_present(&mut self) {
        self.validity.push_present();
        self.len += 1;
    }

    /// The short path for a column of primitives of one kind: `None` unless the column holds
    /// them. Object fields take it for nearly every value of a table of numbers; the source
    /// checks that the value is of [`PrimSlot::kind`] and hands over its bytes.
    #[inline(always)]
    pub fn prim_slot(&mut self) -> Option<PrimSlot<'_>> {
        let Data::Scalar {
            kind: ScalarKind::Prim(kind),
            values,
        } = &mut self.data
        else {
            return None;
        };
        Some(PrimSlot {
            kind: *kind,
            values,
            validity: &mut self.validity,
            len: &mut self.len,
        })
    }

    /// Appends a scalar of `kind`: its `kind.size()` bytes as [`ScalarKind`] lays them out
    /// (little-endian numbers; a bool byte becomes 0 or 1). An enum value of another enum type
    /// than the column's is a schema error.
    #[inline(always)]
    pub fn push_scalar(&mut self, kind: ScalarKind, value: &[u8]) -> Result<()> {
        debug_assert_eq!(value.len(), kind.size());
        self.expect(ValueKind::Scalar(kind))?;
        let Data::Scalar { kind: own, values } = &mut self.data else {
            unreachable!("expect set the kind")
        };
        match (own, kind) {
            (ScalarKind::Prim(_), ScalarKind::Prim(k)) => push_prim(values, k, value),
            (
                ScalarKind::Enum { type_id },
                ScalarKind::Enum {
                    type_id: value_type,
                },
            ) => {
                if *type_id == 0 {
                    *type_id = value_type;
                } else if *type_id != value_type {
                    return Err(Error::Schema(format!(
                        "column '{}' holds values of two enum types ({type_id} and {value_type})",
                        self.path
                    )));
                }
                values.extend_from_slice(value);
            }
            _ => values.extend_from_slice(value),
        }
        self.mark_present();
        Ok(())
    }

    /// Appends a string; bytes that are not UTF-8 are a protocol error (see [`TextSlot::push`]).
    #[inline(always)]
    pub fn push_string(&mut self, utf8: &[u8]) -> Result<()> {
        self.expect(ValueKind::Text)?;
        self.text_slot().expect("expect set the kind").push(utf8)
    }

    /// Appends an exact decimal, as text (`-12.30`).
    pub fn push_decimal_string(&mut self, text: &str) -> Result<()> {
        self.expect(ValueKind::DecimalText)?;
        let Data::Text { data, offsets, .. } = &mut self.data else {
            unreachable!("expect set the kind")
        };
        data.extend_from_slice(text.as_bytes());
        offsets.push(data.len());
        self.mark_present();
        Ok(())
    }

    /// Appends an array of primitives of `kind` from its elements' little-endian bytes.
    #[inline(always)]
    pub fn push_prim_array(&mut self, kind: PrimKind, elements: &[u8]) -> Result<()> {
        self.expect(ValueKind::PrimArray(kind))?;
        let rows = self.len;
        let Data::Array {
            values, offsets, ..
        } = &mut self.data
        else {
            unreachable!("expect set the kind")
        };
        if values.is_empty() {
            // Most array columns hold arrays of one length: size for the whole batch.
            values.reserve(batch_reservation(elements.len(), self.rows_hint, rows));
        }
        copy_elements(values, kind, elements);
        offsets.push_i64((values.len() / kind.size()) as i64);
        self.mark_present();
        Ok(())
    }

    /// Appends a list of the list type `name`: `fill` pushes its elements into the column of
    /// every list's elements.
    pub fn push_list<T>(
        &mut self,
        name: &'static str,
        fill: impl FnOnce(&mut ColumnBuilder) -> Result<T>,
    ) -> Result<T> {
        self.expect(ValueKind::List(name))?;
        let Data::List { offsets, child, .. } = &mut self.data else {
            unreachable!("expect set the kind")
        };
        let filled = fill(child)?;
        offsets.push_i64(child.len() as i64);
        self.mark_present();
        Ok(filled)
    }

    /// Appends a map: `fill` pushes its pairs into the columns of every map's keys and values.
    pub fn push_map<T>(
        &mut self,
        fill: impl FnOnce(&mut ColumnBuilder, &mut ColumnBuilder) -> Result<T>,
    ) -> Result<T> {
        self.expect(ValueKind::Map)?;
        let Data::Map {
            offsets,
            keys,
            values,
        } = &mut self.data
        else {
            unreachable!("expect set the kind")
        };
        let filled = fill(keys, values)?;
        offsets.push_i64(keys.len() as i64);
        self.mark_present();
        Ok(filled)
    }

    /// Appends an object: `fill` adds one row to the column's [`StructBuilder`].
    pub fn push_struct<T>(
        &mut self,
        fill: impl FnOnce(&mut StructBuilder) -> Result<T>,
    ) -> Result<T> {
        self.expect(ValueKind::Struct)?;
        let Data::Struct(s) = &mut self.data else {
            unreachable!("expect set the kind")
        };
        let filled = fill(s)?;
        self.mark_present();
        Ok(filled)
    }

    /// Appends a string that did not come from the wire (such as a type name).
    pub(crate) fn push_text(&mut self, text: &[u8]) {
        if matches!(self.data, Data::Unknown) {
            self.start(ValueKind::Text).expect("strings are supported");
        }
        if let Data::Text { data, offsets, .. } = &mut self.data {
            data.extend_from_slice(text);
            offsets.push(data.len());
            self.mark_present();
        }
    }

    /// Turns the builder into a column, or gives the error its last strings hold (see
    /// [`TextSlot::push`]). `parent_validity` makes rows of a null parent object null.
    pub fn finish(mut self, parent_validity: Option<&[u8]>) -> Result<Column> {
        if let Data::Text { data, checked, .. } = &mut self.data {
            check_text(&self.path, data, checked)?;
        }
        let len = self.len;
        let validity = self.validity.finish(len, parent_validity);
        Ok(match self.data {
            Data::Unknown => match self.declared {
                // Only nulls, but the declaration says what the column holds: a typed, all-null column.
                Some(kind) if kind != ValueKind::Struct => {
                    let mut typed = ColumnBuilder::with_options(self.path, 0, self.options);
                    if typed.start(kind).is_err() {
                        return Ok(Column::Null { len });
                    }
                    for _ in 0..len {
                        typed.push_null();
                    }
                    return typed.finish(None);
                }
                _ => Column::Null { len },
            },
            Data::Scalar { kind, values } => Column::Scalar {
                kind,
                values,
                len,
                validity,
            },
            Data::Array {
                kind,
                values,
                offsets,
            } => finish_array(kind, values, offsets, len, validity),
            Data::Text {
                decimal,
                data,
                offsets,
                ..
            } => Column::Strings {
                offsets: offsets.buf,
                large: offsets.large,
                data,
                len,
                validity,
                decimal,
            },
            Data::List { offsets, child, .. } => Column::List {
                offsets,
                child: Box::new(child.finish(None)?),
                len,
                validity,
            },
            Data::Map {
                offsets,
                keys,
                values,
            } => Column::Map {
                offsets,
                keys: Box::new(keys.finish(None)?),
                values: Box::new(values.finish(None)?),
                len,
                validity,
            },
            Data::Struct(s) => s.finish(validity.as_ref().map(|v| v.as_slice()))?,
        })
    }
}

/// Appends one primitive value (`bytes` is `kind.size()` long) with a store of its size rather
/// than a call to memcpy; a bool byte becomes 0 or 1.
#[inline(always)]
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

/// Whether `bytes` are UTF-8, in one pass by SIMD (std's check goes a byte at a time past
/// ASCII). The SIMD check takes 64 bytes at least (shorter input goes to std's): a shorter value
/// is checked padded with zeros (ASCII, so its validity is unchanged; an unfinished sequence at
/// its end stays invalid).
fn is_utf8(bytes: &[u8]) -> bool {
    const SIMD_MIN: usize = 64;
    if bytes.len() >= SIMD_MIN {
        return simdutf8::basic::from_utf8(bytes).is_ok();
    }
    let mut padded = [0u8; SIMD_MIN];
    padded[..bytes.len()].copy_from_slice(bytes);
    simdutf8::basic::from_utf8(&padded).is_ok()
}

/// Bytes to reserve for a variable-size column on its first value: that value's size for every
/// row still expected, capped so that an odd first value cannot reserve without bound.
fn batch_reservation(first_value_bytes: usize, rows_hint: usize, rows_so_far: usize) -> usize {
    const MAX_RESERVATION: usize = 256 << 20;
    first_value_bytes
        .saturating_mul(rows_hint.saturating_sub(rows_so_far).max(1))
        .min(MAX_RESERVATION)
}

fn finish_array(
    kind: PrimKind,
    values: AlignedBuf,
    offsets: AlignedBuf,
    len: usize,
    validity: Option<AlignedBuf>,
) -> Column {
    // Null rows have no elements, so they would break a 2-D layout unless every row is empty.
    let width = if len > 0 {
        offsets.i64_at(1) - offsets.i64_at(0)
    } else {
        0
    };
    let uniform = (0..len).all(|i| offsets.i64_at(i + 1) - offsets.i64_at(i) == width);
    let null_rows_filled = validity.is_none() || width == 0;
    if uniform && null_rows_filled && len > 0 {
        return Column::FixedArray {
            kind,
            values,
            len,
            width: width as usize,
            validity,
        };
    }
    Column::VarArray {
        kind,
        values,
        offsets,
        len,
        validity,
    }
}

/// The width of the longest of the strings that `offsets` (`rows + 1`, as [`Column::Strings`] has
/// them) cut from `data`; an error unless they lie in order within it (they may come from
/// elsewhere than a builder).
pub fn longest_string<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> Result<usize> {
    let Some(first) = offsets.first() else {
        return Err(Error::InvalidArgument(
            "string offsets need at least one entry".into(),
        ));
    };
    let (mut start, mut width) = ((*first).into(), 0);
    if start < 0 {
        return Err(Error::InvalidArgument(format!(
            "a string offset is negative ({start})"
        )));
    }
    for &end in &offsets[1..] {
        let end = end.into();
        if end < start || end as u64 > data.len() as u64 {
            return Err(Error::InvalidArgument(format!(
                "string offsets {start}..{end} do not lie within {} bytes in order",
                data.len()
            )));
        }
        width = width.max((end - start) as usize);
        start = end;
    }
    Ok(width)
}

/// The index of the first of the strings that `offsets` (`rows + 1`) cut from `data` that is not
/// UTF-8, if any; an error unless the offsets lie in order within `data` (see
/// [`longest_string`]). The strings are checked in one pass when they are all UTF-8 (see
/// [`TextSlot::push`]), one by one to find the first that is not.
pub fn first_not_utf8<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> Result<Option<usize>> {
    longest_string(offsets, data)?;
    let at = |i: usize| offsets[i].into() as usize;
    let rows = offsets.len() - 1;
    let begin_characters = (0..rows).all(|i| at(i) == at(i + 1) || !is_continuation(data[at(i)]));
    if begin_characters && is_utf8(&data[at(0)..at(rows)]) {
        return Ok(None);
    }
    Ok((0..rows).find(|&i| !is_utf8(&data[at(i)..at(i + 1)])))
}

/// Whether the strings that `offsets` cut from `data` (offsets that [`longest_string`] accepts)
/// are UTF-8 taken together, from the first one's start to the last one's end. Each of them is
/// UTF-8 exactly when, besides, each begins a character (see [`begins_character`]): a reader
/// that visits every string anyway checks that on its way instead of in a pass of its own.
pub fn utf8_as_a_whole<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> bool {
    let (first, last) = (
        offsets[0].into() as usize,
        offsets[offsets.len() - 1].into() as usize,
    );
    is_utf8(&data[first..last])
}

/// Whether `string` is empty or begins a character (its first byte is no continuation byte).
#[inline(always)]
pub fn begins_character(string: &[u8]) -> bool {
    string.first().is_none_or(|&b| !is_continuation(b))
}

/// The strings that `offsets` cut from `data` padded with zero bytes to the longest, at least 1:
/// numpy's `S<width>` layout, row-major. Gives the buffer and the width.
pub fn pad_strings<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> Result<(AlignedBuf, usize)> {
    let width = longest_string(offsets, data)?.max(1);
    let rows = offsets.len() - 1;
    let mut values = AlignedBuf::with_capacity(width * rows);
    // Each byte written once, a row's string and its zeros together (see `pad_row`).
    let out = values.spare_capacity_mut();
    let chunks = width.div_ceil(PAD_CHUNK);
    for (row, w) in offsets.windows(2).enumerate() {
        let (start, end) = (w[0].into() as usize, w[1].into() as usize);
        pad_row(
            &mut out[row * width..],
            &data[start..],
            end - start,
            width,
            chunks,
        );
    }
    // SAFETY: the buffer has room for `rows` rows of `width` bytes, and `pad_row` wrote every
    // byte of each.
    unsafe { values.set_len(width * rows) };
    Ok((values, width))
}

/// Bytes a padded row is written by at a time: a vector register's (or two).
const PAD_CHUNK: usize = 32;

/// Each window of [`PAD_CHUNK`] bytes of these keeps the first 0 to [`PAD_CHUNK`] bytes of a
/// chunk (the window at `PAD_CHUNK - n` keeps `n`) and zeroes the rest.
const KEEP_MASKS: [u8; 2 * PAD_CHUNK] = {
    let mut masks = [0; 2 * PAD_CHUNK];
    let mut i = 0;
    while i < PAD_CHUNK {
        masks[i] = 0xFF;
        i += 1;
    }
    masks
};

/// Rows of at most this many chunks are written by masked copies alone (see [`pad_row`]).
const MASKED_ROW_CHUNKS: usize = 8;

/// Writes a row of `width` bytes at the start of `out`: the first `len` bytes of `source` (the
/// string, then bytes that follow it in the data), then zeros, by whole chunks of
/// [`PAD_CHUNK`] bytes, `chunks` of them: copies with the bytes past the string masked to
/// zero, then chunks of zeros. In a column of rows of up to [`MASKED_ROW_CHUNKS`] chunks every
/// chunk is a masked copy, so that each row's loop takes the same turns as the one before
/// (measured: a pass over string rows in `S` form took 10% less CPU than with a memset of the
/// rows and a copy of each string over it, and nearly as much as that with loops as long as
/// each string); in wider rows the chunks past the string are zeros, not copies of bytes that
/// are masked away. The chunks may write past the row, into the next rows, which are written
/// after it; a row whose chunks would read past `source` or write past `out` (the last strings)
/// is written byte by byte.
#[inline(always)]
fn pad_row(out: &mut [MaybeUninit<u8>], source: &[u8], len: usize, width: usize, chunks: usize) {
    let copied_chunks = if chunks <= MASKED_ROW_CHUNKS {
        chunks
    } else {
        len.div_ceil(PAD_CHUNK)
    };
    let (Some(to), Some(from)) = (
        out.get_mut(..chunks * PAD_CHUNK),
        source.get(..copied_chunks * PAD_CHUNK),
    ) else {
        return pad_row_bytewise(&mut out[..width], &source[..len]);
    };
    let (copies, zeros) = to.split_at_mut(copied_chunks * PAD_CHUNK);
    for (i, (to, from)) in copies
        .chunks_exact_mut(PAD_CHUNK)
        .zip(from.chunks_exact(PAD_CHUNK))
        .enumerate()
    {
        let keep = len.saturating_sub(i * PAD_CHUNK).min(PAD_CHUNK);
        let mask = &KEEP_MASKS[PAD_CHUNK - keep..][..PAD_CHUNK];
        let mut chunk: [u8; PAD_CHUNK] = from.try_into().expect("a whole chunk");
        for (byte, keep) in chunk.iter_mut().zip(mask) {
            *byte &= keep;
        }
        to.write_copy_of_slice(&chunk);
    }
    for to in zeros.chunks_exact_mut(PAD_CHUNK) {
        to.write_copy_of_slice(&[0; PAD_CHUNK]);
    }
}

/// Writes `string` and then zeros to the whole of `row`.
#[inline(never)]
fn pad_row_bytewise(row: &mut [MaybeUninit<u8>], string: &[u8]) {
    let (head, tail) = row.split_at_mut(string.len());
    head.write_copy_of_slice(string);
    for byte in tail {
        byte.write(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets_of(column: &Column) -> Vec<i64> {
        let Column::Strings { offsets, large, .. } = column else {
            panic!("not strings: {column:?}")
        };
        let size = if *large { 8 } else { 4 };
        offsets
            .as_slice()
            .chunks(size)
            .map(|c| match c.len() {
                8 => i64::from_le_bytes(c.try_into().unwrap()),
                _ => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            })
            .collect()
    }

    #[test]
    fn strings_are_offsets_into_their_bytes_with_nulls_empty() {
        let mut c = ColumnBuilder::with_rows_hint("s", 4);
        c.push_null(); // before the kind is known
        c.push_string("ab".as_bytes()).unwrap();
        c.push_string(b"").unwrap();
        c.push_null();
        c.push_string("üx".as_bytes()).unwrap();
        let column = c.finish(None).unwrap();
        assert_eq!(offsets_of(&column), [0, 0, 2, 2, 2, 5]);
        let Column::Strings {
            data,
            large,
            validity,
            len,
            ..
        } = column
        else {
            unreachable!()
        };
        assert!(!large);
        assert_eq!(len, 5);
        assert_eq!(data.as_slice(), "abüx".as_bytes());
        assert_eq!(validity.unwrap().as_slice(), [0, 1, 1, 0, 1]);
    }

    #[test]
    fn validity_is_written_from_the_first_null_on_and_takes_a_null_parent() {
        let validity = |c: ColumnBuilder, parent: Option<&[u8]>| match c.finish(parent).unwrap() {
            Column::Scalar { validity, .. } => validity.map(|v| v.as_slice().to_vec()),
            other => panic!("not scalars: {other:?}"),
        };
        let ints = |values: &[Option<i32>]| {
            let mut c = ColumnBuilder::with_rows_hint("i", 2);
            for v in values {
                match v {
                    Some(v) => c
                        .push_scalar(ScalarKind::Prim(PrimKind::I32), &v.to_le_bytes())
                        .unwrap(),
                    None => c.push_null(),
                }
            }
            c
        };
        assert_eq!(validity(ints(&[Some(1), Some(2)]), None), None);
        let mixed = [Some(1), Some(2), None, Some(4), None, None, Some(7)];
        assert_eq!(validity(ints(&mixed), None).unwrap(), [1, 1, 0, 1, 0, 0, 1]);
        // a parent's nulls, in a column with nulls of its own and in one without
        let parent = [1, 0, 1, 1, 1, 1, 0];
        assert_eq!(
            validity(ints(&mixed), Some(&parent)).unwrap(),
            [1, 0, 0, 1, 0, 0, 0]
        );
        let present = [Some(1), Some(2), Some(3)];
        assert_eq!(
            validity(ints(&present), Some(&[1, 0, 1])).unwrap(),
            [1, 0, 1]
        );
        assert_eq!(validity(ints(&present), Some(&[1, 1, 1])), None);
        // a column first met after some rows: nulls before its first value
        let mut late = ColumnBuilder::with_nulls("l".into(), None, 2, 8, DecodeOptions::default());
        late.push_scalar(ScalarKind::Prim(PrimKind::I32), &5i32.to_le_bytes())
            .unwrap();
        assert_eq!(validity(late, None).unwrap(), [0, 0, 1]);
    }

    /// Pushes `strings` into a column of strings and finishes it.
    fn text_column(strings: &[&[u8]]) -> Result<Column> {
        let mut c = ColumnBuilder::new("s");
        for s in strings {
            c.push_string(s)?;
        }
        c.finish(None)
    }

    #[test]
    fn a_string_that_is_not_utf8_is_an_error_by_the_finish_at_the_latest() {
        let not_utf8 = |r: Result<Column>| match r {
            Err(Error::Protocol(m)) => {
                assert!(m.contains("column 's': a string is not valid UTF-8"))
            }
            other => panic!("expected a protocol error, got {other:?}"),
        };
        not_utf8(text_column(&[b"ok", &[0xC3, 0x28], b"ok"]));
        // a character split over two strings: both are UTF-8 together, neither alone
        not_utf8(text_column(&[b"a\xC3", b"\xBCb"]));
        not_utf8(text_column(&[b"a\xC3", b"", b"b"]));
        not_utf8(text_column(&[b"\xE2\x82", "🙂".as_bytes()]));
        // a bad byte anywhere in strings of any length, alone or among others
        for len in 1..80 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = 0x80;
                not_utf8(text_column(&[&bytes]));
                not_utf8(text_column(&[b"x", &bytes, "ü".as_bytes()]));
                bytes[at] = b'\xFF';
                not_utf8(text_column(&[&bytes]));
            }
        }
        // past a check's worth of good strings after it: found by a push, before the finish
        let mut c = ColumnBuilder::new("s");
        c.push_string(b"bad \xFF").unwrap();
        let good = "ü".repeat(500);
        let pushed: Result<Vec<()>> = (0..100).map(|_| c.push_string(good.as_bytes())).collect();
        not_utf8(pushed.map(|_| Column::Null { len: 0 }));
        // and good strings are kept, split anywhere between characters
        let texts = ["", "日本語", "𝄞", "x", "üü", ""];
        let column = text_column(&texts.map(str::as_bytes)).unwrap();
        let Column::Strings { data, .. } = column else {
            unreachable!()
        };
        assert_eq!(data.as_slice(), texts.concat().as_bytes());
    }

    #[test]
    fn utf8_check_agrees_with_std_short_and_long() {
        let samples: [&[u8]; 9] = [
            b"",
            "plain ascii".as_bytes(),
            "üüü".as_bytes(),
            &[0xC3],             // unfinished at the end: zeros after it do not finish it
            &[b'a', 0xE2, 0x82], // the same, three bytes long
            &[0xED, 0xA0, 0x80], // a surrogate
            &[0xC0, 0x80],       // overlong
            &[0xF4, 0x90, 0x80, 0x80],
            "日本語𝄞".as_bytes(),
        ];
        for sample in samples {
            for prefix in [0, 10, 70] {
                let mut bytes = vec![b'x'; prefix];
                bytes.extend_from_slice(sample);
                assert_eq!(
                    is_utf8(&bytes),
                    std::str::from_utf8(&bytes).is_ok(),
                    "{bytes:?}"
                );
            }
        }
    }

    #[test]
    fn offsets_widen_to_i64_past_i32() {
        let mut offsets = TextOffsets::empty_rows(1, 4);
        offsets.push(7);
        offsets.push(i32::MAX as usize + 10);
        offsets.push(i32::MAX as usize + 12);
        assert!(offsets.large);
        let wide: Vec<i64> = offsets
            .buf
            .as_slice()
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(wide, [0, 0, 7, i32::MAX as i64 + 10, i32::MAX as i64 + 12]);
    }

    #[test]
    fn strings_from_elsewhere_are_checked_for_utf8_whole_or_one_by_one() {
        let data = "abüx日".as_bytes();
        let first = |offsets: &[i64], data: &[u8]| first_not_utf8(offsets, data).unwrap();
        assert_eq!(first(&[0, 2, 2, 4, 5, 8], data), None);
        assert_eq!(first(&[0], data), None);
        // the ü split between two strings
        assert_eq!(first(&[0, 3, 5], data), Some(0));
        assert_eq!(first(&[2, 2, 3, 4], data), Some(1));
        assert_eq!(first(&[0, 2, 7], b"ab\xFFxyz!"), Some(1));
        assert_eq!(first_not_utf8(&[0i32, 2, 5], data).unwrap(), None);
        // as a whole, then string by string as a reader packing them goes
        let each_begins = |offsets: &[i64], data: &[u8]| {
            offsets
                .windows(2)
                .all(|w| begins_character(&data[w[0] as usize..w[1] as usize]))
        };
        for (offsets, bytes, whole, each) in [
            (&[0i64, 2, 2, 4, 5, 8][..], data, true, true),
            (&[0, 3, 5], data, true, false), // the ü split: whole, not each
            (&[2, 2, 3, 4], data, true, false),
            (&[0, 2, 7], b"ab\xFFxyz!", false, true),
            (&[0], data, true, true),
        ] {
            assert_eq!(utf8_as_a_whole(offsets, bytes), whole, "{offsets:?}");
            assert_eq!(each_begins(offsets, bytes), each, "{offsets:?}");
            let utf8 = first(offsets, bytes).is_none();
            assert_eq!(utf8, whole && each, "{offsets:?}");
        }
        for bad in [&[0i64, 3, 2][..], &[0, 9], &[-1, 0], &[]] {
            assert!(matches!(
                first_not_utf8(bad, b"abc"),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    /// numpy's `S` rows of `strings`, padded the plain way.
    fn padded_plainly(strings: &[&[u8]]) -> (Vec<u8>, usize) {
        let width = strings.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut rows = Vec::new();
        for s in strings {
            rows.extend_from_slice(s);
            rows.resize(rows.len() + width - s.len(), 0);
        }
        (rows, width)
    }

    #[test]
    fn padding_by_chunks_writes_each_row_whole_whatever_the_lengths() {
        // widths about the chunk size and its multiples (masked copies alone up to 256, zero
        // chunks past the string beyond), strings of every length up to them,
        // rows near the data's end (written byte by byte) and far from it, after bytes that are
        // no string's (offsets from elsewhere), with the bytes that follow a string not zero
        for width in [
            1, 2, 31, 32, 33, 63, 64, 65, 96, 100, 130, 255, 256, 257, 300,
        ] {
            let strings: Vec<Vec<u8>> = (0..3 * width + 7)
                .map(|i| {
                    let len = if i % 5 == 0 {
                        width
                    } else {
                        (i * 7) % (width + 1)
                    };
                    (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect()
                })
                .collect();
            let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
            let mut data = b"skipped".to_vec();
            let mut offsets = vec![data.len() as i32];
            for s in &refs {
                data.extend_from_slice(s);
                offsets.push(data.len() as i32);
            }
            data.extend_from_slice(b"trailing bytes");
            let (values, got_width) = pad_strings(&offsets, &data).unwrap();
            let (expected, expected_width) = padded_plainly(&refs);
            assert_eq!(got_width, expected_width, "width {width}");
            assert_eq!(values.as_slice(), &expected[..], "width {width}");
        }
        // non-ASCII strings, one row, no row
        let texts = ["日本語", "", "ü", "𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞"].map(str::as_bytes);
        let data = texts.concat();
        let offsets = [0i64, 9, 9, 11, 47];
        assert_eq!(
            pad_strings(&offsets, &data).unwrap().0.as_slice(),
            &padded_plainly(&texts).0[..]
        );
        assert_eq!(
            pad_strings(&[0i64, 3], b"abc").unwrap().0.as_slice(),
            b"abc"
        );
        let (none, width) = pad_strings(&[5i32], b"abcdef").unwrap();
        assert_eq!((none.len(), width), (0, 1));
    }

    #[test]
    fn padding_makes_numpy_s_rows() {
        let (values, width) = pad_strings(&[0i32, 2, 2, 5], b"abxyz").unwrap();
        assert_eq!(width, 3);
        assert_eq!(values.as_slice(), b"ab\0\0\0\0xyz");
        let (values, width) = pad_strings(&[0i64, 0], b"").unwrap();
        assert_eq!((values.as_slice(), width), (&b"\0"[..], 1));
        // rows over many blocks, the last one short, padded whatever a recycled buffer held
        let mut dirty = AlignedBuf::with_capacity(1 << 20);
        dirty.extend_from_slice(&[0xAA; 1 << 20]);
        drop(dirty);
        let texts: Vec<Vec<u8>> = (0..1000)
            .map(|i| vec![b'a' + (i % 26) as u8; i % 700])
            .collect();
        let mut offsets = vec![0i64];
        for t in &texts {
            offsets.push(offsets.last().unwrap() + t.len() as i64);
        }
        let (values, width) = pad_strings(&offsets, &texts.concat()).unwrap();
        assert_eq!(width, 699);
        for (row, text) in values.as_slice().chunks_exact(width).zip(&texts) {
            assert_eq!(&row[..text.len()], &text[..]);
            assert!(row[text.len()..].iter().all(|&b| b == 0));
        }
        assert_eq!(values.len(), 1000 * width);
        // offsets from elsewhere: out of order, past the data, negative
        for bad in [&[0i64, 3, 2][..], &[0, 9], &[-1, 0], &[]] {
            assert!(matches!(
                pad_strings(bad, b"abc"),
                Err(Error::InvalidArgument(_))
            ));
        }
    }
}
