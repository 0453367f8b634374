//! A bounded cursor over a byte slice: the part every wire reader shares, whatever its format.
//! It hands out slices of the buffer (no copies) and fixed-width numbers in either byte order,
//! and turns running past the end into `Error::Protocol` instead of a panic: the bytes come from
//! the network. It knows no protocol; each format's reader is built on it.

use crate::error::{Error, Result};

/// A position in a byte slice, never past its end.
#[derive(Clone, Copy)]
pub struct ByteCursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A number of a fixed width that can be read in either byte order.
pub trait FixedWidth: Sized {
    const WIDTH: usize;
    fn from_le(bytes: &[u8]) -> Self;
    fn from_be(bytes: &[u8]) -> Self;
}

macro_rules! fixed_width {
    ($($t:ty),*) => {$(
        impl FixedWidth for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            #[inline]
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("length checked"))
            }
            #[inline]
            fn from_be(bytes: &[u8]) -> Self {
                <$t>::from_be_bytes(bytes.try_into().expect("length checked"))
            }
        }
    )*};
}

fixed_width!(u8, i8, u16, i16, u32, i32, u64, i64);

impl<'a> ByteCursor<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        ByteCursor { buf, pos: 0 }
    }

    /// A cursor starting at `pos`, which must lie within the buffer (its end included).
    pub fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        if pos > buf.len() {
            return Err(Error::protocol(format!(
                "offset {pos} is past the end of a {}-byte buffer",
                buf.len()
            )));
        }
        Ok(ByteCursor { buf, pos })
    }

    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The whole buffer, for offsets the data gives relative to its start.
    #[inline]
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// The next byte, left in place.
    #[inline]
    pub fn peek(&self) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => Err(truncated(1, self.pos, 0)),
        }
    }

    /// The next `n` bytes, as a slice of the buffer.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(truncated(n, self.pos, self.remaining()));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    #[inline]
    pub fn le<T: FixedWidth>(&mut self) -> Result<T> {
        self.take(T::WIDTH).map(T::from_le)
    }

    #[inline]
    pub fn be<T: FixedWidth>(&mut self) -> Result<T> {
        self.take(T::WIDTH).map(T::from_be)
    }
}

/// Kept out of line: the readers' fast path only tests and moves on.
#[cold]
#[inline(never)]
fn truncated(needed: usize, pos: usize, left: usize) -> Error {
    Error::protocol(format!(
        "truncated data: needed {needed} bytes at offset {pos}, only {left} left"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_either_byte_order_within_bounds() {
        let data = [1u8, 0, 0, 0, 0xff, 0xfe];
        let mut c = ByteCursor::new(&data);
        assert_eq!(c.le::<i32>().unwrap(), 1);
        assert_eq!(c.peek().unwrap(), 0xff);
        assert_eq!(c.be::<u16>().unwrap(), 0xfffe);
        assert_eq!(c.remaining(), 0);
        assert!(matches!(c.le::<u8>(), Err(Error::Protocol(_))));
        assert!(matches!(c.peek(), Err(Error::Protocol(_))));
    }

    #[test]
    fn a_short_or_misplaced_read_is_an_error_and_moves_nothing() {
        let data = [1u8, 2, 3];
        let mut c = ByteCursor::at(&data, 1).unwrap();
        let error = c.take(3).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("needed 3 bytes at offset 1, only 2 left"),
            "{error}"
        );
        assert_eq!(c.pos(), 1);
        assert_eq!(c.take(2).unwrap(), &[2, 3]);
        assert!(ByteCursor::at(&data, 3).is_ok());
        assert!(matches!(ByteCursor::at(&data, 4), Err(Error::Protocol(_))));
    }
}
