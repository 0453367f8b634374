//! The colocation hash of a row's key, exactly as Ignite 3 computes it (`HashCalculator`,
//! `HashUtils`: murmur3 x64 128 folded to 32 bits, `ColocationUtils`), and the partition it
//! falls in: the server trusts the partition a streamer batch names, so a wrong hash would put
//! rows where reads by key never look.

use crate::calendar::{civil_from_days, TimeOfDay, NANOS_PER_SECOND};
use crate::decimal;
use crate::ignite3::codes::column_type;

use super::cells::Cell;

/// Ignite's `HashUtils`: murmur3 x64 128 of `data` with both halves seeded by `seed`, summed.
fn murmur3_64(data: &[u8], seed: u64) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    fn fmix(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    let (mut h1, mut h2) = (seed, seed);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let k1 = u64::from_le_bytes(block[..8].try_into().unwrap());
        let k2 = u64::from_le_bytes(block[8..].try_into().unwrap());
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let word = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64)
    };
    if tail.len() > 8 {
        h2 ^= word(&tail[8..])
            .wrapping_mul(C2)
            .rotate_left(33)
            .wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= word(&tail[..tail.len().min(8)])
            .wrapping_mul(C1)
            .rotate_left(31)
            .wrapping_mul(C2);
    }
    h1 ^= data.len() as u64;
    h2 ^= data.len() as u64;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1.wrapping_add(h2)
}

/// `HashUtils.hash32`: the 64-bit hash folded. A fixed-width value hashes as its little-endian
/// bytes; an `int` seed is sign-extended (`hash32(int, int)`), a byte array's is zero.
fn hash32(data: &[u8], seed: i32) -> i32 {
    let h = murmur3_64(data, seed as i64 as u64);
    (h ^ (h >> 32)) as i32
}

/// `HashCalculator.hashValue` of a value of SQL type `type_id` (`ColocationUtils.append`).
/// Temporal values come already cut to the column's precision, decimals at its scale.
pub(super) fn value_hash(cell: Cell, type_id: i32) -> i32 {
    let int = |v: i64, seed: i32| hash32(&(v as i32).to_le_bytes(), seed);
    let long = |v: i64, seed: i32| hash32(&v.to_le_bytes(), seed);
    // hashDate: the day seeded by the month seeded by the year
    let date = |days: i64| {
        let (year, month, day) = civil_from_days(days);
        int(day, int(month, int(year, 0)))
    };
    // hashTime: hour, minute, second, then the nanoseconds, each seeding the next
    let time = |nanos: i64| {
        let t = TimeOfDay::from_nanos(nanos).expect("a checked time of day");
        int(t.nano, int(t.second, int(t.minute, int(t.hour, 0))))
    };
    match (cell, type_id) {
        (Cell::Null, _) => hash32(&[0], 0),
        (Cell::Bool(v), _) => hash32(&[v as u8], 0),
        (Cell::Int(v), column_type::INT8) => hash32(&(v as i8).to_le_bytes(), 0),
        (Cell::Int(v), column_type::INT16) => hash32(&(v as i16).to_le_bytes(), 0),
        (Cell::Int(v), column_type::INT32) => int(v, 0),
        (Cell::Int(v), _) => long(v, 0),
        (Cell::Float(v), column_type::FLOAT) => hash32(&v.to_bits().to_le_bytes(), 0),
        (Cell::Float(v), _) => hash32(&(v as f64).to_bits().to_le_bytes(), 0),
        (Cell::Double(v), _) => hash32(&v.to_bits().to_le_bytes(), 0),
        (Cell::Text(b) | Cell::Bytes(b), _) => hash32(b, 0),
        (Cell::Date(days), _) => date(days),
        (Cell::Time(nanos), _) => time(nanos),
        // hashDateTime: HashUtils.combine(hashDate, hashTime)
        (Cell::DateTime { seconds, nanos }, _) => combine(
            date(seconds.div_euclid(86_400)),
            time(seconds.rem_euclid(86_400) * NANOS_PER_SECOND + nanos as i64),
        ),
        // hashTimestamp: the nanoseconds seeded by the seconds' hash
        (Cell::Instant { seconds, nanos }, _) => int(nanos as i64, long(seconds, 0)),
        // hashUuid: the low long seeded by the high long's hash
        (Cell::Uuid(b), _) => {
            let half = |h: &[u8]| i64::from_be_bytes(h.try_into().unwrap());
            long(half(&b[8..]), long(half(&b[..8]), 0))
        }
        // hashDecimal: the bytes of the unscaled value at the column's scale
        (Cell::Decimal { unscaled, .. }, _) => hash32(&decimal::to_twos_complement(unscaled), 0),
    }
}

/// `HashCalculator.combine`: the running hash hashed as an int, seeded by the value's hash.
pub(super) fn combine(hash: i32, value_hash: i32) -> i32 {
    hash32(&hash.to_le_bytes(), value_hash)
}

/// The partition of a colocation hash (the Java client's `Math.abs(hash % partitions)`).
pub(super) fn partition_of(hash: i32, partitions: usize) -> usize {
    (hash % partitions as i32).unsigned_abs() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by Ignite 3.1.0's own `HashCalculator` (ignite-core-3.1.0.jar).
    #[test]
    fn colocation_hashes_match_the_java_calculator() {
        let hash = |cells: &[(Cell, i32)]| {
            cells
                .iter()
                .fold(0, |h, &(c, t)| combine(h, value_hash(c, t)))
        };
        use column_type as t;
        assert_eq!(hash(&[(Cell::Int(42), t::INT32)]), -767921414);
        assert_eq!(hash(&[(Cell::Int(-5_000_000_000), t::INT64)]), -80815532);
        let text = "héllo wörld, twenty+ bytes".as_bytes();
        assert_eq!(hash(&[(Cell::Text(text), t::STRING)]), -345530343);
        assert_eq!(
            hash(&[(Cell::Int(7), t::INT32), (Cell::Text(b"ab"), t::STRING)]),
            -581076518
        );
        let mix = hash(&[
            (Cell::Double(0.1), t::DOUBLE),
            (Cell::Float(1.5), t::FLOAT),
            (Cell::Int(-3), t::INT16),
            (Cell::Int(-1), t::INT8),
            (Cell::Bool(true), t::BOOLEAN),
            (Cell::Null, t::INT32),
        ]);
        assert_eq!(mix, 1667176687);
        assert_eq!(partition_of(mix, 25), 12);
    }

    #[test]
    fn temporal_uuid_and_decimal_hashes_match_the_java_calculator() {
        // HashCalculator.hashDate/hashTime/hashDateTime/hashTimestamp/hashUuid/hashDecimal of
        // Ignite 3.1.0, values cut to the precision (scale) given to it.
        use column_type as t;
        let time = ((13 * 60 + 45) * 60 + 7) * NANOS_PER_SECOND;
        let uuid: [u8; 16] = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        let cases: Vec<(Cell, i32, i32)> = vec![
            (Cell::Date(19_782), t::DATE, 403765605),
            (Cell::Date(-719_529), t::DATE, -1454998425),
            (Cell::Time(time + 123_456_789), t::TIME, -533493763),
            (Cell::Time(time + 123_000_000), t::TIME, -1076167703),
            (
                Cell::DateTime {
                    seconds: 19_782 * 86_400 + time / NANOS_PER_SECOND,
                    nanos: 123_456_000,
                },
                t::DATETIME,
                1846241740,
            ),
            (
                Cell::Instant {
                    seconds: -2,
                    nanos: 500_000_000,
                },
                t::TIMESTAMP,
                1028608660,
            ),
            (
                Cell::Instant {
                    seconds: 1_700_000_000,
                    nanos: 123_456_789,
                },
                t::TIMESTAMP,
                -783239016,
            ),
            (Cell::Uuid(&uuid), t::UUID, -2120767834),
            (
                Cell::Decimal {
                    unscaled: 1235,
                    scale: 2,
                },
                t::DECIMAL,
                1046128362,
            ),
            (
                Cell::Decimal {
                    unscaled: -1,
                    scale: 0,
                },
                t::DECIMAL,
                -482826348,
            ),
            (
                Cell::Decimal {
                    unscaled: 100_000,
                    scale: 3,
                },
                t::DECIMAL,
                1520194248,
            ),
        ];
        for (cell, type_id, java) in cases {
            assert_eq!(value_hash(cell, type_id), java, "{cell:?}");
        }
    }

    #[test]
    fn partitions_follow_java_remainder_and_abs() {
        assert_eq!(partition_of(-7, 5), 2);
        assert_eq!(partition_of(7, 5), 2);
        assert_eq!(
            partition_of(i32::MIN, 25),
            (i32::MIN % 25).unsigned_abs() as usize
        );
    }
}
