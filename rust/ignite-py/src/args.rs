//! Python arguments as core options and values: durations, scan options, SQL arguments and the
//! columns of a put-all. A bad argument raises `InvalidArgumentError`, like the core's own checks.

use std::sync::Arc;
use std::time::Duration;

use ignite_core::ignite2::{ScanOptions, WriteValues};
use ignite_core::{days_from_civil, parse_unscaled, DecodeOptions, Selection, SqlArg, WriteColumn};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};

use crate::errors::{invalid_argument, IntoPyResult};
use crate::primitives::primitive_named;

/// A duration given in seconds; `name` is the argument's, for the message.
pub(crate) fn seconds(value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        invalid_argument(format!(
            "{name} must be a non-negative number of seconds, got {value}"
        ))
    })
}

/// Scan settings shared by the one-cursor and the partition scans.
pub(crate) fn scan_options(
    page_size: i32,
    decimal_as_string: bool,
    fields: Option<Vec<String>>,
    value_type: Option<i32>,
    union_types: bool,
) -> PyResult<ScanOptions> {
    let fields = fields
        .map(|f| Selection::from_paths(&f).map(Arc::new))
        .transpose()
        .py_err()?;
    Ok(ScanOptions {
        page_size,
        decode: DecodeOptions { decimal_as_string },
        fields,
        value_type,
        union_types,
        ..ScanOptions::default()
    })
}

/// SQL query arguments, each as [`sql_arg`] takes it.
pub(crate) fn sql_args(values: &[Bound<'_, PyAny>]) -> PyResult<Vec<SqlArg>> {
    values.iter().map(sql_arg).collect()
}

/// An SQL query argument: None, bool, int, float, str, bytes, or a `datetime.date`,
/// `datetime.datetime` (naive: SQL TIMESTAMP; with a zone: an instant), `datetime.time`,
/// `uuid.UUID` or `decimal.Decimal`.
fn sql_arg(value: &Bound<'_, PyAny>) -> PyResult<SqlArg> {
    Ok(if value.is_none() {
        SqlArg::Null
    } else if value.is_instance_of::<PyBool>() {
        SqlArg::Bool(value.extract()?)
    } else if value.is_instance_of::<PyInt>() {
        SqlArg::Long(value.extract()?)
    } else if value.is_instance_of::<PyFloat>() {
        SqlArg::Double(value.extract()?)
    } else if value.is_instance_of::<PyString>() {
        SqlArg::String(value.extract()?)
    } else if value.is_instance_of::<PyBytes>() {
        SqlArg::Bytes(value.extract()?)
    } else if let Some(arg) = library_value(value)? {
        arg
    } else {
        return Err(invalid_argument(format!(
            "SQL arguments must be None, bool, int, float, str, bytes, datetime.date, \
             datetime.datetime, datetime.time, uuid.UUID or decimal.Decimal, got {}",
            value.get_type().name()?
        )));
    })
}

/// The standard library's dates, times, UUIDs and decimals, read through their attributes (the
/// limited API has no datetime structs); `None` for any other object.
fn library_value(value: &Bound<'_, PyAny>) -> PyResult<Option<SqlArg>> {
    let py = value.py();
    let is = |module: &str, class: &str| -> PyResult<bool> {
        value.is_instance(&py.import(module)?.getattr(class)?)
    };
    let int = |name: &str| -> PyResult<i64> { value.getattr(name)?.extract() };
    let day_number =
        || -> PyResult<i64> { Ok(days_from_civil(int("year")?, int("month")?, int("day")?)) };
    let clock_nanos = || -> PyResult<i64> {
        // pandas' Timestamp adds nanoseconds beyond the microsecond
        let extra = match value.getattr("nanosecond") {
            Ok(n) => n.extract::<i64>()?,
            Err(_) => 0,
        };
        Ok(
            ((int("hour")? * 60 + int("minute")?) * 60 + int("second")?) * 1_000_000_000
                + int("microsecond")? * 1000
                + extra,
        )
    };
    Ok(Some(if is("datetime", "datetime")? {
        let nanos = clock_nanos()?;
        let local = day_number()? * 86_400 + nanos / 1_000_000_000;
        let nanos = (nanos % 1_000_000_000) as i32;
        let offset = value.call_method0("utcoffset")?;
        if offset.is_none() {
            SqlArg::DateTime {
                seconds: local,
                nanos,
            }
        } else {
            let offset: f64 = offset.call_method0("total_seconds")?.extract()?;
            SqlArg::Instant {
                seconds: local - offset as i64,
                nanos,
            }
        }
    } else if is("datetime", "date")? {
        SqlArg::Date(day_number()?)
    } else if is("datetime", "time")? {
        SqlArg::Time(clock_nanos()?)
    } else if is("uuid", "UUID")? {
        let bytes: Vec<u8> = value.getattr("bytes")?.extract()?;
        SqlArg::Uuid(
            bytes
                .try_into()
                .map_err(|_| invalid_argument("a uuid.UUID whose bytes are not 16"))?,
        )
    } else if is("decimal", "Decimal")? {
        let text: String = value.str()?.extract()?;
        let exponent = value.call_method0("as_tuple")?.getattr("exponent")?;
        let scale = match exponent.extract::<i64>() {
            Ok(e) if (-32_768..=32_767).contains(&-e) => -e as i32,
            _ => {
                return Err(invalid_argument(format!(
                    "decimal SQL argument {text} is not a finite number with a scale Ignite holds"
                )))
            }
        };
        let unscaled = parse_unscaled(&text, scale).map_err(|_| {
            invalid_argument(format!(
                "decimal SQL argument {text} has more than 38 digits"
            ))
        })?;
        SqlArg::Decimal { unscaled, scale }
    } else {
        return Ok(None);
    }))
}

/// A column to write, from Python: `(kind, uint8 view of the data, width)`; kind is a primitive
/// name (`"int"`), a primitive array (`"byte[]"`, width = elements per row) or `"string"` (width =
/// bytes per padded cell).
pub(crate) type ColumnSpec<'py> = (String, PyReadonlyArray1<'py, u8>, usize);

/// The core column over a spec's data (borrowed, not copied).
pub(crate) fn write_column<'a>(spec: &'a ColumnSpec<'_>) -> PyResult<WriteColumn<'a>> {
    let (kind, data, width) = (spec.0.as_str(), spec.1.as_slice()?, spec.2);
    if kind == "string" {
        return Ok(WriteColumn::Strings { data, width });
    }
    if let Some(element) = kind.strip_suffix("[]") {
        if let Some(kind) = primitive_named(element) {
            return Ok(WriteColumn::FixedArray { kind, data, width });
        }
    } else if let Some(kind) = primitive_named(kind) {
        return Ok(WriteColumn::Scalar { kind, data });
    }
    Err(invalid_argument(format!(
        "cannot write a column of kind '{kind}'"
    )))
}

/// The values of a put-all as Python gives them: `("plain", spec)` or
/// `("object", type_name, [(field, spec), ...])`. It holds the numpy views that the write
/// columns borrow, so it must outlive them.
pub(crate) enum ValuesSpec<'py> {
    Plain(ColumnSpec<'py>),
    Object {
        type_name: String,
        fields: Vec<(String, ColumnSpec<'py>)>,
    },
}

impl<'py> ValuesSpec<'py> {
    pub(crate) fn from_py(values: &Bound<'py, PyTuple>) -> PyResult<Self> {
        let tag: String = values.get_item(0)?.extract()?;
        match tag.as_str() {
            "plain" => Ok(ValuesSpec::Plain(values.get_item(1)?.extract()?)),
            "object" => Ok(ValuesSpec::Object {
                type_name: values.get_item(1)?.extract()?,
                fields: values.get_item(2)?.extract()?,
            }),
            other => Err(invalid_argument(format!("unknown value form '{other}'"))),
        }
    }

    /// The core values over the held data.
    pub(crate) fn write_values(&self) -> PyResult<WriteValues<'_>> {
        Ok(match self {
            ValuesSpec::Plain(spec) => WriteValues::Plain(write_column(spec)?),
            ValuesSpec::Object { type_name, fields } => WriteValues::Object {
                type_name: type_name.clone(),
                fields: fields
                    .iter()
                    .map(|(name, spec)| Ok((name.clone(), write_column(spec)?)))
                    .collect::<PyResult<_>>()?,
            },
        })
    }
}
