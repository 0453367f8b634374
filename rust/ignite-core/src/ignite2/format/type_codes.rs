//! Ignite 2's type codes for the kinds of [`crate::kinds`], both ways: the reader asks which kind
//! a code holds, the writer which code to write for a kind.

use crate::ignite2::protocol::type_code as tc;
use crate::kinds::{PrimKind, ScalarKind};

impl PrimKind {
    pub fn from_code(code: u8) -> Option<PrimKind> {
        Some(match code {
            tc::BYTE => PrimKind::I8,
            tc::SHORT => PrimKind::I16,
            tc::INT => PrimKind::I32,
            tc::LONG => PrimKind::I64,
            tc::FLOAT => PrimKind::F32,
            tc::DOUBLE => PrimKind::F64,
            tc::CHAR => PrimKind::Char,
            tc::BOOL => PrimKind::Bool,
            _ => return None,
        })
    }

    /// The element kind of a primitive array's code (12-19).
    pub fn from_array_code(code: u8) -> Option<PrimKind> {
        match code {
            tc::BYTE_ARR..=tc::BOOL_ARR => PrimKind::from_code(code - tc::BYTE_ARR + tc::BYTE),
            _ => None,
        }
    }

    /// A table rather than a match, like [`PrimKind::size`]: asked for every value on the
    /// decoder's short path.
    #[inline(always)]
    pub fn code(self) -> u8 {
        const CODES: [u8; 8] = [
            tc::BYTE,
            tc::SHORT,
            tc::INT,
            tc::LONG,
            tc::FLOAT,
            tc::DOUBLE,
            tc::CHAR,
            tc::BOOL,
        ];
        CODES[self as usize]
    }

    pub fn array_code(self) -> u8 {
        self.code() - tc::BYTE + tc::BYTE_ARR
    }
}

impl ScalarKind {
    /// The scalar kind of a type code; both enum codes give an enum of a type not known yet.
    pub fn from_code(code: u8) -> Option<ScalarKind> {
        if let Some(k) = PrimKind::from_code(code) {
            return Some(ScalarKind::Prim(k));
        }
        Some(match code {
            tc::UUID => ScalarKind::Uuid,
            tc::DATE => ScalarKind::Date,
            tc::TIMESTAMP => ScalarKind::Timestamp,
            tc::TIME => ScalarKind::Time,
            tc::ENUM | tc::BINARY_ENUM => ScalarKind::Enum { type_id: 0 },
            tc::DECIMAL => ScalarKind::Decimal,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignite2::protocol::type_code_name;

    #[test]
    fn codes_round_trip_and_names_match_the_protocol_names() {
        for code in 0..=u8::MAX {
            if let Some(k) = PrimKind::from_code(code) {
                assert_eq!(k.code(), code);
                assert_eq!(k.name(), type_code_name(code));
                assert_eq!(PrimKind::from_array_code(k.array_code()), Some(k));
                assert_eq!(k.array_name(), type_code_name(k.array_code()));
            }
            if let Some(k) = ScalarKind::from_code(code) {
                let named = if code == tc::BINARY_ENUM {
                    tc::ENUM
                } else {
                    code
                };
                assert_eq!(k.name(), type_code_name(named));
            }
        }
    }
}
