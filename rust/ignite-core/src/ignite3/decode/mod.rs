//! Ignite 3's rows into the same column builders as Ignite 2's: the second source format. A row
//! of an SQL result is a BinaryTuple (one element per column, in column order); what each element
//! holds is said by the column's SQL type, which the result's metadata gives once.
//!
//! - [`sql_type`]: Ignite 3's column types (`ColumnType` ids), their names and the kind of
//!   column each fills;
//! - [`tuple`]: one BinaryTuple into one row of builders.

pub mod sql_type;
pub mod tuple;

pub use sql_type::SqlType;
pub use tuple::push_tuple;

/// What the decoder needs of a result column: its SQL type and, for DECIMAL, the column's scale
/// (exact text is written at it: Ignite stores `100.00` of a DECIMAL(10, 2) as `1E+2`; `None`:
/// each value's own scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TupleColumn {
    pub sql_type: SqlType,
    pub scale: Option<i32>,
}

impl From<SqlType> for TupleColumn {
    /// A column of `sql_type` whose values keep their own scale.
    fn from(sql_type: SqlType) -> TupleColumn {
        TupleColumn {
            sql_type,
            scale: None,
        }
    }
}
