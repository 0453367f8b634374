//! Ignite 3's SQL column types (their ids are `codes::column_type`'s), their SQL names, and the
//! kind of column each fills; and what the tuple reader needs of a result column
//! ([`TupleColumn`]). Ignite 3 TIME keeps up to nanoseconds, so it fills a nanosecond time column;
//! Ignite 2's time is milliseconds and stays so.

use crate::decode::{DecodeOptions, ValueKind};
use crate::error::{Error, Result};
use crate::ignite3::codes::column_type as id;
use crate::kinds::{PrimKind, ScalarKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// A column of SQL NULLs only (`SELECT NULL`).
    Null,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Decimal,
    Date,
    Time,
    /// Date and time without a zone (SQL TIMESTAMP).
    DateTime,
    /// An instant (SQL TIMESTAMP WITH LOCAL TIME ZONE).
    Timestamp,
    Uuid,
    String,
    Bytes,
    Period,
    Duration,
}

impl SqlType {
    /// The type of a `ColumnType` id; an id this version does not know is an unsupported type.
    pub fn from_id(id: i32) -> Result<SqlType> {
        Ok(match id {
            id::NULL => SqlType::Null,
            id::BOOLEAN => SqlType::Boolean,
            id::INT8 => SqlType::Int8,
            id::INT16 => SqlType::Int16,
            id::INT32 => SqlType::Int32,
            id::INT64 => SqlType::Int64,
            id::FLOAT => SqlType::Float,
            id::DOUBLE => SqlType::Double,
            id::DECIMAL => SqlType::Decimal,
            id::DATE => SqlType::Date,
            id::TIME => SqlType::Time,
            id::DATETIME => SqlType::DateTime,
            id::TIMESTAMP => SqlType::Timestamp,
            id::UUID => SqlType::Uuid,
            id::STRING => SqlType::String,
            id::BYTE_ARRAY => SqlType::Bytes,
            id::PERIOD => SqlType::Period,
            id::DURATION => SqlType::Duration,
            _ => {
                return Err(Error::UnsupportedType(format!(
                    "Ignite 3 column type id {id}, which ignite_fast does not know"
                )))
            }
        })
    }

    /// The SQL name of the type, as Ignite 3 writes it in schemas (and as result schemas give it
    /// to Python, through `ignite3::sql::ColumnMeta::type_name`).
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Null => "NULL",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Int8 => "TINYINT",
            SqlType::Int16 => "SMALLINT",
            SqlType::Int32 => "INTEGER",
            SqlType::Int64 => "BIGINT",
            SqlType::Float => "REAL",
            SqlType::Double => "DOUBLE",
            SqlType::Decimal => "DECIMAL",
            SqlType::Date => "DATE",
            SqlType::Time => "TIME",
            SqlType::DateTime => "TIMESTAMP",
            SqlType::Timestamp => "TIMESTAMP WITH LOCAL TIME ZONE",
            SqlType::Uuid => "UUID",
            SqlType::String => "VARCHAR",
            SqlType::Bytes => "VARBINARY",
            SqlType::Period => "INTERVAL YEAR TO MONTH",
            SqlType::Duration => "INTERVAL DAY TO SECOND",
        }
    }

    /// The kind of column values of this type fill; `None` for a column of NULLs, which keeps
    /// no kind. Intervals fill no column yet: an unsupported-type error names them.
    pub fn value_kind(self, options: DecodeOptions) -> Result<Option<ValueKind>> {
        let prim = |k| Some(ValueKind::Scalar(ScalarKind::Prim(k)));
        Ok(match self {
            SqlType::Null => None,
            SqlType::Boolean => prim(PrimKind::Bool),
            SqlType::Int8 => Some(ValueKind::Scalar(ScalarKind::SignedByte)),
            SqlType::Int16 => prim(PrimKind::I16),
            SqlType::Int32 => prim(PrimKind::I32),
            SqlType::Int64 => prim(PrimKind::I64),
            SqlType::Float => prim(PrimKind::F32),
            SqlType::Double => prim(PrimKind::F64),
            SqlType::Decimal if options.decimal_as_string => Some(ValueKind::DecimalText),
            SqlType::Decimal => Some(ValueKind::Scalar(ScalarKind::Decimal)),
            SqlType::Date => Some(ValueKind::Scalar(ScalarKind::Date)),
            SqlType::Time => Some(ValueKind::Scalar(ScalarKind::TimeNanos)),
            SqlType::DateTime | SqlType::Timestamp => {
                Some(ValueKind::Scalar(ScalarKind::Timestamp))
            }
            SqlType::Uuid => Some(ValueKind::Scalar(ScalarKind::Uuid)),
            SqlType::String => Some(ValueKind::Text),
            SqlType::Bytes => Some(ValueKind::PrimArray(PrimKind::I8)),
            SqlType::Period | SqlType::Duration => {
                return Err(Error::UnsupportedType(format!(
                    "Ignite 3 {} values, which ignite_fast does not decode; cast them in SQL \
                     (for example to BIGINT)",
                    self.name()
                )))
            }
        })
    }
}

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
