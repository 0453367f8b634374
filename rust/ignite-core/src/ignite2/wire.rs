//! Ignite 2's little-endian byte reading and writing, with its String and byte-array objects. Every
//! read is bounds-checked by the shared `bytes::ByteCursor` and returns a protocol error instead
//! of panicking: the bytes come from the network.

use crate::bytes::ByteCursor;
use crate::error::{Error, Result};
use crate::ignite2::protocol::type_code;

/// Ignite 2's reader: little-endian numbers and its length and String fields, on the shared
/// bounded cursor.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    bytes: ByteCursor<'a>,
}

macro_rules! read_le {
    ($($name:ident: $t:ty),*) => {$(
        #[inline]
        pub fn $name(&mut self) -> Result<$t> {
            self.bytes.le()
        }
    )*};
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            bytes: ByteCursor::new(buf),
        }
    }

    pub fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        ByteCursor::at(buf, pos).map(|bytes| Reader { bytes })
    }

    #[inline]
    pub fn pos(&self) -> usize {
        self.bytes.pos()
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.bytes.remaining()
    }

    pub fn buffer(&self) -> &'a [u8] {
        self.bytes.buffer()
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        self.bytes.take(n)
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes.skip(n)
    }

    read_le!(u8: u8, i8: i8, i16: i16, u16: u16, i32: i32, i64: i64);

    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    /// A UUID's body (after its type code 10: most significant long, then least, each
    /// little-endian) as the 16 bytes of its canonical form, i.e. Python's `uuid.UUID(bytes=...)`.
    pub fn uuid(&mut self) -> Result<[u8; 16]> {
        let msb = self.i64()?;
        let lsb = self.i64()?;
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&msb.to_be_bytes());
        out[8..].copy_from_slice(&lsb.to_be_bytes());
        Ok(out)
    }

    /// A length field: negative values are protocol errors, and the length is checked against
    /// what is left (times the element size) before anyone allocates for it.
    pub fn len(&mut self, elem_size: usize) -> Result<usize> {
        let n = self.i32()?;
        if n < 0 {
            return Err(Error::protocol(format!(
                "negative length {n} at offset {}",
                self.pos() - 4
            )));
        }
        let n = n as usize;
        if n.saturating_mul(elem_size) > self.remaining() {
            return Err(Error::protocol(format!(
                "length {n} x {elem_size} bytes at offset {} runs past the end of the data ({} bytes left)",
                self.pos() - 4,
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// A String object: type code 9 then length and UTF-8 bytes, or 101 for null.
    pub fn string_object(&mut self) -> Result<Option<String>> {
        match self.u8()? {
            type_code::NULL => Ok(None),
            type_code::STRING => {
                let n = self.len(1)?;
                let bytes = self.take(n)?;
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|_| Error::protocol("a string is not valid UTF-8"))
            }
            code => Err(Error::protocol(format!(
                "expected a string (type code 9), got type code {code}"
            ))),
        }
    }
}

/// A growable little-endian message builder.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            buf: Vec::with_capacity(64),
        }
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// A String object (type code 9), or null.
    pub fn string_object(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            None => self.u8(type_code::NULL),
            Some(s) => self
                .u8(type_code::STRING)
                .i32(s.len() as i32)
                .bytes(s.as_bytes()),
        }
    }
    /// A byte-array object (type code 12).
    pub fn byte_array_object(&mut self, v: &[u8]) -> &mut Self {
        self.u8(type_code::BYTE_ARR).i32(v.len() as i32).bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_checks_bounds() {
        let data = [1u8, 0, 0, 0, 0xff, 0xff];
        let mut r = Reader::new(&data);
        assert_eq!(r.i32().unwrap(), 1);
        assert_eq!(r.i16().unwrap(), -1);
        assert!(matches!(r.u8(), Err(Error::Protocol(_))));
    }

    #[test]
    fn rejects_negative_and_overlong_lengths() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.len(1), Err(Error::Protocol(_))));
        let mut r = Reader::new(&[10, 0, 0, 0, 1, 2]);
        assert!(matches!(r.len(1), Err(Error::Protocol(_))));
        // A huge element count must not be trusted for allocation either.
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0x7f]);
        assert!(r.len(8).is_err());
    }

    #[test]
    fn string_round_trip() {
        let mut w = Writer::new();
        w.string_object(Some("kätzchen")).string_object(None);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.string_object().unwrap().as_deref(), Some("kätzchen"));
        assert_eq!(r.string_object().unwrap(), None);
    }
}
