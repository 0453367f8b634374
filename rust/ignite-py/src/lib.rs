//! `ignite_fast._native`: Python bindings for `ignite-core`. This crate only converts types, maps
//! errors to the exception classes of `ignite_fast.errors`, and releases the GIL around all network
//! and decode work. Column buffers become numpy arrays without a copy: each array's base object
//! owns the 64-byte-aligned buffer it views.


use ignite_core::AlignedBuf;
use ignite_core::{WriteColumn, WriteValues};
use ignite_core::FsErrorKind;
use ignite_core::{PartitionBatch, PartitionScan};
use ignite_core::{Batch, Client, Column, Cursor, DecodeOptions, Error, PrimKind, ScalarKind, ScanOptions, Selection, SqlArg, SqlOptions};
use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{Element, PyArrayDyn};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

mod connection_spec;
mod igfs;

use connection_spec::ConnectionSpec;
pub(crate) use connection_spec::seconds;

/// Maps a core error to the matching class in `ignite_fast.errors`.
pub(crate) fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let class = match &err {
        Error::Connection(_) => "IgniteConnectionError",
        Error::Timeout(_) => "IgniteTimeoutError",
        Error::Authentication(_) => "AuthenticationError",
        Error::Tls(_) => "TlsError",
        Error::Protocol(_) => "ProtocolError",
        Error::Server { .. } => "ServerError",
        Error::CacheNotFound(_) => "CacheNotFoundError",
        Error::Schema(_) => "SchemaError",
        Error::UnsupportedType(_) => "UnsupportedTypeError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::Fs { kind, .. } => match kind {
            FsErrorKind::NotFound => "IgfsNotFoundError",
            FsErrorKind::AlreadyExists => "IgfsExistsError",
            FsErrorKind::NotADirectory => "IgfsNotADirectoryError",
            FsErrorKind::IsADirectory => "IgfsIsADirectoryError",
            FsErrorKind::DirectoryNotEmpty => "IgfsDirectoryNotEmptyError",
            FsErrorKind::Conflict => "IgfsConflictError",
            FsErrorKind::Corrupt => "IgfsCorruptError",
        },
    };
    let status = match &err {
        Error::Server { status, .. } => Some(*status),
        _ => None,
    };
    let message = err.to_string();
    match py
        .import("ignite_fast.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| match status {
            Some(s) => cls.call1((message.clone(), s)),
            None => cls.call1((message.clone(),)),
        }) {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => PyException::new_err(message),
    }
}

pub(crate) trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, e))
    }
}

/// Owns a column buffer; numpy arrays made from it hold it as their base object.
#[pyclass(frozen, module = "ignite_fast._native")]
struct ColumnBuffer {
    buf: AlignedBuf,
}

#[pymethods]
impl ColumnBuffer {
    fn __len__(&self) -> usize {
        self.buf.len()
    }
    /// Address of the data, for alignment checks.
    #[getter]
    fn address(&self) -> usize {
        self.buf.as_ptr() as usize
    }
}

fn zero_copy_array<'py, T: Element>(py: Python<'py>, buf: AlignedBuf, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let n: usize = shape.iter().product();
    assert!(n * std::mem::size_of::<T>() <= buf.len(), "column buffer smaller than its shape");
    let owner = Bound::new(py, ColumnBuffer { buf })?;
    let ptr = owner.get().buf.as_ptr() as *const T;
    // SAFETY: the buffer is 64-byte aligned, holds `n` initialised elements of T (booleans are
    // written as 0/1 only), and is owned by `owner`, which becomes the array's base object and is
    // never mutated or reallocated.
    let array = unsafe {
        let view = ArrayViewD::from_shape_ptr(IxDyn(shape), ptr);
        PyArrayDyn::<T>::borrow_from_array(&view, owner.into_any())
    };
    Ok(array.into_any())
}

fn primitive_array<'py>(py: Python<'py>, kind: PrimKind, buf: AlignedBuf, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    match kind {
        PrimKind::I8 => zero_copy_array::<u8>(py, buf, shape),
        PrimKind::I16 => zero_copy_array::<i16>(py, buf, shape),
        PrimKind::I32 => zero_copy_array::<i32>(py, buf, shape),
        PrimKind::I64 => zero_copy_array::<i64>(py, buf, shape),
        PrimKind::F32 => zero_copy_array::<f32>(py, buf, shape),
        PrimKind::F64 => zero_copy_array::<f64>(py, buf, shape),
        PrimKind::Char => zero_copy_array::<u16>(py, buf, shape),
        PrimKind::Bool => zero_copy_array::<bool>(py, buf, shape),
    }
}

fn validity_array<'py>(py: Python<'py>, validity: Option<AlignedBuf>, len: usize) -> PyResult<Bound<'py, PyAny>> {
    match validity {
        Some(v) => zero_copy_array::<bool>(py, v, &[len]),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A column as a tagged tuple; `ignite_fast.columns` turns these into numpy objects:
/// ("null", len) | ("prim", values, valid, logical) | ("fixed", values_2d, valid)
/// | ("var", values, offsets, valid) | ("str", bytes_2d, valid, logical) | ("list", offsets, child, valid)
/// | ("map", offsets, keys, values, valid) | ("struct", type_name, {name: column}, len)
/// `logical` is None for plain primitives, else "uuid", "date", "timestamp", "time",
/// "decimal" or ("enum", type_id).
fn column_to_py<'py>(py: Python<'py>, column: Column) -> PyResult<Bound<'py, PyTuple>> {
    Ok(match column {
        Column::Null { len } => ("null", len).into_pyobject(py)?,
        Column::Scalar { kind, values, len, validity } => {
            let valid = validity_array(py, validity, len)?;
            let (array, logical) = match kind {
                ScalarKind::Prim(k) => (primitive_array(py, k, values, &[len])?, py.None().into_bound(py)),
                ScalarKind::Uuid => (zero_copy_array::<u8>(py, values, &[len, 16])?, "uuid".into_pyobject(py)?.into_any()),
                ScalarKind::Date => (zero_copy_array::<i64>(py, values, &[len])?, "date".into_pyobject(py)?.into_any()),
                ScalarKind::Timestamp => (zero_copy_array::<i64>(py, values, &[len])?, "timestamp".into_pyobject(py)?.into_any()),
                ScalarKind::Time => (zero_copy_array::<i64>(py, values, &[len])?, "time".into_pyobject(py)?.into_any()),
                ScalarKind::Decimal => (zero_copy_array::<f64>(py, values, &[len])?, "decimal".into_pyobject(py)?.into_any()),
                ScalarKind::Enum { type_id } => {
                    (zero_copy_array::<i32>(py, values, &[len])?, ("enum", type_id).into_pyobject(py)?.into_any())
                }
            };
            ("prim", array, valid, logical).into_pyobject(py)?
        }
        Column::FixedArray { kind, values, len, width, validity } => {
            ("fixed", primitive_array(py, kind, values, &[len, width])?, validity_array(py, validity, len)?).into_pyobject(py)?
        }
        Column::VarArray { kind, values, offsets, len, validity } => {
            let n = values.len() / kind.size();
            (
                "var",
                primitive_array(py, kind, values, &[n])?,
                zero_copy_array::<i64>(py, offsets, &[len + 1])?,
                validity_array(py, validity, len)?,
            )
                .into_pyobject(py)?
        }
        Column::Strings { values, width, len, validity, decimal } => {
            let logical = if decimal { Some("decimal") } else { None };
            ("str", zero_copy_array::<u8>(py, values, &[len, width])?, validity_array(py, validity, len)?, logical).into_pyobject(py)?
        }
        Column::List { offsets, child, len, validity } => (
            "list",
            zero_copy_array::<i64>(py, offsets, &[len + 1])?,
            column_to_py(py, *child)?,
            validity_array(py, validity, len)?,
        )
            .into_pyobject(py)?,
        Column::Map { offsets, keys, values, len, validity } => (
            "map",
            zero_copy_array::<i64>(py, offsets, &[len + 1])?,
            column_to_py(py, *keys)?,
            column_to_py(py, *values)?,
            validity_array(py, validity, len)?,
        )
            .into_pyobject(py)?,
        Column::Struct { type_name, fields, len } => {
            let dict = PyDict::new(py);
            for (name, col) in fields {
                dict.set_item(name, column_to_py(py, col)?)?;
            }
            ("struct", type_name, dict, len).into_pyobject(py)?
        }
    })
}

/// `(rows, {name: column})`, columns in the cursor's order (key, val for scans).
fn batch_to_py<'py>(py: Python<'py>, batch: Batch) -> PyResult<Bound<'py, PyTuple>> {
    (batch.len, columns_to_py(py, batch.columns)?).into_pyobject(py)
}

fn columns_to_py<'py>(py: Python<'py>, columns: Vec<(String, Column)>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, column) in columns {
        dict.set_item(name, column_to_py(py, column)?)?;
    }
    Ok(dict)
}

fn sql_arg(value: &Bound<'_, PyAny>) -> PyResult<SqlArg> {
    use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};
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
    } else {
        return Err(to_py_err(
            value.py(),
            Error::InvalidArgument(format!(
                "SQL arguments must be None, bool, int, float, str or bytes, got {}",
                value.get_type().name()?
            )),
        ));
    })
}

/// A column to write, from Python: `(kind, uint8 view of the data, width)`; kind is a primitive
/// name (`"int"`), a primitive array (`"byte[]"`, width = elements per row) or `"string"` (width =
/// bytes per padded cell).
type ColumnSpec<'py> = (String, numpy::PyReadonlyArray1<'py, u8>, usize);

fn write_column<'a>(py: Python<'_>, kind: &str, data: &'a [u8], width: usize) -> PyResult<WriteColumn<'a>> {
    let prim = |name: &str| -> Option<PrimKind> {
        Some(match name {
            "byte" => PrimKind::I8,
            "short" => PrimKind::I16,
            "int" => PrimKind::I32,
            "long" => PrimKind::I64,
            "float" => PrimKind::F32,
            "double" => PrimKind::F64,
            "char" => PrimKind::Char,
            "bool" => PrimKind::Bool,
            _ => return None,
        })
    };
    if kind == "string" {
        return Ok(WriteColumn::Strings { data, width });
    }
    if let Some(element) = kind.strip_suffix("[]") {
        if let Some(k) = prim(element) {
            return Ok(WriteColumn::FixedArray { kind: k, data, width });
        }
    } else if let Some(k) = prim(kind) {
        return Ok(WriteColumn::Scalar { kind: k, data });
    }
    Err(to_py_err(py, Error::InvalidArgument(format!("cannot write a column of kind '{kind}'"))))
}

/// A connection pool and metadata cache for one cluster.
/// Scan settings shared by the one-cursor and the partition scans.
fn scan_options(py: Python<'_>, page_size: i32, decimal_as_string: bool, fields: Option<Vec<String>>,
                value_type: Option<i32>, union_types: bool) -> PyResult<ScanOptions> {
    let fields = fields.map(|f| Selection::from_paths(&f).map(std::sync::Arc::new)).transpose().py_err(py)?;
    Ok(ScanOptions { page_size, decode: DecodeOptions { decimal_as_string }, fields, value_type, union_types, ..ScanOptions::default() })
}

/// What Python receives for a binary type: `(name, [(field, type code)], [(enum constant, ordinal)])`.
type BinaryTypeTuple = (String, Vec<(String, u8)>, Vec<(String, i32)>);
/// `(topology major, topology minor, [primary node id per partition])`.
type PartitionMapTuple = (i64, i32, Vec<Vec<u8>>);
/// `(node id, client port, [hosts])`.
type NodeEndpointTuple = (Vec<u8>, u16, Vec<String>);

#[pyclass(module = "ignite_fast._native")]
struct NativeClient {
    inner: Client,
}

#[pymethods]
impl NativeClient {
    /// Connects as `spec` says (see [`ConnectionSpec`]).
    #[new]
    fn new(py: Python<'_>, spec: &ConnectionSpec) -> PyResult<Self> {
        let config = spec.config.clone();
        let inner = py.detach(|| Client::connect(config)).py_err(py)?;
        Ok(NativeClient { inner })
    }

    fn cache_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let client = &self.inner;
        py.detach(|| client.cache_names()).py_err(py)
    }

    #[pyo3(signature = (cache_name, page_size=1024, part=-1, local=false, decimal_as_string=false, fields=None, value_type=None, union_types=false))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        cache_name: &str,
        page_size: i32,
        part: i32,
        local: bool,
        decimal_as_string: bool,
        fields: Option<Vec<String>>,
        value_type: Option<i32>,
        union_types: bool,
    ) -> PyResult<NativeCursor> {
        let mut options = scan_options(py, page_size, decimal_as_string, fields, value_type, union_types)?;
        options.partition = part;
        options.local = local;
        let client = &self.inner;
        let cursor = py.detach(|| client.scan(cache_name, &options)).py_err(py)?;
        Ok(NativeCursor { inner: Some(cursor), wire_bytes: 0 })
    }

    /// A scan of the partitions given to `add`, up to `cursors` of them in flight on one connection.
    #[pyo3(signature = (cache_name, page_size=1024, cursors=4, decimal_as_string=false, fields=None, value_type=None, union_types=false))]
    #[allow(clippy::too_many_arguments)]
    fn partition_scan(
        &self,
        py: Python<'_>,
        cache_name: &str,
        page_size: i32,
        cursors: usize,
        decimal_as_string: bool,
        fields: Option<Vec<String>>,
        value_type: Option<i32>,
        union_types: bool,
    ) -> PyResult<NativePartitionScan> {
        let options = scan_options(py, page_size, decimal_as_string, fields, value_type, union_types)?;
        let client = &self.inner;
        let scan = py.detach(|| client.partition_scan(cache_name, &options, cursors)).py_err(py)?;
        Ok(NativePartitionScan { inner: Some(scan) })
    }

    /// Runs an SQL fields query.
    #[pyo3(signature = (query, args=Vec::new(), schema="PUBLIC".to_string(), page_size=1024, max_rows=0,
                        distributed_joins=false, local=false, replicated_only=false, enforce_join_order=false,
                        collocated=false, lazy=false, timeout_ms=0, decimal_as_string=false))]
    #[allow(clippy::too_many_arguments)]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        args: Vec<Bound<'_, PyAny>>,
        schema: String,
        page_size: i32,
        max_rows: i32,
        distributed_joins: bool,
        local: bool,
        replicated_only: bool,
        enforce_join_order: bool,
        collocated: bool,
        lazy: bool,
        timeout_ms: i64,
        decimal_as_string: bool,
    ) -> PyResult<NativeCursor> {
        let args = args.iter().map(sql_arg).collect::<PyResult<Vec<_>>>()?;
        let options = SqlOptions {
            schema,
            page_size,
            max_rows,
            distributed_joins,
            local,
            replicated_only,
            enforce_join_order,
            collocated,
            lazy,
            timeout_ms,
            decode: DecodeOptions { decimal_as_string },
        };
        let client = &self.inner;
        let cursor = py.detach(|| client.sql(query, &args, &options)).py_err(py)?;
        Ok(NativeCursor { inner: Some(cursor), wire_bytes: 0 })
    }

    /// Writes rows: `keys` a column spec, `values` either `("plain", spec)` or
    /// `("object", type_name, [(field, spec), ...])`. Returns the rows written.
    #[pyo3(signature = (cache_name, keys, values, create=true))]
    fn put_all(&self, py: Python<'_>, cache_name: &str, keys: ColumnSpec<'_>, values: Bound<'_, PyTuple>, create: bool) -> PyResult<usize> {
        let key_data = keys.1.as_slice()?;
        let key_column = write_column(py, &keys.0, key_data, keys.2)?;
        let tag: String = values.get_item(0)?.extract()?;
        // The borrowed views must outlive the columns that point into them.
        let holders: Vec<(String, ColumnSpec<'_>)> = match tag.as_str() {
            "plain" => vec![(String::new(), values.get_item(1)?.extract()?)],
            "object" => values.get_item(2)?.extract()?,
            other => return Err(to_py_err(py, Error::InvalidArgument(format!("unknown value form '{other}'")))),
        };
        let mut columns = Vec::with_capacity(holders.len());
        for (name, spec) in &holders {
            columns.push((name.clone(), write_column(py, &spec.0, spec.1.as_slice()?, spec.2)?));
        }
        let write_values = if tag == "plain" {
            WriteValues::Plain(columns.pop().expect("one column").1)
        } else {
            WriteValues::Object { type_name: values.get_item(1)?.extract()?, fields: columns }
        };
        let client = &self.inner;
        py.detach(|| client.put_all(cache_name, &key_column, &write_values, create)).py_err(py)
    }

    #[getter]
    fn idle_connections(&self) -> usize {
        self.inner.idle_connections()
    }

    /// Binary type metadata: `(name, [(field, type_code)], [(enum constant, ordinal)])`.
    fn binary_type(&self, py: Python<'_>, type_id: i32) -> PyResult<BinaryTypeTuple> {
        let client = &self.inner;
        let t = py.detach(|| client.binary_type(type_id)).py_err(py)?;
        Ok((
            t.name.clone(),
            t.fields.iter().map(|f| (f.name.clone(), f.type_code)).collect(),
            t.enum_values.clone(),
        ))
    }

    /// The id of the node this client talks to, as 16 canonical bytes (None before 1.4.0).
    fn node_id(&self, py: Python<'_>) -> PyResult<Option<Vec<u8>>> {
        let client = &self.inner;
        Ok(py.detach(|| client.node_id()).py_err(py)?.map(|id| id.to_vec()))
    }

    /// `(topology_major, topology_minor, [primary node id per partition])`, or None where partition
    /// awareness does not apply to the cache.
    fn partition_map(&self, py: Python<'_>, cache_name: &str) -> PyResult<Option<PartitionMapTuple>> {
        let client = &self.inner;
        let map = py.detach(|| client.partition_map(cache_name)).py_err(py)?;
        Ok(map.map(|m| (m.topology.0, m.topology.1, m.primaries.iter().map(|id| id.to_vec()).collect())))
    }

    /// Backup copies `cache_name` keeps of each partition (2**31 - 1 for a replicated cache).
    fn cache_backups(&self, py: Python<'_>, cache_name: &str) -> PyResult<i32> {
        let client = &self.inner;
        py.detach(|| client.cache_backups(cache_name)).py_err(py)
    }

    /// `[(node id, port, [hosts])]` of the cluster's server nodes, or None where the server
    /// does not offer them.
    fn node_endpoints(&self, py: Python<'_>) -> PyResult<Option<Vec<NodeEndpointTuple>>> {
        let client = &self.inner;
        let nodes = py.detach(|| client.node_endpoints()).py_err(py)?;
        Ok(nodes.map(|nodes| nodes.into_iter().map(|n| (n.node_id.to_vec(), n.port, n.hosts)).collect()))
    }

    /// `(major, minor)` affinity topology version of the cluster.
    fn topology_version(&self, py: Python<'_>) -> PyResult<(i64, i32)> {
        let client = &self.inner;
        py.detach(|| client.topology_version()).py_err(py)
    }

    /// The protocol version the handshake settled on.
    fn protocol_version(&self, py: Python<'_>) -> PyResult<(i16, i16, i16)> {
        let client = &self.inner;
        let v = py.detach(|| client.protocol_version()).py_err(py)?;
        Ok((v.0, v.1, v.2))
    }
}

/// An open scan or query cursor.
#[pyclass(module = "ignite_fast._native")]
struct NativeCursor {
    inner: Option<Cursor>,
    /// Page bytes received, kept after the scan ends.
    wire_bytes: u64,
}

impl NativeCursor {
    /// Records the byte count and lets go of a finished or failed scan.
    fn finish(&mut self) {
        if let Some(scan) = self.inner.take() {
            self.wire_bytes = scan.wire_bytes();
        }
    }

    fn note_progress(&mut self) {
        if let Some(scan) = &self.inner {
            self.wire_bytes = scan.wire_bytes();
        }
    }

    /// Runs one step of the scan with the GIL released; the end of the scan or an error lets go
    /// of the scan (and so of its connection).
    fn step<T: Send>(&mut self, py: Python<'_>, f: impl FnOnce(&mut Cursor) -> Result<Option<T>, Error> + Send) -> PyResult<Option<T>> {
        let Some(scan) = self.inner.as_mut() else { return Ok(None) };
        match py.detach(|| f(scan)) {
            Ok(Some(item)) => {
                self.note_progress();
                Ok(Some(item))
            }
            Ok(None) => {
                self.finish();
                Ok(None)
            }
            Err(e) => {
                self.finish();
                Err(to_py_err(py, e))
            }
        }
    }
}

#[pymethods]
impl NativeCursor {
    /// Names of a row's columns: `key`, `val` for scans, the result columns for queries.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.inner.as_ref().map_or_else(Vec::new, |c| c.column_names().to_vec())
    }

    /// Decodes up to `max_rows` rows: `(rows, {name: column})`, or None at the end.
    fn next_batch<'py>(&mut self, py: Python<'py>, max_rows: usize) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.step(py, |scan| scan.next_batch(max_rows))? {
            Some(batch) => Ok(Some(batch_to_py(py, batch)?)),
            None => Ok(None),
        }
    }

    /// Fetches one page and discards it: `(entries, bytes)`, or None at the end.
    fn next_raw_page(&mut self, py: Python<'_>) -> PyResult<Option<(usize, usize)>> {
        self.step(py, |scan| scan.next_raw_page())
    }

    /// Bytes of page payload received so far.
    #[getter]
    fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Closes the cursor on the server if it is still open; idempotent.
    fn close(&mut self, py: Python<'_>) {
        self.note_progress();
        if let Some(scan) = self.inner.take() {
            py.detach(move || drop(scan));
        }
    }
}

/// Several partitions read at once over one connection (see `ignite_core::partition_scan`).
#[pyclass(module = "ignite_fast._native")]
struct NativePartitionScan {
    /// `None` once closed; a failed scan stays and refuses further use.
    inner: Option<PartitionScan>,
}

impl NativePartitionScan {
    fn scan(&mut self) -> PyResult<&mut PartitionScan> {
        self.inner.as_mut().ok_or_else(|| pyo3::exceptions::PyValueError::new_err("the partition scan is closed"))
    }
}

#[pymethods]
impl NativePartitionScan {
    /// Queues a partition; its cursor opens (the request goes out) as soon as a cursor is free.
    fn add(&mut self, py: Python<'_>, partition: i32) -> PyResult<()> {
        let scan = self.scan()?;
        py.detach(|| scan.add(partition)).py_err(py)
    }

    /// How many partitions can be added without waiting for a cursor.
    #[getter]
    fn free_cursors(&self) -> usize {
        self.inner.as_ref().map_or(0, |s| s.free_cursors())
    }

    /// Partitions added and not finished.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.as_ref().map_or(0, |s| s.pending())
    }

    /// Up to `max_rows` rows of one partition: `(partition, finished, rows, {name: column},
    /// merged)`, or None once every added partition is read. With `whole_partitions`, partitions
    /// that arrived whole in one page share batches: `merged` lists those after `partition`
    /// (all of them, and `partition`, complete in this batch).
    #[pyo3(signature = (max_rows, whole_partitions=false))]
    fn next_batch<'py>(&mut self, py: Python<'py>, max_rows: usize, whole_partitions: bool) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let scan = self.scan()?;
        match py.detach(|| scan.next_batch(max_rows, whole_partitions)).py_err(py)? {
            None => Ok(None),
            Some(PartitionBatch { partition, batch, finished, merged }) => {
                Ok(Some((partition, finished, batch.len, columns_to_py(py, batch.columns)?, merged).into_pyobject(py)?))
            }
        }
    }

    /// The next page to arrive, discarded: `(partition, finished, entries, bytes)`, or None.
    fn next_raw_page(&mut self, py: Python<'_>) -> PyResult<Option<(i32, bool, usize, usize)>> {
        let scan = self.scan()?;
        let page = py.detach(|| scan.next_raw_page()).py_err(py)?;
        Ok(page.map(|p| (p.partition, p.finished, p.rows, p.bytes)))
    }

    /// Bytes of page payload received so far.
    #[getter]
    fn wire_bytes(&self) -> u64 {
        self.inner.as_ref().map_or(0, |s| s.wire_bytes())
    }

    /// Lets go of the connection (closing it if cursors are still open on the server); idempotent.
    fn close(&mut self, py: Python<'_>) {
        if let Some(scan) = self.inner.take() {
            py.detach(move || drop(scan));
        }
    }
}

#[pyfunction]
fn cache_id(name: &str) -> i32 {
    ignite_core::java_string_hash(name)
}

/// The name of a binary type code (`long`, `string`, `int[]`, `object`, ...).
#[pyfunction]
fn type_code_name(code: u8) -> &'static str {
    ignite_core::type_code_name(code)
}

/// The binary type id of a type name (Ignite's default id mapper: hash of the lower-cased name).
#[pyfunction]
fn type_id(name: &str) -> i32 {
    ignite_core::name_id(name)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ConnectionSpec>()?;
    m.add_class::<NativeClient>()?;
    m.add_class::<NativeCursor>()?;
    m.add_class::<NativePartitionScan>()?;
    m.add_class::<ColumnBuffer>()?;
    m.add_class::<igfs::NativeIgfs>()?;
    m.add_class::<igfs::NativeFileReader>()?;
    m.add_class::<igfs::NativeFileWriter>()?;
    m.add_function(wrap_pyfunction!(cache_id, m)?)?;
    m.add_function(wrap_pyfunction!(type_id, m)?)?;
    m.add_function(wrap_pyfunction!(type_code_name, m)?)?;
    m.add("ALIGNMENT", ignite_core::ALIGNMENT)?;
    Ok(())
}
