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
