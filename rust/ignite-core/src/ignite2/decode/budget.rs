//! A bound on the work of decoding one page. An object graph may share a child: Java writes a
//! second reference to an object as a handle back to the first, and the decoder copies the child
//! at every reference (columns hold trees, not graphs), each copy in columns of its own path.
//! Two fields pointing at the same child, thirty levels deep, are about 1 KB on the wire and 2^30
//! objects, and as many columns, as a tree. Hostile footers can point several fields at the same
//! bytes to the same effect. The depth limit does not stop this: the graph is shallow but wide.
//!
//! So each page gets a budget of units: one per value and per field of an object's row, one per
//! byte copied out of a string, an array or a decimal, and [`COLUMN_UNITS`] plus the rows it
//! holds or reserves for each column added. A page whose objects share nothing spends about a
//! unit per byte of it or less (every value takes at least a byte on the wire, every copied byte
//! is one there, every column a footer entry and its value), so the budget bites on expansion
//! only. It bounds the memory of the columns and the time spent, whatever the bytes say.

use crate::error::{Error, Result};

/// Units every page may spend, however small: the expansion a small page may have (objects that
/// share large children) before it is called hostile. Spending it all takes at most about a
/// tenth of a second, and well under a hundred MB.
pub const BASE_UNITS: u64 = 16 << 20;

/// Units each byte of a page adds: what is shared may expand to 16 times its page.
pub const UNITS_PER_BYTE: u64 = 16;

/// Units a new column costs besides its rows: about what a column's builder takes in memory and
/// time to set up, in values (measured: some 800 bytes and 2 µs a column).
pub const COLUMN_UNITS: u64 = 256;

#[derive(Debug, Clone)]
pub struct Budget {
    left: u64,
    limit: u64,
    page_bytes: usize,
    exceeded: bool,
}

impl Budget {
    /// The budget of a page of `page_bytes` bytes.
    pub fn for_page(page_bytes: usize) -> Budget {
        let limit = BASE_UNITS.saturating_add(UNITS_PER_BYTE.saturating_mul(page_bytes as u64));
        Budget {
            left: limit,
            limit,
            page_bytes,
            exceeded: false,
        }
    }

    /// A budget of `limit` units for a page of `page_bytes` bytes, whatever its size (the
    /// fuzzer's smaller ones, to run many inputs that reach the limit).
    pub fn with_limit(limit: u64, page_bytes: usize) -> Budget {
        Budget {
            left: limit,
            limit,
            page_bytes,
            exceeded: false,
        }
    }

    /// The page's limit, in units.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Takes `units` from the budget; a [`Error::Schema`] once it runs out.
    #[inline(always)]
    pub fn spend(&mut self, units: usize) -> Result<()> {
        self.spend_u64(units as u64)
    }

    /// Takes the units of `columns` new columns of `rows` rows each (held or reserved).
    #[inline]
    pub fn spend_columns(&mut self, columns: usize, rows: usize) -> Result<()> {
        if columns == 0 {
            return Ok(());
        }
        self.spend_u64((columns as u64).saturating_mul(COLUMN_UNITS.saturating_add(rows as u64)))
    }

    #[inline(always)]
    fn spend_u64(&mut self, units: u64) -> Result<()> {
        match self.left.checked_sub(units) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.exceeded_error()),
        }
    }

    /// The budget ran out: the error that ended decoding came from it.
    pub fn is_exceeded(&self) -> bool {
        self.exceeded
    }

    #[cold]
    fn exceeded_error(&mut self) -> Error {
        self.left = 0;
        self.exceeded = true;
        Error::Schema(format!(
            "objects that share children (one object referred to from several fields or list \
             elements) expand past the decoding limit of {} units for this {}-byte page \
             ({}Mi + {UNITS_PER_BYTE} a byte; a unit is a value or a byte copied, a column \
             {COLUMN_UNITS} plus its rows): a shared child is copied at every reference, with \
             columns of its own, and these copies would not fit in memory. Leave the shared \
             fields out (columns=) to read the rest",
            self.limit(),
            self.page_bytes,
            BASE_UNITS >> 20,
        ))
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::for_page(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_spends_up_to_its_limit_then_errs_for_good() {
        let mut budget = Budget::for_page(10);
        assert_eq!(budget.limit(), BASE_UNITS + 160);
        budget.spend((BASE_UNITS + 150) as usize).unwrap();
        budget.spend_columns(0, 1000).unwrap();
        budget.spend(10).unwrap();
        assert!(!budget.is_exceeded());
        let err = budget.spend(1).unwrap_err();
        assert!(matches!(err, Error::Schema(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("limit of 16777376 units"), "{message}");
        assert!(message.contains("10-byte page"), "{message}");
        assert!(budget.is_exceeded());
        assert!(budget.spend(0).is_ok() && budget.spend(1).is_err());
    }

    #[test]
    fn columns_cost_their_rows_and_limits_do_not_overflow() {
        let mut budget = Budget::for_page(0);
        budget.spend_columns(4, 1000).unwrap();
        assert_eq!(budget.left, BASE_UNITS - 4 * (COLUMN_UNITS + 1000));
        assert!(budget.spend_columns(usize::MAX, usize::MAX).is_err());
        assert_eq!(Budget::for_page(usize::MAX).limit(), u64::MAX);
    }
}
