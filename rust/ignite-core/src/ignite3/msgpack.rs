//! The MessagePack subset the Ignite 3 client protocol uses: nil, bool, integers of every width,
//! str, bin, array/map headers, and ext (ext type 3 is a UUID).
//!
//! Hand-rolled rather than `rmp`: the subset is small, and the reader must hand out `bin` payloads
//! as slices (ranges) of the frame buffer, accept any integer width and any string-header width
//! (Ignite's packer over-reserves string headers), and turn every malformed byte into the crate's
//! `Error::Protocol`. Declared lengths are checked against the bytes present before anything is
//! sliced, so hostile lengths cost nothing.

use std::ops::Range;

use crate::bytes::ByteCursor;
use crate::error::{Error, Result};

/// MessagePack ext type of a UUID in Ignite 3 (`ClientMsgPackType.UUID`).
pub const EXT_UUID: i8 = 3;

/// How deep `skip` follows nested arrays and maps before calling the data hostile.
const MAX_SKIP_DEPTH: usize = 32;

/// A cursor over MessagePack values in a byte slice, on the shared bounded cursor.
#[derive(Clone, Copy)]
pub struct MsgReader<'a> {
    bytes: ByteCursor<'a>,
}

fn unexpected(expected: &str, marker: u8, pos: usize) -> Error {
    Error::protocol(format!(
        "expected {expected} at offset {pos}, found MessagePack marker 0x{marker:02x}"
    ))
}

impl<'a> MsgReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        MsgReader {
            bytes: ByteCursor::new(buf),
        }
    }

    /// A reader starting at `pos` (which must lie within the buffer).
    pub fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        ByteCursor::at(buf, pos).map(|bytes| MsgReader { bytes })
    }

    pub fn pos(&self) -> usize {
        self.bytes.pos()
    }

    pub fn remaining(&self) -> usize {
        self.bytes.remaining()
    }

    fn byte(&mut self) -> Result<u8> {
        self.bytes.le()
    }

    /// Consumes a nil if one is next; true when it did.
    pub fn try_nil(&mut self) -> Result<bool> {
        if self.bytes.peek()? == 0xc0 {
            self.bytes.skip(1)?;
            return Ok(true);
        }
        Ok(false)
    }

    pub fn nil(&mut self) -> Result<()> {
        let at = self.pos();
        match self.byte()? {
            0xc0 => Ok(()),
            m => Err(unexpected("nil", m, at)),
        }
    }

    pub fn bool(&mut self) -> Result<bool> {
        let at = self.pos();
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            m => Err(unexpected("a bool", m, at)),
        }
    }

    /// An integer of any MessagePack width that fits an i64.
    pub fn i64(&mut self) -> Result<i64> {
        let at = self.pos();
        let m = self.byte()?;
        Ok(match m {
            0x00..=0x7f => m as i64,
            0xe0..=0xff => m as i8 as i64,
            0xcc => self.byte()? as i64,
            0xcd => self.bytes.be::<u16>()? as i64,
            0xce => self.bytes.be::<u32>()? as i64,
            0xcf => {
                let v = self.bytes.be::<u64>()?;
                i64::try_from(v).map_err(|_| {
                    Error::protocol(format!("integer {v} at offset {at} does not fit an i64"))
                })?
            }
            0xd0 => self.byte()? as i8 as i64,
            0xd1 => self.bytes.be::<i16>()? as i64,
            0xd2 => self.bytes.be::<i32>()? as i64,
            0xd3 => self.bytes.be::<i64>()?,
            _ => return Err(unexpected("an integer", m, at)),
        })
    }

    /// An integer that must fit an i32.
    pub fn i32(&mut self) -> Result<i32> {
        let at = self.pos();
        let v = self.i64()?;
        i32::try_from(v)
            .map_err(|_| Error::protocol(format!("integer {v} at offset {at} does not fit an i32")))
    }

    /// A count or size: a non-negative integer that fits an i32 (what Java's `unpackInt` gives).
    pub fn count(&mut self) -> Result<usize> {
        let at = self.pos();
        let v = self.i32()?;
        usize::try_from(v)
            .map_err(|_| Error::protocol(format!("negative count {v} at offset {at}")))
    }

    /// The bytes of a str value (any header width).
    pub fn str_bytes(&mut self) -> Result<&'a [u8]> {
        let at = self.pos();
        let m = self.byte()?;
        let len = match m {
            0xa0..=0xbf => (m & 0x1f) as usize,
            0xd9 => self.byte()? as usize,
            0xda => self.bytes.be::<u16>()? as usize,
            0xdb => self.bytes.be::<u32>()? as usize,
            _ => return Err(unexpected("a string", m, at)),
        };
        self.bytes.take(len)
    }

    pub fn str(&mut self) -> Result<&'a str> {
        let at = self.pos();
        let bytes = self.str_bytes()?;
        std::str::from_utf8(bytes)
            .map_err(|_| Error::protocol(format!("string at offset {at} is not UTF-8")))
    }

    pub fn str_or_nil(&mut self) -> Result<Option<&'a str>> {
        if self.try_nil()? {
            return Ok(None);
        }
        self.str().map(Some)
    }

    /// Where the payload of a bin value lies in the buffer (no copy).
    pub fn bin_range(&mut self) -> Result<Range<usize>> {
        let at = self.pos();
        let m = self.byte()?;
        let len = match m {
            0xc4 => self.byte()? as usize,
            0xc5 => self.bytes.be::<u16>()? as usize,
            0xc6 => self.bytes.be::<u32>()? as usize,
            _ => return Err(unexpected("binary data", m, at)),
        };
        let start = self.pos();
        self.bytes.skip(len)?;
        Ok(start..start + len)
    }

    pub fn bin(&mut self) -> Result<&'a [u8]> {
        let range = self.bin_range()?;
        Ok(&self.bytes.buffer()[range])
    }

    pub fn array_len(&mut self) -> Result<usize> {
        let at = self.pos();
        let m = self.byte()?;
        Ok(match m {
            0x90..=0x9f => (m & 0x0f) as usize,
            0xdc => self.bytes.be::<u16>()? as usize,
            0xdd => self.bytes.be::<u32>()? as usize,
            _ => return Err(unexpected("an array", m, at)),
        })
    }

    pub fn map_len(&mut self) -> Result<usize> {
        let at = self.pos();
        let m = self.byte()?;
        Ok(match m {
            0x80..=0x8f => (m & 0x0f) as usize,
            0xde => self.bytes.be::<u16>()? as usize,
            0xdf => self.bytes.be::<u32>()? as usize,
            _ => return Err(unexpected("a map", m, at)),
        })
    }

    /// An ext value: its type and payload.
    pub fn ext(&mut self) -> Result<(i8, &'a [u8])> {
        let at = self.pos();
        let m = self.byte()?;
        let len = match m {
            0xd4 => 1,
            0xd5 => 2,
            0xd6 => 4,
            0xd7 => 8,
            0xd8 => 16,
            0xc7 => self.byte()? as usize,
            0xc8 => self.bytes.be::<u16>()? as usize,
            0xc9 => self.bytes.be::<u32>()? as usize,
            _ => return Err(unexpected("an extension value", m, at)),
        };
        let ext_type = self.byte()? as i8;
        Ok((ext_type, self.bytes.take(len)?))
    }

    /// A UUID (ext 3, 16 bytes: most- then least-significant half, each a little-endian i64),
    /// returned in the canonical big-endian byte order of its text form.
    pub fn uuid(&mut self) -> Result<[u8; 16]> {
        let at = self.pos();
        let (ext_type, payload) = self.ext()?;
        if ext_type != EXT_UUID || payload.len() != 16 {
            return Err(Error::protocol(format!(
                "expected a UUID at offset {at}, found ext type {ext_type} of {} bytes",
                payload.len()
            )));
        }
        let mut out = [0u8; 16];
        for (half, chunk) in out.chunks_exact_mut(8).zip(payload.chunks_exact(8)) {
            half.copy_from_slice(chunk);
            half.reverse();
        }
        Ok(out)
    }

    /// Skips one value of any kind, nested arrays and maps included.
    pub fn skip(&mut self) -> Result<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_SKIP_DEPTH {
            return Err(Error::protocol(format!(
                "MessagePack values nested deeper than {MAX_SKIP_DEPTH} at offset {}",
                self.pos()
            )));
        }
        let m = self.bytes.peek()?;
        match m {
            0xc0 | 0xc2 | 0xc3 | 0x00..=0x7f | 0xe0..=0xff => {
                self.bytes.skip(1)?;
            }
            // fixed-size numbers: marker plus 1, 2, 4 or 8 bytes
            0xcc | 0xd0 => {
                self.bytes.skip(2)?;
            }
            0xcd | 0xd1 => {
                self.bytes.skip(3)?;
            }
            0xca | 0xce | 0xd2 => {
                self.bytes.skip(5)?;
            }
            0xcb | 0xcf | 0xd3 => {
                self.bytes.skip(9)?;
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                self.str_bytes()?;
            }
            0xc4..=0xc6 => {
                self.bin_range()?;
            }
            0xd4..=0xd8 | 0xc7..=0xc9 => {
                self.ext()?;
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                // Every element takes at least one byte, so a hostile count runs out of bytes
                // after at most `remaining` rounds.
                for _ in 0..self.array_len()? {
                    self.skip_nested(depth + 1)?;
                }
            }
            0x80..=0x8f | 0xde | 0xdf => {
                for _ in 0..self.map_len()? {
                    self.skip_nested(depth + 1)?;
                    self.skip_nested(depth + 1)?;
                }
            }
            0xc1 => return Err(unexpected("a value", m, self.pos())),
        }
        Ok(())
    }
}

/// Appends MessagePack values to a byte vector (the smallest encoding for each value).
pub struct MsgWriter<'a> {
    pub buf: &'a mut Vec<u8>,
}

impl<'a> MsgWriter<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        MsgWriter { buf }
    }

    pub fn nil(&mut self) -> &mut Self {
        self.buf.push(0xc0);
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(if v { 0xc3 } else { 0xc2 });
        self
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        match v {
            0..=0x7f => self.buf.push(v as u8),
            -32..=-1 => self.buf.push(v as i8 as u8),
            -128..=127 => self.buf.extend_from_slice(&[0xd0, v as i8 as u8]),
            128..=255 => self.buf.extend_from_slice(&[0xcc, v as u8]),
            -32768..=32767 => {
                self.buf.push(0xd1);
                self.buf.extend_from_slice(&(v as i16).to_be_bytes());
            }
            _ if i32::try_from(v).is_ok() => {
                self.buf.push(0xd2);
                self.buf.extend_from_slice(&(v as i32).to_be_bytes());
            }
            _ => {
                self.buf.push(0xd3);
                self.buf.extend_from_slice(&v.to_be_bytes());
            }
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        let len = s.len();
        if len < 32 {
            self.buf.push(0xa0 | len as u8);
        } else if len <= u8::MAX as usize {
            self.buf.extend_from_slice(&[0xd9, len as u8]);
        } else if len <= u16::MAX as usize {
            self.buf.push(0xda);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0xdb);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    pub fn str_or_nil(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.nil(),
        }
    }

    pub fn bin_header(&mut self, len: usize) -> &mut Self {
        if len <= u8::MAX as usize {
            self.buf.extend_from_slice(&[0xc4, len as u8]);
        } else if len <= u16::MAX as usize {
            self.buf.push(0xc5);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0xc6);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
        self
    }

    pub fn bin(&mut self, bytes: &[u8]) -> &mut Self {
        self.bin_header(bytes.len());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A UUID given in canonical big-endian byte order, written as Ignite's ext 3.
    pub fn uuid(&mut self, uuid: &[u8; 16]) -> &mut Self {
        self.buf.extend_from_slice(&[0xd8, EXT_UUID as u8]);
        for half in uuid.chunks_exact(8) {
            self.buf.extend(half.iter().rev());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_at_every_width() {
        let values = [
            0,
            1,
            127,
            128,
            255,
            256,
            -1,
            -32,
            -33,
            -128,
            -129,
            32767,
            -32768,
            65536,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let mut buf = Vec::new();
        for v in values {
            MsgWriter::new(&mut buf).int(v);
        }
        let mut r = MsgReader::new(&buf);
        for v in values {
            assert_eq!(r.i64().unwrap(), v);
        }
        assert_eq!(r.remaining(), 0);
        // unsigned encodings from other writers
        let mut r = MsgReader::new(&[0xcd, 0xff, 0xff, 0xce, 0, 1, 0, 0]);
        assert_eq!(r.i64().unwrap(), 65535);
        assert_eq!(r.i64().unwrap(), 65536);
        let big = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            MsgReader::new(&big).i64(),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            MsgReader::new(&[0xd2, 0x7f, 0xff, 0xff, 0xff]).count(),
            Ok(0x7fff_ffff)
        ));
        assert!(MsgReader::new(&[0xff]).count().is_err());
        assert!(MsgReader::new(&[0xd3, 0, 0, 0, 1, 0, 0, 0, 0])
            .i32()
            .is_err());
    }

    #[test]
    fn strings_with_any_header_width() {
        let mut r = MsgReader::new(&[0xda, 0, 2, b'h', b'i', 0xd9, 1, b'x', 0xa1, b'y', 0xc0]);
        assert_eq!(r.str().unwrap(), "hi");
        assert_eq!(r.str().unwrap(), "x");
        assert_eq!(r.str_or_nil().unwrap(), Some("y"));
        assert_eq!(r.str_or_nil().unwrap(), None);
        let long = "z".repeat(300);
        let mut buf = Vec::new();
        MsgWriter::new(&mut buf).str(&long).str("").bin(&[1, 2, 3]);
        let mut r = MsgReader::new(&buf);
        assert_eq!(r.str().unwrap(), long);
        assert_eq!(r.str().unwrap(), "");
        assert_eq!(r.bin().unwrap(), &[1, 2, 3]);
        assert!(MsgReader::new(&[0xa2, 0xff, 0xfe]).str().is_err());
    }

    #[test]
    fn uuid_halves_are_little_endian_on_the_wire() {
        let canonical: [u8; 16] = std::array::from_fn(|i| i as u8);
        let mut buf = Vec::new();
        MsgWriter::new(&mut buf).uuid(&canonical);
        assert_eq!(&buf[..2], &[0xd8, 3]);
        assert_eq!(&buf[2..10], &[7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(MsgReader::new(&buf).uuid().unwrap(), canonical);
        assert!(MsgReader::new(&[0xd7, 3, 0, 0, 0, 0, 0, 0, 0, 0])
            .uuid()
            .is_err());
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        for bytes in [
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 1][..],
            &[0xdb, 0x7f, 0xff, 0xff, 0xff][..],
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 3][..],
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2][..],
            &[0xdf, 0xff, 0xff, 0xff, 0xff][..],
            &[][..],
            &[0xc1][..],
        ] {
            assert!(matches!(
                MsgReader::new(bytes).skip(),
                Err(Error::Protocol(_))
            ));
        }
        assert!(MsgReader::new(&[0xc6, 0xff, 0xff, 0xff, 0xff])
            .bin()
            .is_err());
        let deep = vec![0x91u8; 100];
        assert!(MsgReader::new(&deep).skip().is_err());
    }

    #[test]
    fn skip_passes_over_every_kind() {
        let mut buf = vec![
            0x92, 0x01, 0x81, 0xa1, b'k', 0xc3, // [1, {"k": true}]
            0xcb, 0, 0, 0, 0, 0, 0, 0, 0, // f64
            0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // u64 max
        ];
        MsgWriter::new(&mut buf).uuid(&[9; 16]).nil();
        let mut r = MsgReader::new(&buf);
        for _ in 0..4 {
            r.skip().unwrap();
        }
        r.nil().unwrap();
        assert_eq!(r.remaining(), 0);
    }
}
