//! The native client (one cluster's connection pool and metadata cache) and its cursors. Every
//! call that touches the network or decodes releases the GIL.

use ignite_core::ignite2::{Client, Cursor, SqlOptions};
use ignite_core::DecodeOptions;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::args::{scan_options, sql_args, write_column, ColumnSpec, ValuesSpec};
use crate::connection_spec::ConnectionSpec;
use crate::errors::detach;
use crate::open_cursor::cursor_class;
use crate::partition_scan::NativePartitionScan;

/// What Python receives for a binary type: `(name, [(field, type code)], [(enum constant, ordinal)])`.
type BinaryTypeTuple = (String, Vec<(String, u8)>, Vec<(String, i32)>);
/// `(topology major, topology minor, [primary node id per partition])`.
type PartitionMapTuple = (i64, i32, Vec<Vec<u8>>);
/// `(node id, client port, [hosts])`.
type NodeEndpointTuple = (Vec<u8>, u16, Vec<String>);

/// A connection pool and metadata cache for one cluster.
#[pyclass(module = "ignite_fast._native")]
pub(crate) struct NativeClient {
    inner: Client,
}

#[pymethods]
impl NativeClient {
    /// Connects as `spec` says (see [`ConnectionSpec`]).
    #[new]
    fn new(py: Python<'_>, spec: &ConnectionSpec) -> PyResult<Self> {
        spec.connect(py, Client::connect)
            .map(|inner| NativeClient { inner })
    }

    fn cache_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let client = &self.inner;
        detach(py, || client.cache_names())
    }

    #[pyo3(signature = (cache_name, page_size=1024, part=-1, local=false, decimal_as_string=false, fields=None, value_type=None, union_types=false),
           // Written out: pyo3 shows a negative default as `...`.
           text_signature = "($self, cache_name, page_size=1024, part=-1, local=False, decimal_as_string=False, \
                             fields=None, value_type=None, union_types=False)")]
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
        let mut options = scan_options(
            page_size,
            decimal_as_string,
            fields,
            value_type,
            union_types,
        )?;
        options.partition = part;
        options.local = local;
        let client = &self.inner;
        let cursor = detach(py, || client.scan(cache_name, &options))?;
        Ok(NativeCursor::from(cursor))
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
        let options = scan_options(
            page_size,
            decimal_as_string,
            fields,
            value_type,
            union_types,
        )?;
        let client = &self.inner;
        let scan = detach(py, || client.partition_scan(cache_name, &options, cursors))?;
        Ok(NativePartitionScan::new(scan))
    }

    /// Runs an SQL fields query.
    #[pyo3(signature = (query, args=Vec::new(), schema="PUBLIC".to_string(), page_size=1024, max_rows=0,
                        distributed_joins=false, local=false, replicated_only=false, enforce_join_order=false,
                        collocated=false, lazy=false, timeout_ms=0, decimal_as_string=false),
           // Written out: pyo3 shows defaults that are not plain literals as `...`.
           text_signature = "($self, query, args=[], schema='PUBLIC', page_size=1024, max_rows=0, \
                             distributed_joins=False, local=False, replicated_only=False, enforce_join_order=False, \
                             collocated=False, lazy=False, timeout_ms=0, decimal_as_string=False)")]
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
        let args = sql_args(&args)?;
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
        let cursor = detach(py, || client.sql(query, &args, &options))?;
        Ok(NativeCursor::from(cursor))
    }

    /// Writes rows: `keys` a column spec, `values` either `("plain", spec)` or
    /// `("object", type_name, [(field, spec), ...])` (see [`ColumnSpec`]). Returns the rows written.
    #[pyo3(signature = (cache_name, keys, values, create=true))]
    fn put_all(
        &self,
        py: Python<'_>,
        cache_name: &str,
        keys: ColumnSpec<'_>,
        values: Bound<'_, PyTuple>,
        create: bool,
    ) -> PyResult<usize> {
        let key_column = write_column(&keys)?;
        let values = ValuesSpec::from_py(&values)?;
        let write_values = values.write_values()?;
        let client = &self.inner;
        detach(py, || {
            client.put_all(cache_name, &key_column, &write_values, create)
        })
    }

    #[getter]
    fn idle_connections(&self) -> usize {
        self.inner.idle_connections()
    }

    /// Binary type metadata: `(name, [(field, type_code)], [(enum constant, ordinal)])`.
    fn binary_type(&self, py: Python<'_>, type_id: i32) -> PyResult<BinaryTypeTuple> {
        let client = &self.inner;
        let t = detach(py, || client.binary_type(type_id))?;
        Ok((
            t.name.clone(),
            t.fields
                .iter()
                .map(|f| (f.name.clone(), f.type_code))
                .collect(),
            t.enum_values.clone(),
        ))
    }

    /// The id of the node this client talks to, as 16 canonical bytes (None before 1.4.0).
    fn node_id(&self, py: Python<'_>) -> PyResult<Option<Vec<u8>>> {
        let client = &self.inner;
        Ok(detach(py, || client.node_id())?.map(|id| id.to_vec()))
    }

    /// `(topology_major, topology_minor, [primary node id per partition])`, or None where partition
    /// awareness does not apply to the cache.
    fn partition_map(
        &self,
        py: Python<'_>,
        cache_name: &str,
    ) -> PyResult<Option<PartitionMapTuple>> {
        let client = &self.inner;
        let map = detach(py, || client.partition_map(cache_name))?;
        Ok(map.map(|m| {
            (
                m.topology.0,
                m.topology.1,
                m.primaries.iter().map(|id| id.to_vec()).collect(),
            )
        }))
    }

    /// Backup copies `cache_name` keeps of each partition (2**31 - 1 for a replicated cache).
    fn cache_backups(&self, py: Python<'_>, cache_name: &str) -> PyResult<i32> {
        let client = &self.inner;
        detach(py, || client.cache_backups(cache_name))
    }

    /// `[(node id, port, [hosts])]` of the cluster's server nodes, or None where the server
    /// does not offer them.
    fn node_endpoints(&self, py: Python<'_>) -> PyResult<Option<Vec<NodeEndpointTuple>>> {
        let client = &self.inner;
        let nodes = detach(py, || client.node_endpoints())?;
        Ok(nodes.map(|nodes| {
            nodes
                .into_iter()
                .map(|n| (n.node_id.to_vec(), n.port, n.hosts))
                .collect()
        }))
    }

    /// `(major, minor)` affinity topology version of the cluster.
    fn topology_version(&self, py: Python<'_>) -> PyResult<(i64, i32)> {
        let client = &self.inner;
        detach(py, || client.topology_version())
    }

    /// The protocol version the handshake settled on.
    fn protocol_version(&self, py: Python<'_>) -> PyResult<(i16, i16, i16)> {
        let client = &self.inner;
        let v = detach(py, || client.protocol_version())?;
        Ok((v.0, v.1, v.2))
    }
}

cursor_class! {
    /// An open scan or query cursor.
    #[pyclass(module = "ignite_fast._native")]
    NativeCursor(Cursor) {}
}
