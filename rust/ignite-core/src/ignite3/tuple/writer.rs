//! Builds Ignite 3 BinaryTuples (laid out in [`super`]) for what the client sends: SQL arguments,
//! statement properties and (through the `put_*` element writers) the streamer's rows.

use crate::calendar::{civil_from_days, TimeOfDay, NANOS_PER_SECOND};
use crate::decimal;

use crate::ignite3::tuple::VARLEN_EMPTY_BYTE;

// Element writers for the types whose layout is more than their bytes, in the widths Java's
// `BinaryTupleBuilder` picks.

/// Any integer type (INT8..INT64): the fewest bytes that hold the value.
#[inline]
pub fn put_int(out: &mut Vec<u8>, v: i64) {
    if let Ok(b) = i8::try_from(v) {
        out.push(b as u8);
    } else if let Ok(s) = i16::try_from(v) {
        out.extend_from_slice(&s.to_le_bytes());
    } else if let Ok(i) = i32::try_from(v) {
        out.extend_from_slice(&i.to_le_bytes());
    } else {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// DOUBLE: 4 bytes when the value is exactly a float32, else 8 (Java's `value == (float) value`
/// decides, so NaN takes 8).
#[inline]
pub fn put_double(out: &mut Vec<u8>, v: f64) {
    if v == (v as f32) as f64 {
        out.extend_from_slice(&(v as f32).to_le_bytes());
    } else {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// STRING or BYTE_ARRAY: the bytes, led by 0x80 when empty or when they start with 0x80.
#[inline]
pub fn put_varlen(out: &mut Vec<u8>, b: &[u8]) {
    if b.first().is_none_or(|&first| first == VARLEN_EMPTY_BYTE) {
        out.push(VARLEN_EMPTY_BYTE);
    }
    out.extend_from_slice(b);
}

/// DATE: `year << 9 | month << 5 | day` in 3 bytes (little-endian, the year signed).
pub fn put_date(out: &mut Vec<u8>, days: i64) {
    let (year, month, day) = civil_from_days(days);
    let packed = ((year << 9) | (month << 5) | day) as i32;
    out.extend_from_slice(&packed.to_le_bytes()[..3]);
}

/// TIME: hour, minute, second and the fraction packed in 4 (milliseconds), 5 (microseconds) or
/// 6 (nanoseconds) bytes, the fewest that hold the value. `nanos` is within one day.
pub fn put_time(out: &mut Vec<u8>, nanos: i64) {
    let t = TimeOfDay::from_nanos(nanos).expect("a time of day within one day");
    let (h, m, s) = (t.hour as u64, t.minute as u64, t.second as u64);
    let nano = t.nano as u64;
    if nano.is_multiple_of(1_000_000) {
        let packed = (h << 22) | (m << 16) | (s << 10) | (nano / 1_000_000);
        out.extend_from_slice(&(packed as u32).to_le_bytes());
    } else if nano.is_multiple_of(1_000) {
        let packed = (h << 32) | (m << 26) | (s << 20) | (nano / 1_000);
        out.extend_from_slice(&packed.to_le_bytes()[..5]);
    } else {
        let packed = (h << 42) | (m << 36) | (s << 30) | nano;
        out.extend_from_slice(&packed.to_le_bytes()[..6]);
    }
}

/// DATETIME (SQL `TIMESTAMP`): the date, then the time of day.
pub fn put_datetime(out: &mut Vec<u8>, seconds: i64, nanos: i32) {
    let days = seconds.div_euclid(86_400);
    put_date(out, days);
    put_time(
        out,
        seconds.rem_euclid(86_400) * NANOS_PER_SECOND + nanos as i64,
    );
}

/// TIMESTAMP (SQL `TIMESTAMP WITH LOCAL TIME ZONE`): seconds, and the nanoseconds when not 0.
pub fn put_instant(out: &mut Vec<u8>, seconds: i64, nanos: i32) {
    out.extend_from_slice(&seconds.to_le_bytes());
    if nanos != 0 {
        out.extend_from_slice(&nanos.to_le_bytes());
    }
}

/// UUID: Java's two longs (most significant first), each little-endian.
pub fn put_uuid(out: &mut Vec<u8>, canonical: &[u8; 16]) {
    for half in canonical.chunks_exact(8) {
        out.extend(half.iter().rev());
    }
}

/// DECIMAL: the scale as a short, then the unscaled value's two's complement big-endian bytes,
/// without trailing zeros (`BinaryTupleCommon.shrinkDecimal` after the column's rounding).
pub fn put_decimal(out: &mut Vec<u8>, unscaled: i128, scale: i32) {
    let (unscaled, scale) = decimal::strip_trailing_zeros(unscaled, scale);
    out.extend_from_slice(&(scale as i16).to_le_bytes());
    out.extend_from_slice(&decimal::to_twos_complement(unscaled));
}

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
        self.element(|o| put_int(o, v))
    }

    /// DOUBLE: 4 bytes when the value is exactly a float32 (as Ignite writes it), else 8.
    pub fn double(&mut self, v: f64) -> &mut Self {
        self.element(|o| put_double(o, v))
    }

    /// An element written by one of the `put_*` functions.
    pub fn element(&mut self, put: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        put(&mut self.values);
        self.end_element()
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// STRING or BYTE_ARRAY: the bytes, led by 0x80 when empty or when they start with 0x80.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.element(|o| put_varlen(o, b))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Empties the builder, keeping its buffers (one builder serves many rows).
    pub fn clear(&mut self) {
        self.values.clear();
        self.ends.clear();
    }

    /// The header flags and the width of an offset entry: the narrowest that holds every end.
    fn entry_width(&self) -> (u8, usize) {
        let total = self.values.len();
        if total <= 0xff {
            (0, 1)
        } else if total <= 0xffff {
            (1, 2)
        } else {
            (2, 4)
        }
    }

    /// How many bytes [`TupleBuilder::build_into`] appends.
    pub fn encoded_len(&self) -> usize {
        1 + self.entry_width().1 * self.ends.len() + self.values.len()
    }

    /// The tuple's bytes appended to `out`.
    pub fn build_into(&self, out: &mut Vec<u8>) {
        let (flags, entry) = self.entry_width();
        out.reserve(self.encoded_len());
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

    #[test]
    fn temporal_uuid_and_decimal_elements_match_the_java_builder() {
        // BinaryTupleBuilder(9) of date 2024-02-29; times 13:45:07.123456789, .123456, .123;
        // datetime -0001-12-31T23:59:59; instant -2 s + 500000001 ns;
        // UUID 123e4567-e89b-12d3-a456-426614174000; decimals 12.345 at scale 2, 100.00 at 3.
        let java = "0003090e12192535393c5dd00f15cd5bc7d13640e271b40d7b1c6d039fffff00ecfb05\
                    feffffffffffffff0165cd1dd3129be867453e1200401714664256a4020004d3feff01";
        let time = |h: i64, m: i64, s: i64, n: i64| ((h * 60 + m) * 60 + s) * NANOS_PER_SECOND + n;
        let uuid: [u8; 16] = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        let mut b = TupleBuilder::new();
        b.element(|o| put_date(o, 19_782))
            .element(|o| put_time(o, time(13, 45, 7, 123_456_789)))
            .element(|o| put_time(o, time(13, 45, 7, 123_456_000)))
            .element(|o| put_time(o, time(13, 45, 7, 123_000_000)))
            .element(|o| put_datetime(o, -719_529 * 86_400 + 86_399, 0))
            .element(|o| put_instant(o, -2, 500_000_001))
            .element(|o| put_uuid(o, &uuid))
            .element(|o| put_decimal(o, 1235, 2))
            .element(|o| put_decimal(o, 100_000, 3));
        let hex: String = b.build().iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(hex, java.replace(' ', ""));
    }
}
