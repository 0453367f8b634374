//! Exact decimals as text: an unsigned big-endian magnitude and a scale into `-12.3400` or
//! `1.5E+3`, as Java's `BigDecimal.toString` writes them. Both wire formats' decimals (Ignite 2's
//! sign-and-magnitude, Ignite 3's two's complement) come down to these parts, so both read the
//! same text.

/// The most digits a decimal read may have: Ignite 3's DECIMAL precision
/// (`CatalogUtils.MAX_DECIMAL_PRECISION`). Ignite 2 sets no limit, but both generations' readers
/// take the same: text conversion takes time quadratic in the length, so longer (hostile)
/// values must not reach it.
pub const MAX_READ_DIGITS: u32 = 32_767;

/// The bytes of the longest magnitude read: 32,767 digits take 13,607 bytes (108,850 bits),
/// and a sign bit may add one (Java's `BigInteger.toByteArray`, which both generations write).
pub const MAX_READ_BYTES: usize = 13_608;

/// `magnitude` is unsigned, big-endian; the value is `(-1 if negative) * magnitude * 10^-scale`.
pub fn to_text(negative: bool, scale: i64, magnitude: &[u8]) -> String {
    to_text_at_least(negative, scale, magnitude, scale)
}

/// The most zeros [`to_text_at_least`] appends to reach a column's scale.
const MAX_PADDING: i64 = 1000;

/// As [`to_text`], with at least `min_scale` digits after the point (trailing zeros added, up to
/// a thousand): the text of a value stored without its trailing zeros, at its column's scale
/// (Ignite 3 stores `100.00` of a DECIMAL(10, 2) as `1E+2`).
pub fn to_text_at_least(negative: bool, scale: i64, magnitude: &[u8], min_scale: i64) -> String {
    let limbs = billions(magnitude);
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
    let sign = if negative && digits != "0" { "-" } else { "" };
    let mut scale = scale;
    if min_scale > scale && min_scale - scale <= MAX_PADDING {
        digits.push_str(&"0".repeat((min_scale - scale) as usize));
        scale = min_scale;
    }
    // Plain notation while it stays short; scientific beyond that, so that a hostile scale
    // cannot make us write billions of zeros.
    const MAX_PLAIN_ZEROS: i64 = 64;
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
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!(
            "{sign}{first}{fraction}E{}{exponent}",
            if exponent >= 0 { "+" } else { "" }
        )
    }
}

/// The base-10^9 limbs of an unsigned big-endian magnitude, least significant first, by long
/// division of its base-2^32 words (quadratic in the length: callers cap it).
fn billions(magnitude: &[u8]) -> Vec<u32> {
    const BILLION: u64 = 1_000_000_000;
    let significant = &magnitude[magnitude.iter().take_while(|&&b| b == 0).count()..];
    // most significant word first; the first takes the bytes left over
    let head = significant.len() % 4;
    let mut words: Vec<u32> = Vec::with_capacity(significant.len() / 4 + 1);
    if head > 0 {
        words.push(
            significant[..head]
                .iter()
                .fold(0, |w, &b| (w << 8) | b as u32),
        );
    }
    words.extend(
        significant[head..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
    );
    let mut limbs = Vec::with_capacity(significant.len() * 8 / 29 + 1);
    let mut start = 0; // words before it are zero
    while start < words.len() {
        let mut rem = 0u64;
        for word in &mut words[start..] {
            // rem < 10^9 < 2^30: the dividend fits 62 bits and the quotient 32
            let dividend = (rem << 32) | *word as u64;
            *word = (dividend / BILLION) as u32;
            rem = dividend % BILLION;
        }
        limbs.push(rem as u32);
        while start < words.len() && words[start] == 0 {
            start += 1;
        }
    }
    limbs
}

/// Powers of ten that are exact float64 values (10^22 is the last).
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The nearest float64 to `(-1 if negative) * magnitude * 10^-scale`, `magnitude` unsigned
/// big-endian. Most decimals take a short path without text: one IEEE division (or product) of
/// two exact operands, an integer below 2^53 and a power of ten up to 10^22, is correctly
/// rounded, as parsing the exact text would be.
pub fn to_f64(negative: bool, scale: i64, magnitude: &[u8]) -> f64 {
    let significant = &magnitude[magnitude.iter().take_while(|&&b| b == 0).count()..];
    if significant.len() <= 8 {
        let m = significant
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64);
        if let Some(v) = exact_quotient(m, scale) {
            return if negative && m != 0 { -v } else { v };
        }
    }
    to_text(negative, scale, magnitude)
        .parse()
        .unwrap_or(f64::NAN)
}

/// `m * 10^-scale` as one correctly rounded operation, when both operands are exact.
#[inline]
fn exact_quotient(m: u64, scale: i64) -> Option<f64> {
    if m >= 1 << 53 || !(-22..=22).contains(&scale) {
        return None;
    }
    let power = EXACT_POWERS_OF_TEN[scale.unsigned_abs() as usize];
    Some(if scale >= 0 {
        m as f64 / power
    } else {
        m as f64 * power
    })
}

/// The nearest float64 to a two's complement big-endian unscaled value (Java's
/// `BigInteger.toByteArray`) times `10^-scale`.
pub fn twos_complement_to_f64(bytes: &[u8], scale: i64) -> f64 {
    if (1..=8).contains(&bytes.len()) {
        // sign-extend to 64 bits
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut word = [fill; 8];
        word[8 - bytes.len()..].copy_from_slice(bytes);
        let v = i64::from_be_bytes(word);
        if let Some(q) = exact_quotient(v.unsigned_abs(), scale) {
            return if v < 0 { -q } else { q };
        }
    }
    let (negative, magnitude) = from_twos_complement(bytes);
    to_f64(negative, scale, &magnitude)
}

/// The parts of a two's complement big-endian integer (Java's `BigInteger.toByteArray`):
/// whether it is negative, and its unsigned magnitude.
pub fn from_twos_complement(bytes: &[u8]) -> (bool, Vec<u8>) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude = bytes.to_vec();
    if negative {
        // -x = !x + 1
        let mut carry = true;
        for byte in magnitude.iter_mut().rev() {
            let (sum, overflow) = (!*byte).overflowing_add(carry as u8);
            *byte = sum;
            carry = overflow;
        }
    }
    (negative, magnitude)
}

/// The most digits an exact decimal written by this crate holds: what an `i128` always holds.
pub const MAX_WRITE_DIGITS: u32 = 38;

/// Why a decimal text could not be written at a scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseDecimalError {
    /// Not a decimal number (also NaN and infinities).
    NotANumber,
    /// More than [`MAX_WRITE_DIGITS`] digits at the scale asked for.
    TooManyDigits,
}

/// The unscaled value of decimal `text` (`-12.345`, `1.5E+3`, `7`) at `scale` digits after the
/// point, rounded half away from zero (Java's `RoundingMode.HALF_UP`).
pub fn parse_unscaled(text: &str, scale: i32) -> Result<i128, ParseDecimalError> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (
            &text[..i],
            text[i + 1..]
                .parse::<i64>()
                .map_err(|_| ParseDecimalError::NotANumber)?,
        ),
        None => (text, 0),
    };
    let (negative, unsigned) = match mantissa.as_bytes().first() {
        Some(b'-') => (true, &mantissa[1..]),
        Some(b'+') => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_ok(whole) || !digits_ok(fraction) {
        return Err(ParseDecimalError::NotANumber);
    }
    // The value is digits * 10^(exponent - fraction digits); at `scale` the digits shift by:
    let shift = exponent - fraction.len() as i64 + scale as i64;
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let (kept, dropped) = if shift >= 0 {
        (digits, "")
    } else {
        digits.split_at(digits.len().saturating_sub(shift.unsigned_abs() as usize))
    };
    let kept_digits = kept.len() as i64 + shift.max(0);
    if kept_digits > MAX_WRITE_DIGITS as i64 {
        return Err(ParseDecimalError::TooManyDigits);
    }
    let mut value: i128 = 0;
    for b in kept.bytes() {
        value = value * 10 + (b - b'0') as i128;
    }
    value *= 10i128.pow(shift.max(0) as u32);
    // dropped digits: round on the first; when the shift drops more digits than there are, the
    // first dropped one is an implied leading zero
    let dropped_all = shift < 0 && shift.unsigned_abs() as usize > digits.len();
    if !dropped_all && dropped.as_bytes().first().is_some_and(|&b| b >= b'5') {
        value += 1;
        if value >= 10i128.pow(MAX_WRITE_DIGITS) {
            return Err(ParseDecimalError::TooManyDigits);
        }
    }
    Ok(if negative { -value } else { value })
}

/// Decimal digits of `value`'s magnitude (1 for zero).
pub fn digit_count(value: i128) -> u32 {
    value.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1)
}

/// `value`'s two's complement big-endian bytes, as few as hold it (`BigInteger.toByteArray`).
pub fn to_twos_complement(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let sign = if value < 0 { 0xff } else { 0 };
    // drop leading sign bytes while the next byte still carries the sign in its top bit
    let mut start = 0;
    while start < 15 && bytes[start] == sign && (bytes[start + 1] & 0x80) == (sign & 0x80) {
        start += 1;
    }
    bytes[start..].to_vec()
}

/// `unscaled * 10^-scale` without trailing zeros (`BigDecimal.stripTrailingZeros`; zero has
/// scale 0).
pub fn strip_trailing_zeros(mut unscaled: i128, mut scale: i32) -> (i128, i32) {
    if unscaled == 0 {
        return (0, 0);
    }
    while unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    (unscaled, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twos_complement_magnitudes() {
        assert_eq!(
            from_twos_complement(&[0x04, 0xD2]),
            (false, vec![0x04, 0xD2])
        );
        assert_eq!(
            from_twos_complement(&[0xFB, 0x2E]),
            (true, vec![0x04, 0xD2])
        ); // -1234
        assert_eq!(from_twos_complement(&[0x80]), (true, vec![0x80])); // -128
        assert_eq!(from_twos_complement(&[0xFF]), (true, vec![0x01]));
        let (neg, mag) = from_twos_complement(&[0xFB, 0x2E]);
        assert_eq!(to_text(neg, 2, &mag), "-12.34");
    }

    #[test]
    fn texts_parse_at_a_scale_rounding_half_up() {
        let p = |t: &str, s: i32| parse_unscaled(t, s);
        assert_eq!(p("12.345", 2), Ok(1235));
        assert_eq!(p("-12.345", 2), Ok(-1235));
        assert_eq!(p("12.344", 2), Ok(1234));
        assert_eq!(p("7", 3), Ok(7000));
        assert_eq!(p("1.5E+3", 0), Ok(1500));
        assert_eq!(p("1.2345e1", 1), Ok(123));
        assert_eq!(p("-0.5", 0), Ok(-1));
        assert_eq!(p("0.0004", 3), Ok(0));
        assert_eq!(p("0.0005", 3), Ok(1));
        assert_eq!(p("0.00049", 2), Ok(0));
        assert_eq!(p("5e-10", 2), Ok(0));
        assert_eq!(p(".5", 1), Ok(5));
        assert_eq!(p("150", -2), Ok(2));
        assert_eq!(
            p("99999999999999999999999999999999999999", 0).unwrap(),
            10i128.pow(38) - 1
        );
        assert_eq!(p("1e38", 0), Err(ParseDecimalError::TooManyDigits));
        assert_eq!(p("9.5", 38), Err(ParseDecimalError::TooManyDigits));
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            "NaN",
            "inf",
            "1e",
            "12a",
            "1e99999999999999999999",
        ] {
            assert_eq!(p(bad, 2), Err(ParseDecimalError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn twos_complement_bytes_are_minimal_and_read_back() {
        assert_eq!(to_twos_complement(0), vec![0]);
        assert_eq!(to_twos_complement(127), vec![0x7f]);
        assert_eq!(to_twos_complement(128), vec![0, 0x80]);
        assert_eq!(to_twos_complement(-128), vec![0x80]);
        assert_eq!(to_twos_complement(-129), vec![0xff, 0x7f]);
        assert_eq!(to_twos_complement(1235), vec![0x04, 0xd3]);
        for v in [1i128, -1, 1 << 100, -(1 << 100), i128::MAX, i128::MIN + 1] {
            let (negative, magnitude) = from_twos_complement(&to_twos_complement(v));
            assert_eq!(negative, v < 0);
            let back = magnitude
                .iter()
                .fold(0u128, |acc, &b| (acc << 8) | b as u128);
            assert_eq!(back, v.unsigned_abs());
        }
        assert_eq!(digit_count(0), 1);
        assert_eq!(digit_count(-999), 3);
        assert_eq!(digit_count(1000), 4);
        assert_eq!(strip_trailing_zeros(10000, 3), (1, -1));
        assert_eq!(strip_trailing_zeros(0, 5), (0, 0));
        assert_eq!(strip_trailing_zeros(-1230, 2), (-123, 1));
    }

    #[test]
    fn short_path_floats_equal_the_parsed_text() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // magnitudes of every width up to 9 bytes, scales -25..25
            let width = (i % 10) as usize;
            let bytes = state.to_be_bytes();
            let mut magnitude = bytes[8 - width.min(8)..].to_vec();
            if width == 9 {
                magnitude.insert(0, 1);
            }
            let scale = (state % 51) as i64 - 25;
            let negative = state & 1 == 1;
            let text: f64 = to_text(negative, scale, &magnitude).parse().unwrap();
            let fast = to_f64(negative, scale, &magnitude);
            assert_eq!(
                fast.to_bits(),
                text.to_bits(),
                "{negative} {scale} {magnitude:?}"
            );
            // the same value as two's complement
            let mut twos = vec![0u8];
            twos.extend(&magnitude);
            if negative {
                let mut carry = true;
                for b in twos.iter_mut().rev() {
                    let (sum, overflow) = (!*b).overflowing_add(carry as u8);
                    *b = sum;
                    carry = overflow;
                }
            }
            assert_eq!(
                twos_complement_to_f64(&twos, scale).to_bits(),
                text.to_bits()
            );
        }
        assert_eq!(to_f64(true, 2, &[0]).to_bits(), 0f64.to_bits()); // no negative zero
        assert_eq!(to_f64(false, 2, &[]), 0.0);
    }

    #[test]
    fn text_at_a_column_scale_gets_its_trailing_zeros_back() {
        assert_eq!(to_text_at_least(false, -2, &[1], 2), "100.00");
        assert_eq!(to_text_at_least(false, 1, &[123], 2), "12.30");
        assert_eq!(to_text_at_least(true, 1, &[5], 2), "-0.50");
        assert_eq!(to_text_at_least(false, 0, &[0], 2), "0.00");
        assert_eq!(to_text_at_least(false, 3, &[0x30, 0x39], 2), "12.345"); // more digits stay
        assert_eq!(to_text_at_least(false, -2, &[1], 0), "100");
        // a hostile scale far below the column's is not padded out
        assert_eq!(to_text_at_least(false, -30000, &[1], 2), "1E+30000");
    }

    /// The long division this module did before, a byte at a time: the reference.
    fn billions_bytewise(magnitude: &[u8]) -> Vec<u32> {
        let mut limbs = Vec::new();
        let mut number: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
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
        limbs
    }

    #[test]
    fn word_division_gives_the_bytewise_limbs() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300usize {
            let magnitude: Vec<u8> = (0..len)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // leading zeros now and then, and runs of zero words inside
                    if (i < 3 && len % 5 == 0) || (i / 4) % 7 == 3 {
                        0
                    } else {
                        state as u8
                    }
                })
                .collect();
            assert_eq!(
                billions(&magnitude),
                billions_bytewise(&magnitude),
                "{magnitude:?}"
            );
        }
        assert_eq!(
            to_text(false, 0, &[0xff; 16]),
            "340282366920938463463374607431768211455" // 2^128 - 1
        );
        assert_eq!(to_text(false, 0, &[0, 0, 0, 0, 0]), "0");
        assert_eq!(to_text(true, 0, &[0, 0, 1, 0, 0]), "-65536");
    }

    #[test]
    fn the_longest_decimals_read_hold_32767_digits() {
        // 10^32767 - 1 needs 108,850 bits: 13,607 bytes, plus one for Java's sign bit
        let bits = (MAX_READ_DIGITS as f64 * 10f64.log2()).floor() as usize + 1;
        assert_eq!(bits, 108_850);
        assert_eq!(bits.div_ceil(8) + 1, MAX_READ_BYTES);
        // 2^108,849 - 1, one bit short of them, is still 32,767 digits long
        let mut ones = vec![0xffu8; MAX_READ_BYTES - 1];
        ones[0] = 0x01;
        assert_eq!(to_text(false, 0, &ones).len(), 32_767);
    }
}
