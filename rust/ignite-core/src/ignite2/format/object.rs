//! The binary object layout (type code 103): the 24-byte header, and the footer that gives each
//! field's offset (with its id in a full footer; from the type's schema in a compact one). Only
//! where things are: what the values mean is the reader's job (`ignite2::decode`).

use crate::error::{Error, Result};
use crate::ignite2::protocol::{object_flag as flag, type_code as tc};
use crate::ignite2::wire::Reader;

pub const HEADER_LEN: usize = 24;

/// A parsed object header with its footer located and checked against the object's bounds.
#[derive(Debug, Clone, Copy)]
pub struct ObjectLayout {
    /// Position of the 103 byte in the buffer.
    pub start: usize,
    pub flags: u16,
    pub type_id: i32,
    pub total_len: usize,
    pub schema_id: i32,
    footer_start: usize,
    footer_end: usize,
    offset_size: usize,
}

impl ObjectLayout {
    pub fn parse(buf: &[u8], start: usize) -> Result<ObjectLayout> {
        let mut r = Reader::at(buf, start)?;
        let code = r.u8()?;
        if code != tc::OBJECT {
            return Err(Error::protocol(format!(
                "expected an object (103) at offset {start}, got type code {code}"
            )));
        }
        let _version = r.u8()?;
        let flags = r.u16()?;
        let type_id = r.i32()?;
        let _hash = r.i32()?;
        let total_len = r.i32()?;
        let schema_id = r.i32()?;
        let schema_offset = r.i32()?;
        if total_len < HEADER_LEN as i32 || start + total_len as usize > buf.len() {
            return Err(Error::protocol(format!(
                "object at offset {start} claims length {total_len}, outside the {} bytes available",
                buf.len() - start
            )));
        }
        let total_len = total_len as usize;
        let offset_size = if flags & flag::OFFSET_ONE_BYTE != 0 {
            1
        } else if flags & flag::OFFSET_TWO_BYTES != 0 {
            2
        } else {
            4
        };
        let (footer_start, footer_end) = if flags & flag::HAS_SCHEMA != 0 {
            let footer_end = if flags & flag::HAS_RAW_DATA != 0 {
                total_len - 4
            } else {
                total_len
            };
            if schema_offset < HEADER_LEN as i32 || schema_offset as usize > footer_end {
                return Err(Error::protocol(format!(
                    "object at offset {start}: schema offset {schema_offset} outside the object (length {total_len})"
                )));
            }
            (schema_offset as usize, footer_end)
        } else {
            (total_len, total_len)
        };
        let entry = if flags & flag::COMPACT_FOOTER != 0 {
            offset_size
        } else {
            4 + offset_size
        };
        if (footer_end - footer_start) % entry != 0 {
            return Err(Error::protocol(format!(
                "object at offset {start}: footer of {} bytes is not a whole number of {entry}-byte entries",
                footer_end - footer_start
            )));
        }
        Ok(ObjectLayout {
            start,
            flags,
            type_id,
            total_len,
            schema_id,
            footer_start: start + footer_start,
            footer_end: start + footer_end,
            offset_size,
        })
    }

    pub fn end(&self) -> usize {
        self.start + self.total_len
    }

    pub fn is_compact(&self) -> bool {
        self.flags & flag::COMPACT_FOOTER != 0
    }

    fn entry_size(&self) -> usize {
        if self.is_compact() {
            self.offset_size
        } else {
            4 + self.offset_size
        }
    }

    pub fn field_count(&self) -> usize {
        (self.footer_end - self.footer_start) / self.entry_size()
    }

    /// The id of field `i` (full footers only; compact footers take ids from the schema).
    pub fn footer_field_id(&self, buf: &[u8], i: usize) -> Result<i32> {
        let p = self.footer_start + i * self.entry_size();
        Reader::at(buf, p)?.i32()
    }

    /// The absolute position of field `i`'s value, checked to lie inside the object's data.
    #[inline]
    pub fn field_position(&self, buf: &[u8], i: usize) -> Result<usize> {
        let mut p = self.footer_start + i * self.entry_size();
        if !self.is_compact() {
            p += 4;
        }
        let mut r = Reader::at(buf, p)?;
        let offset = match self.offset_size {
            1 => r.u8()? as usize,
            2 => r.u16()? as usize,
            _ => {
                let v = r.i32()?;
                if v < 0 {
                    return Err(Error::protocol(format!("negative field offset {v}")));
                }
                v as usize
            }
        };
        if offset < HEADER_LEN || self.start + offset >= self.footer_start {
            return Err(Error::protocol(format!(
                "object at offset {}: field {i} offset {offset} lies outside its data (header {HEADER_LEN}, footer at {})",
                self.start,
                self.footer_start - self.start
            )));
        }
        Ok(self.start + offset)
    }
}
