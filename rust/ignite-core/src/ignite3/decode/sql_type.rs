//! Ignite 3's SQL column types as its client protocol numbers them (`org.apache.ignite.sql.
//! ColumnType` ids), and the kind of column each fills. Ignite 3 TIME keeps up to nanoseconds,
//! so it fills a nanosecond time column; Ignite 2's time is milliseconds and stays so.

use crate::decode::column_builder::DecodeOptions;
use crate::decode::value_kind::ValueKind;
use crate::error::{Error, Result};
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
            0 => SqlType::Null,
            1 => SqlType::Boolean,
            2 => SqlType::Int8,
            3 => SqlType::Int16,
            4 => SqlType::Int32,
            5 => SqlType::Int64,
            6 => SqlType::Float,
            7 => SqlType::Double,
            8 => SqlType::Decimal,
            9 => SqlType::Date,
            10 => SqlType::Time,
            11 => SqlType::DateTime,
            12 => SqlType::Timestamp,
            13 => SqlType::Uuid,
            15 => SqlType::String,
            16 => SqlType::Bytes,
            17 => SqlType::Period,
            18 => SqlType::Duration,
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
