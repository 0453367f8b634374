//! The one binary object encoder: fields' encoded values in, a binary object (type code 103)
//! out, with its header, its footer of offsets, and the flags that describe them. Put-all writes
//! every object through it; the tests, the decoder benchmark and the fuzzer build theirs with
//! it too, so the decoder is checked against the bytes production writes.

use crate::ignite2::format::object::HEADER_LEN;
use crate::ignite2::protocol::{object_flag as flag, type_code as tc};

/// How an object's footer is written.
#[derive(Debug, Clone, Copy)]
pub struct Footer<'a> {
    /// `None`: a compact footer of offsets only; readers take the field ids from the schema in
    /// the type's metadata (what put-all writes). `Some(ids)`: each entry also names its field.
    pub field_ids: Option<&'a [i32]>,
    /// Bytes per offset (1, 2 or 4); `None`: the fewest that the object's size allows.
    pub offset_size: Option<usize>,
}

impl Footer<'static> {
    /// Offsets only, as narrow as the object allows: what put-all writes.
    pub const COMPACT: Footer<'static> = Footer {
        field_ids: None,
        offset_size: None,
    };
}

/// Builds objects one at a time, keeping its buffers from one object to the next.
#[derive(Default)]
pub struct ObjectEncoder {
    /// The field values of the object being built.
    data: Vec<u8>,
    /// Where each field's value starts, from the object's start.
    offsets: Vec<usize>,
}

impl ObjectEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the next field (in footer order): append its encoded value, type code included,
    /// to the buffer returned.
    #[inline]
    pub fn field(&mut self) -> &mut Vec<u8> {
        self.offsets.push(HEADER_LEN + self.data.len());
        &mut self.data
    }

    /// Appends the object of `type_id` made of the fields given since the last one to `out`, and
    /// makes the encoder ready for the next. `schema_id` names the fields' order (see
    /// [`crate::ignite2::protocol::schema_id`]).
    pub fn finish(&mut self, out: &mut Vec<u8>, type_id: i32, schema_id: i32, footer: Footer) {
        let data_end = HEADER_LEN + self.data.len();
        let offset_size = footer.offset_size.unwrap_or(if data_end <= 0xFF {
            1
        } else if data_end <= 0xFFFF {
            2
        } else {
            4
        });
        let entry = offset_size + if footer.field_ids.is_some() { 4 } else { 0 };
        let total = data_end + entry * self.offsets.len();
        let mut flags = flag::USER_TYPE | flag::HAS_SCHEMA;
        flags |= match offset_size {
            1 => flag::OFFSET_ONE_BYTE,
            2 => flag::OFFSET_TWO_BYTES,
            _ => 0,
        };
        if footer.field_ids.is_none() {
            flags |= flag::COMPACT_FOOTER;
        }
        out.reserve(total);
        out.push(tc::OBJECT);
        out.push(1); // format version
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&type_id.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // hash code: used for keys only
        out.extend_from_slice(&(total as i32).to_le_bytes());
        out.extend_from_slice(&schema_id.to_le_bytes());
        out.extend_from_slice(&(data_end as i32).to_le_bytes()); // the footer's offset
        out.extend_from_slice(&self.data);
        for (i, &offset) in self.offsets.iter().enumerate() {
            if let Some(ids) = footer.field_ids {
                out.extend_from_slice(&ids[i].to_le_bytes());
            }
            match offset_size {
                1 => out.push(offset as u8),
                2 => out.extend_from_slice(&(offset as u16).to_le_bytes()),
                _ => out.extend_from_slice(&(offset as i32).to_le_bytes()),
            }
        }
        self.data.clear();
        self.offsets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignite2::format::object::ObjectLayout;

    #[test]
    fn objects_read_back_with_every_footer() {
        for (ids, offset_size) in [
            (None, None),
            (Some(&[7, 9][..]), None),
            (None, Some(4)),
            (Some(&[7, 9][..]), Some(2)),
        ] {
            let mut encoder = ObjectEncoder::new();
            encoder.field().extend_from_slice(&[tc::INT, 5, 0, 0, 0]);
            encoder.field().push(tc::NULL);
            let mut out = vec![0xAA]; // objects land after what the buffer holds
            encoder.finish(
                &mut out,
                42,
                -3,
                Footer {
                    field_ids: ids,
                    offset_size,
                },
            );
            let layout = ObjectLayout::parse(&out, 1).unwrap();
            assert_eq!(
                (layout.type_id, layout.schema_id, layout.field_count()),
                (42, -3, 2)
            );
            assert_eq!(layout.is_compact(), ids.is_none());
            assert_eq!(layout.end(), out.len());
            assert_eq!(layout.field_position(&out, 0).unwrap(), 1 + HEADER_LEN);
            assert_eq!(out[layout.field_position(&out, 1).unwrap()], tc::NULL);
            if ids.is_some() {
                assert_eq!(layout.footer_field_id(&out, 1).unwrap(), 9);
            }
        }
    }
}
