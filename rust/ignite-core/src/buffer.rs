//! A growable byte buffer aligned to 64 bytes. Column data lives in these so that numpy (and
//! TensorFlow, which copies any tensor whose data is not 64-byte aligned) can take it as is.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

pub const ALIGNMENT: usize = 64;

pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// The buffer owns its allocation exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}
unsafe impl Sync for AlignedBuf {}

impl Default for AlignedBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl AlignedBuf {
    pub const fn new() -> Self {
        // A dangling but aligned pointer, as Vec does for empty buffers.
        AlignedBuf { ptr: unsafe { NonNull::new_unchecked(ALIGNMENT as *mut u8) }, len: 0, cap: 0 }
    }

    pub fn with_capacity(cap: usize) -> Self {
        let mut b = Self::new();
        b.reserve(cap);
        b
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        let needed = self.len.checked_add(additional).expect("buffer size overflow");
        if needed <= self.cap {
            return;
        }
        self.grow(needed);
    }

    #[cold]
    fn grow(&mut self, needed: usize) {
        let new_cap = needed.max(self.cap * 2).max(ALIGNMENT);
        let new_layout = Layout::from_size_align(new_cap, ALIGNMENT).expect("buffer too large");
        let ptr = unsafe {
            if self.cap == 0 {
                alloc::alloc(new_layout)
            } else {
                let old = Layout::from_size_align_unchecked(self.cap, ALIGNMENT);
                alloc::realloc(self.ptr.as_ptr(), old, new_cap)
            }
        };
        self.ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(new_layout));
        self.cap = new_cap;
    }

    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len());
        }
        self.len += data.len();
    }

    pub fn extend_zeros(&mut self, n: usize) {
        self.reserve(n);
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, n) };
        self.len += n;
    }

    #[inline]
    pub fn push_u8(&mut self, v: u8) {
        self.reserve(1);
        unsafe { *self.ptr.as_ptr().add(self.len) = v };
        self.len += 1;
    }

    #[inline]
    pub fn push_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }

    /// Reads the i64 at element index `i` (the buffer holds little-endian i64s).
    #[inline]
    pub fn i64_at(&self, i: usize) -> i64 {
        let s = &self.as_slice()[i * 8..i * 8 + 8];
        i64::from_le_bytes(s.try_into().unwrap())
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.cap != 0 {
            unsafe {
                alloc::dealloc(self.ptr.as_ptr(), Layout::from_size_align_unchecked(self.cap, ALIGNMENT))
            };
        }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_aligned_while_growing() {
        let mut b = AlignedBuf::new();
        for i in 0..10_000u32 {
            b.extend_from_slice(&i.to_le_bytes());
            assert_eq!(b.as_ptr() as usize % ALIGNMENT, 0);
        }
        assert_eq!(b.len(), 40_000);
        assert_eq!(&b.as_slice()[4..8], &1u32.to_le_bytes());
        b.push_i64(-3);
        b.extend_zeros(5);
        assert_eq!(b.len(), 40_013);
    }
}
