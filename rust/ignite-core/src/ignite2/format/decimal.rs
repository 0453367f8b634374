//! Decimals (type code 30): Java's `BigDecimal` as Ignite writes it, turned into an exact
//! decimal string or the nearest float64.

use crate::decimal;
use crate::error::{Error, Result};
use crate::ignite2::wire::Reader;

/// A Decimal (type 30) after its type code: `int scale | int len | big-endian magnitude` with
/// the sign in the top bit of the first magnitude byte (as Ignite's BinaryUtils writes it).
pub struct DecimalParts<'a> {
    pub negative: bool,
    pub scale: i32,
    /// Magnitude, big-endian, with the sign bit still set in the first byte.
    magnitude: &'a [u8],
}

/// Reads a decimal's parts; one longer than [`decimal::MAX_READ_BYTES`] (32,767 digits, as
/// Ignite 3 caps them) is a [`Error::Schema`]: converting it would take time quadratic in its
/// length.
pub fn read_decimal<'a>(r: &mut Reader<'a>) -> Result<DecimalParts<'a>> {
    let scale = r.i32()?;
    let n = r.len(1)?;
    if n > decimal::MAX_READ_BYTES {
        return Err(Error::Schema(format!(
            "a decimal of {n} bytes: more than the {} digits read (at most {} bytes)",
            decimal::MAX_READ_DIGITS,
            decimal::MAX_READ_BYTES
        )));
    }
    let magnitude = r.take(n)?;
    let negative = magnitude.first().is_some_and(|b| b & 0x80 != 0);
    Ok(DecimalParts {
        negative,
        scale,
        magnitude,
    })
}

impl DecimalParts<'_> {
    /// The exact value as a decimal string, e.g. `-12.3400`, `1.5E+3` for a negative scale.
    pub fn to_decimal_string(&self) -> String {
        let mut magnitude = self.magnitude.to_vec();
        if let Some(first) = magnitude.first_mut() {
            *first &= 0x7f; // the sign bit
        }
        decimal::to_text(self.negative, self.scale as i64, &magnitude)
    }

    /// The nearest float64 (correctly rounded, as parsing the exact text would be); without
    /// text when the unscaled value is below 2^53 and the scale within ±22 (see
    /// [`decimal::to_f64`]).
    pub fn to_f64(&self) -> f64 {
        let n = self.magnitude.len();
        if n <= 8 {
            // the magnitude without its sign bit, on the stack
            let mut word = [0u8; 8];
            word[8 - n..].copy_from_slice(self.magnitude);
            if n > 0 {
                word[8 - n] &= 0x7f;
            }
            return decimal::to_f64(self.negative, self.scale as i64, &word);
        }
        let mut unsigned = self.magnitude.to_vec();
        unsigned[0] &= 0x7f;
        decimal::to_f64(self.negative, self.scale as i64, &unsigned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decimal's body as Ignite 2 writes it (after the type code).
    fn body(scale: i32, magnitude: &[u8]) -> Vec<u8> {
        let mut bytes = scale.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(magnitude.len() as i32).to_le_bytes());
        bytes.extend_from_slice(magnitude);
        bytes
    }

    fn decimal(scale: i32, magnitude: &[u8]) -> String {
        read_decimal(&mut Reader::new(&body(scale, magnitude)))
            .unwrap()
            .to_decimal_string()
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
        assert_eq!(
            decimal(0, &[0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
        assert_eq!(
            decimal(3, &[0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551.616"
        );
    }

    #[test]
    fn decimals_longer_than_ignite_3_reads_are_a_schema_error() {
        // 13,608 bytes: 32,767 digits and a sign byte, as Java writes the longest Ignite 3 takes
        let mut longest = vec![0x7f; decimal::MAX_READ_BYTES];
        longest[0] = 0x80; // negative, magnitude 0x7f7f...
        let text = decimal(0, &longest);
        assert!(
            text.starts_with('-') && text.len() > 32_700,
            "{}",
            text.len()
        );
        let too_long = body(0, &vec![1; decimal::MAX_READ_BYTES + 1]);
        let err = read_decimal(&mut Reader::new(&too_long)).err().unwrap();
        assert!(matches!(err, Error::Schema(_)), "{err:?}");
        assert!(err.to_string().contains("13609 bytes"), "{err}");
        // the old limit, 64 KiB, is far past it
        let old_limit = body(0, &vec![1; 1 << 16]);
        assert!(read_decimal(&mut Reader::new(&old_limit)).is_err());
    }

    /// Java's `BigDecimal` as Ignite 2 writes it: the magnitude's `BigInteger.toByteArray`
    /// (a leading zero byte when its top bit is set) with the sign in the first byte's top bit.
    fn ignite2_magnitude(negative: bool, unsigned: &[u8]) -> Vec<u8> {
        let significant = &unsigned[unsigned.iter().take_while(|&&b| b == 0).count()..];
        let mut m = if significant.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        m.extend_from_slice(significant);
        if m.is_empty() {
            m.push(0);
        }
        if negative {
            m[0] |= 0x80;
        }
        m
    }

    #[test]
    fn ignite2_floats_take_the_short_path_and_equal_the_parsed_text() {
        // Every value below 2^53 fits the 8 bytes the short path reads, sign byte included; the
        // float equals the text's, bit for bit, on both sides of that bound.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..100_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bits = 1 + (i % 64) as u32; // magnitudes of every bit length up to 64
            let unsigned = if bits == 64 {
                state
            } else {
                state & ((1u64 << bits) - 1)
            };
            let negative = state >> 63 == 1;
            let scale = (state % 61) as i32 - 30;
            let m = ignite2_magnitude(negative, &unsigned.to_be_bytes());
            if unsigned < 1 << 53 {
                assert!(m.len() <= 8, "{unsigned} took {} bytes", m.len());
            }
            let bytes = body(scale, &m);
            let parts = read_decimal(&mut Reader::new(&bytes)).unwrap();
            let text: f64 = parts.to_decimal_string().parse().unwrap();
            assert_eq!(
                parts.to_f64().to_bits(),
                text.to_bits(),
                "{negative} {unsigned} scale {scale}"
            );
        }
        // a negative zero's sign bit gives 0.0, as BigDecimal's zero has no sign
        let zero = body(3, &[0x80]);
        let parts = read_decimal(&mut Reader::new(&zero)).unwrap();
        assert_eq!(parts.to_f64().to_bits(), 0f64.to_bits());
        assert_eq!(parts.to_decimal_string(), "0.000");
    }
}
