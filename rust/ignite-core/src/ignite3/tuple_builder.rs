//! Builds Ignite 3 BinaryTuples (header byte, offset table, values) for what the client sends:
//! SQL arguments and statement properties. Reading tuples is the decoder's job
//! (`decode/ignite3`); the layout is in docs/IGNITE3-PROTOCOL.md.

/// The byte that marks an empty (or 0x80-led) variable-length value (`VARLEN_EMPTY_BYTE`).
pub const VARLEN_EMPTY_BYTE: u8 = 0x80;

/// Collects elements, then lays them out with the narrowest offset entries that fit.
#[derive(Default)]
pub struct TupleBuilder {
    values: Vec<u8>,
    /// End offset of each element within `values`.
    ends: Vec<usize>,
}

impl TupleBuilder {
    pub fn new() -> Self {
        TupleBuilder::default()
    }

    fn end_element(&mut self) -> &mut Self {
        self.ends.push(self.values.len());
        self
    }

    /// NULL: an element of zero bytes.
    pub fn null(&mut self) -> &mut Self {
        self.end_element()
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.values.push(v as u8);
        self.end_element()
    }

    /// Any integer column type (INT8..INT64): the fewest bytes that hold the value.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if let Ok(b) = i8::try_from(v) {
            self.values.push(b as u8);
        } else if let Ok(s) = i16::try_from(v) {
            self.values.extend_from_slice(&s.to_le_bytes());
        } else if let Ok(i) = i32::try_from(v) {
            self.values.extend_from_slice(&i.to_le_bytes());
        } else {
            self.values.extend_from_slice(&v.to_le_bytes());
        }
        self.end_element()
    }

    /// DOUBLE: 4 bytes when the value is exactly a float32 (as Ignite writes it), else 8.
    pub fn double(&mut self, v: f64) -> &mut Self {
        let narrow = v as f32;
        if narrow as f64 == v || v.is_nan() {
            self.values.extend_from_slice(&narrow.to_le_bytes());
        } else {
            self.values.extend_from_slice(&v.to_le_bytes());
        }
        self.end_element()
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// STRING or BYTE_ARRAY: the bytes, led by 0x80 when empty or when they start with 0x80.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        if b.first().is_none_or(|&first| first == VARLEN_EMPTY_BYTE) {
            self.values.push(VARLEN_EMPTY_BYTE);
        }
        self.values.extend_from_slice(b);
        self.end_element()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The tuple's bytes appended to `out`.
    pub fn build_into(&self, out: &mut Vec<u8>) {
        let total = self.values.len();
        let (flags, entry) = if total <= 0xff {
            (0u8, 1)
        } else if total <= 0xffff {
            (1, 2)
        } else {
            (2, 4)
        };
        out.reserve(1 + entry * self.ends.len() + total);
        out.push(flags);
        for &end in &self.ends {
            out.extend_from_slice(&(end as u32).to_le_bytes()[..entry]);
        }
        out.extend_from_slice(&self.values);
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.build_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_java_builder() {
        // Java: new BinaryTupleBuilder(3).appendInt(5).appendNull().appendString("").build()
        let mut b = TupleBuilder::new();
        b.int(5).null().str("");
        assert_eq!(b.build(), vec![0x00, 1, 1, 2, 5, 0x80]);
        assert_eq!(TupleBuilder::new().build(), vec![0x00]);
        let mut b = TupleBuilder::new();
        b.int(300).int(-70000).int(1 << 40).double(0.5).double(0.1);
        let t = b.build();
        assert_eq!(t[0], 0);
        assert_eq!(&t[1..6], &[2, 6, 14, 18, 26]);
        assert_eq!(&t[6..8], &300i16.to_le_bytes());
        assert_eq!(&t[20..24], &0.5f32.to_le_bytes());
        assert_eq!(&t[24..32], &0.1f64.to_le_bytes());
        assert_eq!(t.len(), 32);
    }

    #[test]
    fn wide_values_widen_the_offset_table() {
        let mut b = TupleBuilder::new();
        b.bytes(&[1; 300]).bytes(&[0x80]);
        let t = b.build();
        assert_eq!(t[0], 1);
        assert_eq!(&t[1..5], &[44, 1, 46, 1]); // 300, 302 as u16 LE
        assert_eq!(&t[5 + 300..], &[0x80, 0x80]);
    }
}
