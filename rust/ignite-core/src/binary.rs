//! The binary object format: headers, footers, and the size of any value. Only layout knowledge
//! lives here; turning values into columns is `columns`' job.

use crate::error::{Error, Result};
use crate::protocol::{object_flag as flag, type_code as tc};
use crate::net::wire::Reader;

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
            return Err(Error::protocol(format!("expected an object (103) at offset {start}, got type code {code}")));
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
            let footer_end = if flags & flag::HAS_RAW_DATA != 0 { total_len - 4 } else { total_len };
            if schema_offset < HEADER_LEN as i32 || schema_offset as usize > footer_end {
                return Err(Error::protocol(format!(
                    "object at offset {start}: schema offset {schema_offset} outside the object (length {total_len})"
                )));
            }
            (schema_offset as usize, footer_end)
        } else {
            (total_len, total_len)
        };
        let entry = if flags & flag::COMPACT_FOOTER != 0 { offset_size } else { 4 + offset_size };
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
        if self.is_compact() { self.offset_size } else { 4 + self.offset_size }
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

/// Fixed-size element types (Ignite primitives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimKind {
    /// Java byte; handed to Python as uint8, as the original IgniteDataset did (pixels, raw bytes).
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// A UTF-16 code unit (Java char), as uint16.
    Char,
    Bool,
}

impl PrimKind {
    pub fn from_code(code: u8) -> Option<PrimKind> {
        Some(match code {
            tc::BYTE => PrimKind::I8,
            tc::SHORT => PrimKind::I16,
            tc::INT => PrimKind::I32,
            tc::LONG => PrimKind::I64,
            tc::FLOAT => PrimKind::F32,
            tc::DOUBLE => PrimKind::F64,
            tc::CHAR => PrimKind::Char,
            tc::BOOL => PrimKind::Bool,
            _ => return None,
        })
    }

    pub fn from_array_code(code: u8) -> Option<PrimKind> {
        match code {
            tc::BYTE_ARR..=tc::BOOL_ARR => PrimKind::from_code(code - tc::BYTE_ARR + tc::BYTE),
            _ => None,
        }
    }

    pub fn size(self) -> usize {
        match self {
            PrimKind::I8 | PrimKind::Bool => 1,
            PrimKind::I16 | PrimKind::Char => 2,
            PrimKind::I32 | PrimKind::F32 => 4,
            PrimKind::I64 | PrimKind::F64 => 8,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            PrimKind::I8 => tc::BYTE,
            PrimKind::I16 => tc::SHORT,
            PrimKind::I32 => tc::INT,
            PrimKind::I64 => tc::LONG,
            PrimKind::F32 => tc::FLOAT,
            PrimKind::F64 => tc::DOUBLE,
            PrimKind::Char => tc::CHAR,
            PrimKind::Bool => tc::BOOL,
        }
    }

    pub fn array_code(self) -> u8 {
        self.code() - tc::BYTE + tc::BYTE_ARR
    }
}

/// The position just past the value that starts at `pos`, for every type code; used to step
/// from a key to its value in a page. `depth` bounds nesting against hostile input.
pub fn value_end(buf: &[u8], pos: usize, depth: u32) -> Result<usize> {
    if depth > MAX_DEPTH {
        return Err(Error::protocol(format!("values nested deeper than {MAX_DEPTH} levels")));
    }
    let mut r = Reader::at(buf, pos)?;
    let code = r.u8()?;
    if let Some(kind) = PrimKind::from_code(code) {
        r.skip(kind.size())?;
        return Ok(r.pos());
    }
    if let Some(kind) = PrimKind::from_array_code(code) {
        let len = r.len(kind.size())?;
        r.skip(len * kind.size())?;
        return Ok(r.pos());
    }
    match code {
        tc::NULL => {}
        tc::STRING => {
            let len = r.len(1)?;
            r.skip(len)?;
        }
        tc::UUID => r.skip(16)?,
        tc::DATE | tc::TIME => r.skip(8)?,
        tc::TIMESTAMP => r.skip(12)?,
        tc::ENUM | tc::BINARY_ENUM => r.skip(8)?,
        tc::HANDLE => r.skip(4)?,
        tc::DECIMAL => {
            r.skip(4)?;
            let len = r.len(1)?;
            r.skip(len)?;
        }
        tc::OBJECT => return Ok(ObjectLayout::parse(buf, pos)?.end()),
        tc::WRAPPED => {
            let len = r.len(1)?;
            r.skip(len + 4)?;
        }
        tc::UUID_ARR | tc::DATE_ARR | tc::TIME_ARR | tc::TIMESTAMP_ARR | tc::STRING_ARR | tc::DECIMAL_ARR => {
            let n = r.len(1)?;
            return skip_values(buf, r.pos(), n, depth);
        }
        tc::OBJ_ARR | tc::ENUM_ARR => {
            r.i32()?; // element type id
            let n = r.len(1)?;
            return skip_values(buf, r.pos(), n, depth);
        }
        tc::COLLECTION => {
            let n = r.len(1)?;
            r.u8()?;
            return skip_values(buf, r.pos(), n, depth);
        }
        tc::MAP => {
            let n = r.len(2)?;
            r.u8()?;
            return skip_values(buf, r.pos(), 2 * n, depth);
        }
        other => {
            return Err(Error::protocol(format!("unknown type code {other} at offset {pos}")));
        }
    }
    Ok(r.pos())
}

fn skip_values(buf: &[u8], mut pos: usize, n: usize, depth: u32) -> Result<usize> {
    for _ in 0..n {
        pos = value_end(buf, pos, depth + 1)?;
    }
    Ok(pos)
}

/// How deep values may nest (objects in objects, handles to handles) before we call it hostile.
pub const MAX_DEPTH: u32 = 64;

/// Resolves a handle at `pos` to the position of the value it points back to.
pub fn handle_target(buf: &[u8], pos: usize) -> Result<usize> {
    let mut r = Reader::at(buf, pos + 1)?;
    let back = r.i32()?;
    if back <= 0 || back as usize > pos {
        return Err(Error::protocol(format!("handle at offset {pos} points {back} bytes back, outside the data")));
    }
    Ok(pos - back as usize)
}

/// The type id of the object at `pos` (through wrappers and handles), or `None` for a value
/// that is not an object.
pub fn object_type_id(buf: &[u8], pos: usize) -> Result<Option<i32>> {
    let mut pos = pos;
    for _ in 0..MAX_DEPTH {
        match Reader::at(buf, pos)?.u8()? {
            tc::OBJECT => return Ok(Some(Reader::at(buf, pos + 4)?.i32()?)),
            tc::WRAPPED => pos = wrapped_target(buf, pos)?,
            tc::HANDLE => pos = handle_target(buf, pos)?,
            _ => return Ok(None),
        }
    }
    Err(Error::protocol(format!("values nested deeper than {MAX_DEPTH} levels")))
}

/// For a wrapped object (27) at `pos`: the position of the object inside it.
pub fn wrapped_target(buf: &[u8], pos: usize) -> Result<usize> {
    let mut r = Reader::at(buf, pos + 1)?;
    let len = r.len(1)?;
    let data_start = r.pos();
    r.skip(len)?;
    let offset = r.i32()?;
    if offset < 0 || offset as usize >= len {
        return Err(Error::protocol(format!("wrapped object at offset {pos}: inner offset {offset} outside its {len} bytes")));
    }
    Ok(data_start + offset as usize)
}

/// Writes a binary object (type code 103) of `type_id` whose fields are given as
/// `(field_id, encoded value)` in footer order. `compact` drops field ids from the footer (readers
/// take them from the schema in the type's metadata); offsets are 1, 2 or 4 bytes as the object's
/// size allows. Used by the tests and benchmarks; the start of the writer.
pub fn write_object(type_id: i32, fields: &[(i32, &[u8])], compact: bool) -> Vec<u8> {
    let data_len: usize = fields.iter().map(|(_, v)| v.len()).sum();
    let offset_size = if HEADER_LEN + data_len < 0x100 {
        1
    } else if HEADER_LEN + data_len < 0x1_0000 {
        2
    } else {
        4
    };
    let entry = if compact { offset_size } else { 4 + offset_size };
    let total = HEADER_LEN + data_len + entry * fields.len();
    let ids: Vec<i32> = fields.iter().map(|(id, _)| *id).collect();
    let mut flags = flag::USER_TYPE | flag::HAS_SCHEMA;
    flags |= match offset_size {
        1 => flag::OFFSET_ONE_BYTE,
        2 => flag::OFFSET_TWO_BYTES,
        _ => 0,
    };
    if compact {
        flags |= flag::COMPACT_FOOTER;
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[tc::OBJECT, 1]);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&type_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // hash code: unused by readers of scans
    out.extend_from_slice(&(total as i32).to_le_bytes());
    out.extend_from_slice(&crate::protocol::schema_id(&ids).to_le_bytes());
    out.extend_from_slice(&((HEADER_LEN + data_len) as i32).to_le_bytes());
    for (_, value) in fields {
        out.extend_from_slice(value);
    }
    let mut offset = HEADER_LEN;
    for (id, value) in fields {
        if !compact {
            out.extend_from_slice(&id.to_le_bytes());
        }
        match offset_size {
            1 => out.push(offset as u8),
            2 => out.extend_from_slice(&(offset as u16).to_le_bytes()),
            _ => out.extend_from_slice(&(offset as i32).to_le_bytes()),
        }
        offset += value.len();
    }
    out
}

/// Writes a primitive array value (type codes 12-19) from its little-endian element bytes.
pub fn write_primitive_array(kind: PrimKind, element_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + element_bytes.len());
    out.push(kind.array_code());
    out.extend_from_slice(&((element_bytes.len() / kind.size()) as i32).to_le_bytes());
    out.extend_from_slice(element_bytes);
    out
}

/// A Decimal (type 30) after its type code: `int scale | int len | big-endian magnitude` with
/// the sign in the top bit of the first magnitude byte (as Ignite's BinaryUtils writes it).
pub struct DecimalParts<'a> {
    pub negative: bool,
    pub scale: i32,
    /// Magnitude, big-endian, with the sign bit still set in the first byte.
    magnitude: &'a [u8],
}

pub fn read_decimal<'a>(r: &mut Reader<'a>) -> Result<DecimalParts<'a>> {
    let scale = r.i32()?;
    let n = r.len(1)?;
    let magnitude = r.take(n)?;
    let negative = magnitude.first().is_some_and(|b| b & 0x80 != 0);
    Ok(DecimalParts { negative, scale, magnitude })
}

impl DecimalParts<'_> {
    /// The exact value as a decimal string, e.g. `-12.3400`, `1.5E+3` for a negative scale.
    pub fn to_decimal_string(&self) -> String {
        // Base-1e9 limbs of the magnitude, most significant first, by long division.
        let mut bytes: Vec<u8> = self.magnitude.to_vec();
        if let Some(first) = bytes.first_mut() {
            *first &= 0x7f;
        }
        let mut limbs: Vec<u32> = Vec::new();
        let mut number: Vec<u8> = bytes.into_iter().skip_while(|&b| b == 0).collect();
        while !number.is_empty() {
            let mut rem: u64 = 0;
            let mut quotient = Vec::with_capacity(number.len());
            for &b in &number {
                let cur = (rem << 8) | b as u64;
                let q = cur / 1_000_000_000;
                rem = cur % 1_000_000_000;
                if !(quotient.is_empty() && q == 0) {
                    quotient.push(q as u8);
                }
            }
            limbs.push(rem as u32);
            number = quotient;
        }
        let mut digits = match limbs.split_last() {
            None => "0".to_string(),
            Some((most, rest)) => {
                let mut s = most.to_string();
                for limb in rest.iter().rev() {
                    s.push_str(&format!("{limb:09}"));
                }
                s
            }
        };
        let sign = if self.negative && digits != "0" { "-" } else { "" };
        // Plain notation while it stays short; scientific beyond that, so that a hostile scale
        // (any i32) cannot make us write billions of zeros.
        const MAX_PLAIN_ZEROS: i64 = 64;
        let scale = self.scale as i64;
        let n = digits.len() as i64;
        if scale == 0 {
            format!("{sign}{digits}")
        } else if scale > 0 && scale - n <= MAX_PLAIN_ZEROS {
            if n <= scale {
                digits = format!("{}{}", "0".repeat((scale - n + 1) as usize), digits);
            }
            let point = digits.len() - scale as usize;
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        } else {
            let exponent = n - 1 - scale;
            let (first, rest) = digits.split_at(1);
            let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
            format!("{sign}{first}{fraction}E{}{exponent}", if exponent >= 0 { "+" } else { "" })
        }
    }

    /// The nearest float64 (by way of the exact decimal string, so correctly rounded).
    pub fn to_f64(&self) -> f64 {
        self.to_decimal_string().parse().unwrap_or(f64::NAN)
    }
}

/// A Timestamp (type 33) after its type code, in nanoseconds since the epoch; an error outside
/// what an int64 of nanoseconds holds (years 1677-2262) rather than a wrapped value.
pub fn read_timestamp_nanos(r: &mut Reader<'_>) -> Result<i64> {
    let millis = r.i64()?;
    let extra_nanos = r.i32()?;
    millis
        .checked_mul(1_000_000)
        .and_then(|n| n.checked_add(extra_nanos as i64))
        .ok_or_else(|| Error::Schema(format!("timestamp {millis} ms is outside the range of datetime64[ns]")))
}

#[cfg(test)]
mod decimal_tests {
    use super::*;

    fn decimal(scale: i32, magnitude: &[u8]) -> String {
        let mut bytes = scale.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(magnitude.len() as i32).to_le_bytes());
        bytes.extend_from_slice(magnitude);
        read_decimal(&mut Reader::new(&bytes)).unwrap().to_decimal_string()
    }

    #[test]
    fn decimals_match_java_big_decimal_strings() {
        assert_eq!(decimal(2, &[0x04, 0xD2]), "12.34"); // 1234, scale 2
        assert_eq!(decimal(2, &[0x84, 0xD2]), "-12.34");
        assert_eq!(decimal(4, &[0x01]), "0.0001");
        assert_eq!(decimal(0, &[]), "0");
        assert_eq!(decimal(-2, &[0x0F]), "1.5E+3");
        // A hostile scale gives scientific notation, not billions of zeros.
        assert_eq!(decimal(i32::MAX, &[0x01]), "1E-2147483647");
        assert_eq!(decimal(i32::MIN, &[0x0F]), "1.5E+2147483649");
        // 2^64 = 18446744073709551616, more than one limb.
        assert_eq!(decimal(0, &[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), "18446744073709551616");
        assert_eq!(decimal(3, &[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), "18446744073709551.616");
    }
}
