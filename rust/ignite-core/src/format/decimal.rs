//! Decimals (type code 30): Java's `BigDecimal` as Ignite writes it, turned into an exact
//! decimal string or the nearest float64.

use crate::decimal;
use crate::error::{Error, Result};
use crate::net::wire::Reader;

/// A Decimal (type 30) after its type code: `int scale | int len | big-endian magnitude` with
/// the sign in the top bit of the first magnitude byte (as Ignite's BinaryUtils writes it).
pub struct DecimalParts<'a> {
    pub negative: bool,
    pub scale: i32,
    /// Magnitude, big-endian, with the sign bit still set in the first byte.
    magnitude: &'a [u8],
}

/// The longest magnitude read: 64 KB, about 158,000 digits. Text conversion takes time quadratic
/// in the length, so a hostile length must not reach it.
const MAX_MAGNITUDE_BYTES: usize = 1 << 16;

pub fn read_decimal<'a>(r: &mut Reader<'a>) -> Result<DecimalParts<'a>> {
    let scale = r.i32()?;
    let n = r.len(1)?;
    if n > MAX_MAGNITUDE_BYTES {
        return Err(Error::protocol(format!(
            "a decimal of {n} bytes (at most {MAX_MAGNITUDE_BYTES} are read)"
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

    /// The nearest float64 (correctly rounded, as parsing the exact text would be).
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

    fn decimal(scale: i32, magnitude: &[u8]) -> String {
        let mut bytes = scale.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(magnitude.len() as i32).to_le_bytes());
        bytes.extend_from_slice(magnitude);
        read_decimal(&mut Reader::new(&bytes))
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
}
