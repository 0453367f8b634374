//! Exact decimals as text: an unsigned big-endian magnitude and a scale into `-12.3400` or
//! `1.5E+3`, as Java's `BigDecimal.toString` writes them. Both wire formats' decimals (Ignite 2's
//! sign-and-magnitude, Ignite 3's two's complement) come down to these parts, so both read the
//! same text.

/// `magnitude` is unsigned, big-endian; the value is `(-1 if negative) * magnitude * 10^-scale`.
pub fn to_text(negative: bool, scale: i64, magnitude: &[u8]) -> String {
    // Base-1e9 limbs of the magnitude, least significant first, by long division.
    let mut limbs: Vec<u32> = Vec::new();
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
}
