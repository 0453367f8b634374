"""``IgniteDataset``: a drop-in for ``tf.contrib.ignite.IgniteDataset`` on today's TensorFlow.

Same arguments, same element structure (``{'key': ..., 'val': {...}}``, object fields sorted by name,
strings as bytes, arrays as 1-D tensors), the same ``IGNITE_DATASET_*`` environment overrides, built
on ``tf.data.Dataset.from_generator``. Data is decoded by the Rust core in whole batches; the
per-element view is made with ``unbatch()``. Pass ``batch_size=`` to get batched elements directly,
which is much faster: ``from_generator`` pays a fixed cost per element.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from .client import TARGET_BATCH_BYTES, Client
from .columns import Ragged, from_native, uuid_strings
from .errors import InvalidArgumentError, UnsupportedTypeError
from .sharding import check_selection

_DTYPES = {
    "uint8": tf.uint8, "int16": tf.int16, "int32": tf.int32, "int64": tf.int64,
    "float32": tf.float32, "float64": tf.float64, "uint16": tf.uint16, "bool": tf.bool,
}

# Batches decoded per generator step when the caller asks for single elements.
_ELEMENT_MODE_BATCH = 1024
# Rows read up front to find the element structure.
_SAMPLE_ROWS = 1024


def _env(name: str, value: Any, convert: Callable[[str], Any] = str) -> Any:
    """The original reader let ``IGNITE_DATASET_<NAME>`` override the argument."""
    raw = os.environ.get(f"IGNITE_DATASET_{name}")
    if raw is None:
        return value
    try:
        return convert(raw)
    except ValueError as e:
        raise InvalidArgumentError(f"IGNITE_DATASET_{name}={raw!r} is not valid: {e}") from None


def _bool(raw: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


_UNITS = {"date": "ms", "time": "ms", "timestamp": "ns"}


def _flat_spec(column: tuple, batched_arrays_dense: bool, path: str) -> tf.TypeSpec:
    """A batched spec (leading batch dimension) for a column whose rows are single values."""
    tag = column[0]
    if tag == "str":
        return tf.TensorSpec([None], tf.string)
    if tag == "null":
        return tf.TensorSpec([None], tf.float64)
    if tag == "prim":
        logical = column[3]
        if logical is None:
            return tf.TensorSpec([None], _DTYPES[column[1].dtype.name])
        if logical == "uuid":
            return tf.TensorSpec([None], tf.string, name="uuid")
        if logical in _UNITS:  # int64 with the unit in the spec's name
            return tf.TensorSpec([None], tf.int64, name=f"{logical}_{_UNITS[logical]}")
        if logical == "decimal":
            return tf.TensorSpec([None], tf.float64)
        return tf.TensorSpec([None], tf.int32, name="enum_ordinal")
    if tag == "fixed" and batched_arrays_dense:
        return tf.TensorSpec([None, column[1].shape[1]], _DTYPES[column[1].dtype.name])
    if tag in ("fixed", "var"):
        return tf.RaggedTensorSpec([None, None], _DTYPES[column[1].dtype.name], ragged_rank=1, row_splits_dtype=tf.int64)
    raise UnsupportedTypeError(f"column '{path}' ({tag}) has no flat TensorFlow form")


def _ragged_of(spec: tf.TensorSpec) -> tf.RaggedTensorSpec:
    return tf.RaggedTensorSpec([None, None], spec.dtype, ragged_rank=1, row_splits_dtype=tf.int64)


def _tls_options(certfile, keyfile, cert_password, ca_file, check_hostname):
    from .client import TlsOptions

    if not (certfile or keyfile or cert_password or ca_file):
        return None
    return TlsOptions(ca_file=ca_file, cert_file=certfile, key_file=keyfile, key_password=cert_password,
                      check_hostname=check_hostname)


def _spec(column: tuple, batched_arrays_dense: bool, path: str) -> Any:
    """A batched TypeSpec structure for a native column."""
    tag = column[0]
    if tag == "struct":
        return {name: _spec(col, batched_arrays_dense, f"{path}.{name}") for name, col in column[2].items()}
    if tag in ("list", "map"):
        children = {"": column[2]} if tag == "list" else {"key": column[2], "value": column[3]}
        out = {}
        for name, child in children.items():
            if child[0] == "struct":
                # A list of objects: one ragged tensor per field, sharing row splits.
                out[name] = {f: _ragged_of(_flat_spec(c, False, f"{path}[].{f}")) for f, c in child[2].items()}
            elif child[0] in ("prim", "str", "null"):
                out[name] = _ragged_of(_flat_spec(child, False, f"{path}[]"))
            else:
                raise UnsupportedTypeError(
                    f"column '{path}' nests lists in lists, which IgniteDataset does not map to "
                    "TensorFlow; read it with Client.scan")
        return out[""] if tag == "list" else out
    return _flat_spec(column, batched_arrays_dense, path)


def _to_tf(value: Any, spec: Any, path: str) -> Any:
    """Fits one decoded column to its spec (no per-row Python work)."""
    if isinstance(spec, dict):
        if isinstance(value, Ragged):  # a list of objects (one ragged tensor per field), or a map
            return {name: _to_tf(Ragged(value.values[name], value.offsets, value.valid), s, f"{path}.{name}")
                    for name, s in spec.items()}
        return {name: _to_tf(value[name], s, f"{path}.{name}") for name, s in spec.items()}
    if isinstance(spec, tf.RaggedTensorSpec):
        if isinstance(value, Ragged):
            return tf.RaggedTensor.from_row_splits(_leaf(value.values, spec.dtype), value.offsets, validate=False)
        return tf.RaggedTensor.from_tensor(np.ma.getdata(value), row_splits_dtype=tf.int64)
    if isinstance(value, Ragged):
        width = spec.shape[1]
        if not np.all(value.lengths == width):
            raise InvalidArgumentError(
                f"column '{path}' held {width}-element arrays in the first batch and arrays of other "
                "lengths later; pass ragged=True to read it as tf.RaggedTensor"
            )
        return value.values.reshape(len(value), width)
    return _leaf(value, spec.dtype)


def _mask_spec(spec: Any) -> Any:
    """The spec of a column's validity: the same structure with one bool per row at each leaf."""
    if isinstance(spec, dict):
        return {name: _mask_spec(s) for name, s in spec.items()}
    return tf.TensorSpec([None], tf.bool)


def _mask_value(value: Any, spec: Any) -> Any:
    """True where a row has a value, False where it is null (vectorized)."""
    if isinstance(spec, dict):
        if isinstance(value, Ragged):  # a list of objects or a map: one validity for the row
            valid = _ragged_valid(value)
            return {name: _mask_value_like(valid, s) for name, s in spec.items()}
        return {name: _mask_value(value[name], s) for name, s in spec.items()}
    if isinstance(value, Ragged):
        return _ragged_valid(value)
    mask = np.ma.getmaskarray(value)
    if mask.ndim > 1:
        mask = mask.reshape(len(mask), -1).any(axis=1)
    return ~mask


def _ragged_valid(value: Ragged) -> np.ndarray:
    return np.ones(len(value), bool) if value.valid is None else np.asarray(value.valid)


def _mask_value_like(valid: np.ndarray, spec: Any) -> Any:
    if isinstance(spec, dict):
        return {name: _mask_value_like(valid, s) for name, s in spec.items()}
    return valid


def _leaf(value: Any, dtype: tf.DType) -> np.ndarray:
    data = np.ma.getdata(value)
    if dtype == tf.string and data.ndim == 2:  # UUIDs: (rows, 16) bytes -> canonical text
        return uuid_strings(data)
    if data.dtype.kind in "mM":  # datetime64 / timedelta64 -> int64 in the column's unit
        return data.view(np.int64)
    return data


class IgniteDataset(tf.data.Dataset):
    """Reads an Ignite cache as a ``tf.data.Dataset``.

    >>> ds = IgniteDataset(cache_name="SQL_PUBLIC_KITTEN_CACHE")      # doctest: +SKIP
    >>> for element in ds.take(1):                                       # doctest: +SKIP
    ...     print(element)   # {'key': 1, 'val': {'NAME': b'WARM KITTY'}}

    Arguments as in the original, except that ``page_size`` (entries per network page) defaults
    to pages of about 16 MB, measured from the entries (the original's 100 entries meant 100 MB
    pages for 1 MB values, which a node's heap may not hold); in addition ``batch_size`` (elements are then whole batches,
    the fast path), ``ragged`` (arrays of varying length as ``tf.RaggedTensor`` in batched mode),
    ``hosts`` (a list of ``host:port`` to try), ``timeout`` (seconds for connect and read),
    ``columns`` (value fields to read; the rest is skipped undecoded), ``value_type`` (the one
    value type to read from a cache that holds several), ``parallel`` (read N partitions at a
    time, each from its primary node, with failover; pass every node in ``hosts``), ``shard``
    (``(i, n)``: only worker i's share of the partitions, from ``plan`` when given; see
    :meth:`for_input_context`) and ``partitions`` (a list of partition numbers to read).
    TLS: ``certfile`` (PEM, the client certificate and its chain), ``keyfile`` and
    ``cert_password`` (for an encrypted key) as in the original, which however never used them;
    here any of them, or ``ca_file``, turns TLS on, and the server's certificate is verified
    against ``ca_file`` (or the system's roots) with its host name checked unless
    ``check_hostname=False``.
    """

    def __init__(
        self,
        cache_name: str,
        host: str = "localhost",
        port: int = 10800,
        local: bool = False,
        part: int = -1,
        page_size: int | None = None,
        username: str | None = None,
        password: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        cert_password: str | None = None,
        *,
        batch_size: int | None = None,
        ragged: bool = False,
        hosts: list[str] | None = None,
        timeout: float = 60.0,
        columns: list[str] | None = None,
        value_type: str | int | None = None,
        with_masks: bool = False,
        ca_file: str | None = None,
        check_hostname: bool = True,
        parallel: int | None = None,
        shard: tuple[int, int] | None = None,
        partitions: list[int] | None = None,
        plan: Any = None,
    ):
        cache_name = _env("CACHE_NAME", cache_name)
        host = _env("HOST", host)
        port = _env("PORT", port, int)
        local = _env("LOCAL", local, _bool)
        part = _env("PART", part, int)
        page_size = _env("PAGE_SIZE", page_size, int)
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
            raise InvalidArgumentError(f"page_size must be a positive int or None, got {page_size!r}")
        username = _env("USERNAME", username)
        password = _env("PASSWORD", password)
        certfile = _env("CERTFILE", certfile)
        keyfile = _env("KEYFILE", keyfile)
        cert_password = _env("CERT_PASSWORD", cert_password)
        ca_file = _env("CA_FILE", ca_file)
        tls = _tls_options(certfile, keyfile, cert_password, ca_file, check_hostname)
        addresses = hosts if hosts is not None else [host]
        client_args = dict(host=addresses, port=port, username=username, password=password,
                           connect_timeout=timeout, read_timeout=timeout, tls=tls)
        scan_args = dict(page_size=page_size, part=part, local=local, columns=columns, value_type=value_type)
        self.cache_name = cache_name
        self.batch_size = batch_size

        partitions = check_selection(shard, partitions, plan)
        if (shard is not None or partitions is not None) and parallel is None:
            parallel = 1
        if parallel is not None and (part != -1 or local):
            raise InvalidArgumentError("parallel=, shard= and partitions= choose the partitions themselves: "
                                       "they do not combine with part= or local=")

        # One client for every pass (made now: the element structure is sampled below), so that
        # passes after the first find its connections open and its page sizes measured.
        self._client = client = Client(**client_args)

        def open_scan(rows: int | None):
            if parallel is None:
                return client.scan_native(cache_name, batch_size=rows, **scan_args)
            from .parallel import parallel_scan

            if rows is None:
                rows = client._rows_for_bytes(cache_name, TARGET_BATCH_BYTES)
            return parallel_scan(client, cache_name, workers=parallel, batch_size=rows, page_size=page_size,
                                 ordered=False, failover_timeout=timeout, shard=shard, plan=plan,
                                 partitions=partitions,
                                 scan_args=dict(columns=columns, value_type=value_type))

        self._build(open_scan, batch_size, ragged, page_size, with_masks)

    @classmethod
    def for_input_context(cls, input_context, cache_name: str, plan: Any = None, **kwargs) -> "IgniteDataset":
        """The dataset of one input pipeline under ``tf.distribute``: pipeline ``i`` of ``n``
        reads shard ``(i, n)`` of the cache's partitions, so that together the pipelines read
        every entry exactly once per epoch. The shards come from ``plan`` (a
        :class:`~ignite_fast.sharding.ShardPlan`), or the plan ``ignite-fast train`` put in the
        environment (balanced by entries, local partitions first), or else contiguous ranges of
        partitions. Use it inside ``strategy.distribute_datasets_from_function``::

            dist = strategy.distribute_datasets_from_function(
                lambda ctx: IgniteDataset.for_input_context(ctx, "digits", batch_size=256))
        """
        shard = (input_context.input_pipeline_id, input_context.num_input_pipelines)
        return cls(cache_name, shard=shard, plan=plan, **kwargs)

    @classmethod
    def from_sql(
        cls,
        query: str,
        args: list | tuple = (),
        host: str = "localhost",
        port: int = 10800,
        *,
        schema: str = "PUBLIC",
        page_size: int = 1024,
        batch_size: int | None = None,
        ragged: bool = False,
        username: str | None = None,
        password: str | None = None,
        hosts: list[str] | None = None,
        timeout: float = 60.0,
        distributed_joins: bool = False,
        lazy: bool = False,
        with_masks: bool = False,
    ) -> "IgniteDataset":
        """A dataset over the rows of an SQL fields query: elements ``{column name: value}``.
        Filtering and projecting on the server sends only what training needs.

        >>> ds = IgniteDataset.from_sql("SELECT NAME FROM KITTEN_CACHE WHERE ID > ?", [1])  # doctest: +SKIP
        """
        self = cls.__new__(cls)
        client_args = dict(host=hosts if hosts is not None else [host], port=port, username=username,
                           password=password, connect_timeout=timeout, read_timeout=timeout)
        self.cache_name = None
        self.batch_size = batch_size

        self._client = client = Client(**client_args)

        def open_query(rows: int):
            return client.sql_native(query, args, batch_size=rows, page_size=page_size, schema=schema,
                                     distributed_joins=distributed_joins, lazy=lazy)

        self._build(open_query, batch_size, ragged, page_size, with_masks)
        return self

    def _build(self, open_source: Callable[[int | None], Any], batch_size: int | None, ragged: bool,
               page_size: int | None, with_masks: bool = False) -> None:
        """Makes the dataset: the element structure from the first rows, then a generator of
        whole decoded batches, unbatched unless the caller asked for batches. Nulls become 0,
        empty strings or empty lists; ``with_masks`` adds ``element["mask"]``, the same structure
        with True where a value is present."""
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise InvalidArgumentError(f"batch_size must be a positive int or None, got {batch_size!r}")
        # Element by element, rows are decoded a page at a time (or about 16 MB when page_size
        # is not given: None lets the source size them by bytes).
        rows_per_step = batch_size or (page_size and max(page_size, _ELEMENT_MODE_BATCH))
        # The element structure comes from a sample of the first rows: enough to tell arrays of
        # one length (dense) from arrays of varying length (ragged).
        first = next(iter(open_source(min(rows_per_step or _SAMPLE_ROWS, _SAMPLE_ROWS))), None)
        dense_arrays = batch_size is not None and not ragged
        if first is None:
            # No rows: nothing to yield, and no data to take the element structure from.
            spec = {"key": tf.TensorSpec([None], tf.int64), "val": tf.TensorSpec([None], tf.int64)}
        else:
            spec = {name: _spec(col, dense_arrays, name) for name, col in first[1].items()}
        data_spec = spec
        if with_masks and first is not None:
            spec = {**data_spec, "mask": {name: _mask_spec(s) for name, s in data_spec.items() if name != "key"}}

        def batches():
            if first is None:
                return
            for _, columns in open_source(rows_per_step):
                values = {name: from_native(columns[name]) for name in data_spec}
                element = {name: _to_tf(values[name], s, name) for name, s in data_spec.items()}
                if "mask" in spec:
                    element["mask"] = {name: _mask_value(values[name], s) for name, s in data_spec.items() if name != "key"}
                yield element

        dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
        if batch_size is None:
            dataset = dataset.unbatch()
        self._dataset = dataset
        super().__init__(dataset._variant_tensor)

    def _inputs(self):
        return []

    @property
    def element_spec(self):
        return self._dataset.element_spec


# ---- igfs:// for tf.io.gfile, checkpoints, SavedModels and summaries ----

_PLUGIN_FILE = "libignite_fast_tf_fs.so"


def igfs_plugin_path() -> str:
    """Where the TensorFlow file system plugin for ``igfs://`` is (``IGNITE_FAST_TF_PLUGIN``
    overrides; ``make setup`` builds it next to this module)."""
    return os.environ.get("IGNITE_FAST_TF_PLUGIN") or os.path.join(os.path.dirname(__file__), _PLUGIN_FILE)


def register_igfs_filesystem() -> None:
    """Registers ``igfs://`` with TensorFlow (done when this module is imported; idempotent).
    The plugin is the Rust core behind :mod:`ignite_fast.igfs`, so both see the same files;
    settings come from the ``IGFS_*`` environment variables and the URL's ``host:port``."""
    if "igfs" in tf.io.gfile.get_registered_schemes():
        return
    path = igfs_plugin_path()
    if not os.path.exists(path):
        raise ImportError(
            f"the igfs:// plugin for TensorFlow is missing ({path}); build it with `make setup` "
            "(cargo build --release -p ignite-tf-fs, then copy target/release/" + _PLUGIN_FILE + ")")
    tf.experimental.register_filesystem_plugin(path)
    if "igfs" not in tf.io.gfile.get_registered_schemes():
        raise ImportError(f"TensorFlow did not register igfs:// from {path}")


register_igfs_filesystem()
