//! Values of any type code in page bytes: where one ends (to step over keys and unselected
//! values undecoded), where handles and wrapped objects point, an object's type id, and the
//! bodies of the few values whose layout is more than their bytes (timestamps; decimals are in
//! [`super::decimal`]). Every position is checked: the bytes come from the network.

use crate::error::{Error, Result};
use crate::ignite2::format::object::ObjectLayout;
use crate::ignite2::protocol::type_code as tc;
use crate::ignite2::wire::Reader;
use crate::kinds::PrimKind;

/// The position just past the value that starts at `pos`, for every type code; used to step
/// from a key to its value in a page. `depth` bounds nesting against hostile input.
pub fn value_end(buf: &[u8], pos: usize, depth: u32) -> Result<usize> {
    if depth > MAX_DEPTH {
        return Err(Error::protocol(format!(
            "values nested deeper than {MAX_DEPTH} levels"
        )));
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
        tc::UUID_ARR
        | tc::DATE_ARR
        | tc::TIME_ARR
        | tc::TIMESTAMP_ARR
        | tc::STRING_ARR
        | tc::DECIMAL_ARR => {
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
            return Err(Error::protocol(format!(
                "unknown type code {other} at offset {pos}"
            )));
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
        return Err(Error::protocol(format!(
            "handle at offset {pos} points {back} bytes back, outside the data"
        )));
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
    Err(Error::protocol(format!(
        "values nested deeper than {MAX_DEPTH} levels"
    )))
}

/// For a wrapped object (27) at `pos`: the position of the object inside it.
pub fn wrapped_target(buf: &[u8], pos: usize) -> Result<usize> {
    wrapped_span(buf, pos).map(|(inner, _)| inner)
}

/// For a wrapped object (27) at `pos`: the position of the object inside it, and the position
/// just past the wrapper (`code | length | bytes | the object's offset in them`).
#[inline]
pub fn wrapped_span(buf: &[u8], pos: usize) -> Result<(usize, usize)> {
    let mut r = Reader::at(buf, pos + 1)?;
    let len = r.len(1)?;
    let data_start = r.pos();
    r.skip(len)?;
    let offset = r.i32()?;
    if offset < 0 || offset as usize >= len {
        return Err(Error::protocol(format!(
            "wrapped object at offset {pos}: inner offset {offset} outside its {len} bytes"
        )));
    }
    Ok((data_start + offset as usize, r.pos()))
}

/// A Timestamp (type 33) after its type code, in nanoseconds since the epoch; an error outside
/// what an int64 of nanoseconds holds (years 1677-2262) rather than a wrapped value.
pub fn read_timestamp_nanos(r: &mut Reader<'_>) -> Result<i64> {
    let millis = r.i64()?;
    let extra_nanos = r.i32()?;
    millis
        .checked_mul(1_000_000)
        .and_then(|n| n.checked_add(extra_nanos as i64))
        .ok_or_else(|| {
            Error::Schema(format!(
                "timestamp {millis} ms is outside the range of datetime64[ns]"
            ))
        })
}
