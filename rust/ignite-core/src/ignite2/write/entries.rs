//! Rows of columns become the bytes of entries: a key value and a value, the value a plain one
//! or a binary object of named fields. Columns are borrowed bytes (numpy arrays' memory, say).
//! Put-all sends what [`EntryEncoder`] makes; the decoder's tests and benchmark read the same.

use crate::ignite2::format::object::HEADER_LEN;
use crate::ignite2::format::object_encoder::{Footer, ObjectEncoder};
use crate::ignite2::protocol::{name_id, schema_id, type_code as tc};
use crate::kinds::WriteColumn;

// Ignite 2's encoding of the shared `WriteColumn` (`crate::kinds`): its type codes and bytes.
impl WriteColumn<'_> {
    /// The most bytes one value of this column takes when written (type code included).
    pub(crate) fn max_encoded_len(&self) -> usize {
        match *self {
            WriteColumn::Scalar { kind, .. } => 1 + kind.size(),
            WriteColumn::FixedArray { kind, width, .. } => 5 + width * kind.size(),
            WriteColumn::Strings { width, .. } => 5 + width,
        }
    }

    pub fn type_code(&self) -> u8 {
        match *self {
            WriteColumn::Scalar { kind, .. } => kind.code(),
            WriteColumn::FixedArray { kind, .. } => kind.array_code(),
            WriteColumn::Strings { .. } => tc::STRING,
        }
    }

    /// Appends the value of `row` (type code included).
    #[inline]
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) {
        match *self {
            WriteColumn::Scalar { kind, data } => {
                out.push(kind.code());
                let n = kind.size();
                out.extend_from_slice(&data[row * n..(row + 1) * n]);
            }
            WriteColumn::FixedArray { kind, data, width } => {
                out.push(kind.array_code());
                out.extend_from_slice(&(width as i32).to_le_bytes());
                let n = kind.size() * width;
                out.extend_from_slice(&data[row * n..(row + 1) * n]);
            }
            WriteColumn::Strings { data, width } => {
                let cell = &data[row * width..(row + 1) * width];
                let len = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                out.push(tc::STRING);
                out.extend_from_slice(&(len as i32).to_le_bytes());
                out.extend_from_slice(&cell[..len]);
            }
        }
    }
}

/// What each entry's value is: a plain column, or an object made of named columns.
#[derive(Debug)]
pub enum WriteValues<'a> {
    Plain(WriteColumn<'a>),
    Object {
        type_name: String,
        fields: Vec<(String, WriteColumn<'a>)>,
    },
}

/// Encodes the entries of `keys` and `values` row by row, as put-all sends them.
pub struct EntryEncoder<'a> {
    keys: &'a WriteColumn<'a>,
    values: &'a WriteValues<'a>,
    /// For object values: the type's id and the schema id of its fields' order.
    type_id: i32,
    schema_id: i32,
    objects: ObjectEncoder,
}

impl<'a> EntryEncoder<'a> {
    pub fn new(keys: &'a WriteColumn<'a>, values: &'a WriteValues<'a>) -> Self {
        let (type_id, schema_id) = match values {
            WriteValues::Object { type_name, fields } => {
                let ids: Vec<i32> = fields.iter().map(|(n, _)| name_id(n)).collect();
                (name_id(type_name), schema_id(&ids))
            }
            WriteValues::Plain(_) => (0, 0),
        };
        EntryEncoder {
            keys,
            values,
            type_id,
            schema_id,
            objects: ObjectEncoder::new(),
        }
    }

    /// Appends the key of `row` to `out`.
    #[inline]
    pub fn encode_key(&self, row: usize, out: &mut Vec<u8>) {
        self.keys.encode(row, out);
    }

    /// Appends the value of `row` to `out`: an object has a compact footer (its field ids are
    /// in the schema registered with the type).
    #[inline]
    pub fn encode_value(&mut self, row: usize, out: &mut Vec<u8>) {
        match self.values {
            WriteValues::Plain(column) => column.encode(row, out),
            WriteValues::Object { fields, .. } => {
                for (_, column) in fields {
                    column.encode(row, self.objects.field());
                }
                self.objects
                    .finish(out, self.type_id, self.schema_id, Footer::COMPACT);
            }
        }
    }

    /// The most bytes one entry takes.
    pub fn max_entry_len(&self) -> usize {
        self.keys.max_encoded_len()
            + match self.values {
                WriteValues::Plain(column) => column.max_encoded_len(),
                WriteValues::Object { fields, .. } => {
                    HEADER_LEN
                        + fields
                            .iter()
                            .map(|(_, c)| c.max_encoded_len() + 4)
                            .sum::<usize>()
                }
            }
    }
}
