"""``IgniteDataset``: a drop-in for ``tf.contrib.ignite.IgniteDataset`` on today's TensorFlow.

tensorflow-io's signature (``schema_host``/``schema_port`` included), the same element structure
(``{'key': ..., 'val': {...}}``, object fields sorted by name, strings as bytes, arrays as 1-D
tensors), the same ``IGNITE_DATASET_*`` environment overrides, built on
``tf.data.Dataset.from_generator``. The element structure is read when the dataset is built, from
``schema_host:schema_port``; the connection arguments may be tensors, whose values are read when the
iterator runs (``from_generator``'s ``args``), so ``Dataset.from_tensor_slices(hosts).interleave(lambda
host: IgniteDataset(..., host=host))`` works as it did. Data is decoded by the Rust core in whole
batches; the per-element view is made with ``unbatch()``. Pass ``batch_size=`` to get batched
elements directly, which is much faster: ``from_generator`` pays a fixed cost per element.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from ignite_fast._faces import given_options, where_taken
from ignite_fast._options import TlsOptions
from ignite_fast.client import Client
from ignite_fast.columns import Column, to_numpy
from ignite_fast.distributed import TopologyWatch, agreed_plan, worker_context
from ignite_fast.errors import InvalidArgumentError, TlsError
from ignite_fast.position import ScanPosition
from ignite_fast.resumable import ResumableScan
from ignite_fast.source import Source

from .resume import Reader, Scan, resumable_dataset
from .specs import (
    EMPTY_SPEC,
    EqualLengthRuns,
    batch_spec,
    mask_spec,
    mask_value,
    ragged_of,
    run_bounds,
    split_runs,
    to_tf,
)

# Rows decoded per generator step when the caller asks for single elements.
_ELEMENT_MODE_BATCH = 1024
# Rows read up front to find the element structure.
_SAMPLE_ROWS = 1024

# The connection arguments that may be tensors, in the order the generator receives them, with the
# dtype each becomes (None and absent strings travel as "", a page size left to us as -1).
_TENSOR_ARGS = (
    ("cache_name", tf.string),
    ("host", tf.string),
    ("port", tf.int32),
    ("local", tf.bool),
    ("part", tf.int32),
    ("page_size", tf.int32),
    ("username", tf.string),
    ("password", tf.string),
    ("certfile", tf.string),
    ("keyfile", tf.string),
    ("cert_password", tf.string),
    ("ca_file", tf.string),
)


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


def _known(value: Any) -> Any:
    """A Python value for an argument given as a value or a tensor; ``...`` when the tensor's value
    is known only when the graph runs."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        static = tf.get_static_value(value)
        if static is None:
            return ...
        value = static.item() if isinstance(static, np.ndarray) else static
    if isinstance(value, (np.generic,)):
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value


def _text(value: Any) -> str | None:
    """A string argument from the generator ("" means not given)."""
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text or None


def _tls_options(
    certfile: str | None, keyfile: str | None, cert_password: str | None, ca_file: str | None, check_hostname: bool
) -> TlsOptions | None:
    if not (certfile or keyfile or cert_password or ca_file):
        return None
    return TlsOptions(
        ca_file=ca_file, cert_file=certfile, key_file=keyfile, key_password=cert_password, check_hostname=check_hostname
    )


def _explain_tls(error: TlsError, ca_file: str | None) -> TlsError:
    """The original IgniteDataset never verified the server; a user moving from it to a cluster with
    a self-signed certificate learns here what to add."""
    if ca_file:
        return error
    return TlsError(
        f"{error}. The cluster's certificate could not be verified against the system's trusted roots: pass "
        "ca_file='<PEM of the CA that signed it, or of the self-signed certificate itself>' to IgniteDataset "
        "(or set IGNITE_DATASET_CA_FILE). Unlike the original IgniteDataset, this one verifies the server."
    )


def _converter(
    sample: dict[str, Column] | None, arrays: str, with_masks: bool
) -> tuple[Any, Callable[[dict[str, Column]], tuple[Any, int]]]:
    """The batched spec of the batches the dataset reads, taken from ``sample`` (the first rows;
    ``arrays``: one of :data:`~.specs.ARRAY_FORMS`), and the conversion of a batch to that
    structure, with its row count. Nulls become 0, empty strings or empty lists; ``with_masks``
    adds ``element["mask"]``, the same structure with True where a value is present."""
    if sample is None:
        return EMPTY_SPEC, _no_rows
    data_spec = {name: batch_spec(col, arrays, name) for name, col in sample.items()}
    spec = data_spec
    if with_masks:
        spec = {**data_spec, "mask": {name: mask_spec(s) for name, s in data_spec.items() if name != "key"}}

    def convert(batch: dict[str, Column]) -> tuple[Any, int]:
        numpy = {name: to_numpy(batch[name]) for name in data_spec}
        element = {name: to_tf(numpy[name], s, name) for name, s in data_spec.items()}
        if with_masks:
            element["mask"] = {name: mask_value(numpy[name], s) for name, s in data_spec.items() if name != "key"}
        return element, len(next(iter(numpy.values())))

    return spec, convert


def _no_rows(batch: dict[str, Column]) -> tuple[Any, int]:
    raise InvalidArgumentError("rows appeared in a cache that was empty when the dataset was built")


def _element_dataset(
    sample: dict[str, Column] | None,
    batches: Callable[..., Iterator[dict[str, Column]]],
    args: list[Any],
    batch_size: int | None,
    ragged: bool,
    with_masks: bool,
) -> tf.data.Dataset:
    """The ``from_generator`` dataset: a generator of whole decoded batches (given ``args`` as
    Python values), fitted to the specs taken from ``sample``, unbatched unless the caller asked
    for batches."""
    arrays = "ragged" if ragged else "dense" if batch_size is not None else "runs"
    spec, convert = _converter(sample, arrays, with_masks)

    def elements(*values: Any) -> Iterator[Any]:
        if sample is None:
            return
        for batch in batches(*values):
            element, rows = convert(batch)
            if arrays == "runs":
                yield from split_runs(element, rows)
            else:
                yield element

    dataset = tf.data.Dataset.from_generator(elements, args=args, output_signature=spec)
    if batch_size is not None:
        return dataset
    if _has_runs(spec):
        # unbatch() crashes the process on a batch of zero-length arrays, shape (rows, 0) (TF 2.21:
        # a segmentation fault in IteratorGetNext); slicing each batch does not.
        return dataset.flat_map(tf.data.Dataset.from_tensor_slices)
    return dataset.unbatch()


def _resumable_dataset(
    sample: dict[str, Column] | None,
    reader: Reader,
    args: list[tf.Tensor],
    batch_size: int | None,
    ragged: bool,
    with_masks: bool,
) -> tuple[tf.data.Dataset, Any]:
    """:class:`IgniteDataset`'s pipeline (see :mod:`.resume`), and its element spec: its
    iterators' state is the scan position, so ``tf.train.Checkpoint`` saves and restores them.
    The same elements as :func:`_element_dataset` gives."""
    arrays = "ragged" if ragged else "dense" if batch_size is not None else "runs"
    spec, convert = _converter(sample, arrays, with_masks)
    # Per element, arrays of varying length travel ragged and become dense per run of one length.
    runs = tf.nest.map_structure(_is_runs, spec)
    read_spec = tf.nest.map_structure(lambda s, dense: ragged_of(s) if dense else s, spec, runs)
    form = "batches" if batch_size is not None else "runs" if _has_runs(spec) else "elements"

    def step(state: bytes, values: tuple[Any, ...]) -> tuple[bytes, np.ndarray, list[Any]] | None:
        read = reader.read(state, values) if sample is not None else None
        if read is None:
            return None
        position, batch = read
        element, rows = convert(batch)
        bounds = np.asarray(run_bounds(element, rows), np.int64) if form == "runs" else np.zeros(0, np.int64)
        element = tf.nest.map_structure(_ragged_runs, element, runs)
        return position, bounds, tf.nest.flatten(element, expand_composites=True)

    dataset = resumable_dataset(step, read_spec, args, form, runs)
    return dataset, tf.nest.map_structure(_named, dataset.element_spec, spec)


def _named(actual: Any, declared: Any) -> Any:
    """``actual`` with the name ``declared`` gives the column's logical type by (``"uuid"``, a
    time unit), which tensors lose on their way out of a ``py_function``."""
    if isinstance(actual, tf.TensorSpec) and isinstance(declared, tf.TensorSpec) and declared.name:
        return tf.TensorSpec(actual.shape, actual.dtype, name=declared.name)
    return actual


def _is_runs(spec: Any) -> bool:
    """Whether a batched spec is of a primitive-array column given as runs (``[None, None]``)."""
    return isinstance(spec, tf.TensorSpec) and spec.shape.rank == 2 and spec.shape[1] is None


def _ragged_runs(value: Any, runs: bool) -> Any:
    """A column given as runs as the ragged tensor it travels as (arrays of one length come dense)."""
    if isinstance(value, EqualLengthRuns):
        return tf.RaggedTensor.from_row_splits(value.values, np.asarray(value.offsets, np.int64), validate=False)
    if runs:
        return tf.RaggedTensor.from_tensor(value, row_splits_dtype=tf.int64)
    return value


def _has_runs(spec: Any) -> bool:
    """Whether a batched spec holds a primitive-array column given as runs."""
    return any(_is_runs(s) for s in tf.nest.flatten(spec))


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidArgumentError(f"batch_size must be a positive int or None, got {batch_size!r}")


class _GeneratorDataset(tf.data.Dataset):  # type: ignore[misc]  # TensorFlow has no type hints: Dataset is Any
    """A ``tf.data.Dataset`` that wraps a built pipeline and keeps the client it reads with."""

    def __init__(self, dataset: tf.data.Dataset, client: Source, batch_size: int | None, element_spec: Any = None):
        self.batch_size = batch_size
        self._client = client
        self._dataset = dataset
        self._element_spec = dataset.element_spec if element_spec is None else element_spec
        super().__init__(dataset._variant_tensor)  # noqa: SLF001 - how a Dataset subclass wraps another

    def _inputs(self) -> list[Any]:
        return []

    @property
    def element_spec(self) -> Any:
        return self._element_spec


class IgniteDataset(_GeneratorDataset):
    """Reads an Ignite cache as a ``tf.data.Dataset``.

    >>> ds = IgniteDataset(cache_name="SQL_PUBLIC_KITTEN_CACHE")      # doctest: +SKIP
    >>> for element in ds.take(1):                                       # doctest: +SKIP
    ...     print(element)   # {'key': 1, 'val': {'NAME': b'WARM KITTY'}}

    Arguments as in tensorflow-io's ``IgniteDataset``: ``cache_name``, ``host``, ``port``, ``local``,
    ``part``, ``page_size``, ``username``, ``password``, ``certfile``, ``keyfile`` and
    ``cert_password`` may be Python values or scalar tensors (read when the iterator runs);
    ``schema_host``/``schema_port`` (default: ``host``/``port``) is where the element structure is
    read when the dataset is built (give it when ``host`` is a tensor). ``page_size`` (entries per
    network page) defaults to pages of about 16 MB, measured from the entries (the original's 100
    entries meant 100 MB pages for 1 MB values, which a node's heap may not hold). Primitive arrays
    are ``[None]`` tensors per element, as in the original, so ``.batch()`` gives dense tensors where
    the arrays agree in length.

    In addition: ``batch_size`` (elements are then whole batches, the fast path), ``ragged`` (arrays
    as ``tf.RaggedTensor``; in batched mode arrays of varying length are ragged anyway),
    ``hosts`` (a list of ``host:port`` to try), ``timeout`` (seconds for connect and read),
    ``columns`` (value fields to read; the rest is skipped undecoded), ``value_type`` (the one
    value type to read from a cache that holds several), ``parallel`` (read N partitions at a
    time, each from its primary node, with failover; pass every node in ``hosts``), ``shard``
    (``(i, n)``: only worker i's share of the partitions, from ``plan`` when given; see
    :meth:`for_input_context`) and ``partitions`` (a list of partition numbers to read).
    TLS: ``certfile`` (PEM, the client certificate and its chain, or the certificate and its key),
    ``keyfile`` and ``cert_password`` (for an encrypted key) as in the original, which however
    never used them; here any of them, or ``ca_file``, turns TLS on, and the server's certificate is
    verified against ``ca_file`` (or the system's roots) with its host name checked unless
    ``check_hostname=False``.

    ``ignite=3`` reads an Apache Ignite 3 table (``cache_name`` is its name) through the client
    ``Client(..., ignite=3)`` gives, the same way: elements ``{column: value}``, columns named as
    SQL names them. What that client's ``scan`` does not take (``value_type``, ``part``,
    ``local``) is refused when the dataset is built.

    ``resumable=True`` reads the cache partition by partition (``client.resumable_scan``), in a
    pipeline whose iterators ``tf.train.Checkpoint(iterator=...)`` saves and restores: a
    restored iterator reads the rest of its epoch, each entry once while the cache is unchanged.
    Its state is the scan position (:meth:`position`), plus what stages after the dataset
    buffer (a ``prefetch``'s batches). Batches never span partitions where columns cannot be
    merged cheaply (arrays of varying length, lists, maps): such batches end where a partition
    does. The Keras callback :class:`ignite_fast.keras.ResumableBackup` builds on it.
    """

    def __init__(
        self,
        cache_name: Any,
        host: Any = "localhost",
        port: Any = 10800,
        schema_host: str | None = None,
        schema_port: int | None = None,
        local: Any = False,
        part: Any = -1,
        page_size: Any = None,
        username: Any = None,
        password: Any = None,
        certfile: Any = None,
        keyfile: Any = None,
        cert_password: Any = None,
        *,
        batch_size: int | None = None,
        ragged: bool = False,
        hosts: list[str] | None = None,
        timeout: float = 60.0,
        columns: list[str] | None = None,
        value_type: str | int | None = None,
        with_masks: bool = False,
        ca_file: Any = None,
        check_hostname: bool = True,
        parallel: int | None = None,
        shard: tuple[int, int] | None = None,
        partitions: list[int] | None = None,
        plan: Any = None,
        ignite: int = 2,
        resumable: bool = False,
    ):
        given = dict(
            cache_name=_env("CACHE_NAME", cache_name),
            host=_env("HOST", host),
            port=_env("PORT", port, int),
            local=_env("LOCAL", local, _bool),
            part=_env("PART", part, int),
            page_size=_env("PAGE_SIZE", page_size, int),
            username=_env("USERNAME", username),
            password=_env("PASSWORD", password),
            certfile=_env("CERTFILE", certfile),
            keyfile=_env("KEYFILE", keyfile),
            cert_password=_env("CERT_PASSWORD", cert_password),
            ca_file=_env("CA_FILE", ca_file),
        )
        _check_batch_size(batch_size)
        known = {name: _known(value) for name, value in given.items()}
        page = known["page_size"]
        if page is not ... and page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
            raise InvalidArgumentError(f"page_size must be a positive int or None, got {page!r}")
        for name in ("cache_name", "username", "password", "certfile", "keyfile", "cert_password", "ca_file"):
            if known[name] is ...:
                raise InvalidArgumentError(
                    f"{name} must be known when the dataset is built (a Python value or a "
                    "constant tensor): the element structure is read then"
                )
        if known["cache_name"] is None or not isinstance(known["cache_name"], str):
            raise InvalidArgumentError(f"cache_name must be a non-empty string, got {known['cache_name']!r}")
        schema_host = schema_host if schema_host is not None else known["host"]
        schema_port = schema_port if schema_port is not None else known["port"]
        if schema_host is ... or schema_port is ...:
            raise InvalidArgumentError(
                "host and port are tensors whose values are known only when the iterator runs: "
                "pass schema_host= and schema_port= to say where to read the element "
                "structure from when the dataset is built"
            )
        self.cache_name = known["cache_name"]
        tls_of = _tls_factory(check_hostname)
        settings = dict(
            username=known["username"], password=known["password"], connect_timeout=timeout, read_timeout=timeout
        )
        selection: dict[str, Any] = dict(
            columns=columns, value_type=value_type, parallel=parallel, shard=shard, partitions=partitions, plan=plan
        )

        def connect(address: Any, port: int, values: dict[str, Any]) -> Source:
            tls = tls_of(values)
            try:
                return Client(
                    address,
                    port,
                    ignite=ignite,
                    tls=tls,
                    **{**settings, "username": values["username"], "password": values["password"]},
                )
            except TlsError as e:
                raise _explain_tls(e, values["ca_file"]) from None

        # One client per (addresses, port, credentials, TLS) for every pass: the one the element
        # structure is sampled with now, and those for other values the tensors take when run.
        clients: dict[tuple[Any, ...], Source] = {}
        lock = threading.Lock()

        def client_for(address: Any, port: int, values: dict[str, Any]) -> Source:
            key = (
                tuple(address) if isinstance(address, list) else address,
                port,
                *(values[name] for name in ("username", "password", "certfile", "keyfile", "cert_password", "ca_file")),
            )
            with lock:
                if key not in clients:
                    clients[key] = connect(address, port, values)
                return clients[key]

        def watched(client: Source, values: dict[str, Any], batches: Iterator[Any]) -> Iterator[dict[str, Column]]:
            # A plan's shards hold only while the topology it was made for does: a change
            # mid-epoch raises TopologyChangedError (checked at most once a second, and at the end).
            planned = getattr(selection.get("plan"), "topology", None)
            watch = TopologyWatch(client, planned, what=f"the shard plan of {values['cache_name']!r}")
            watch.check(now=True)
            try:
                for batch in batches:
                    yield batch
                    watch.check()
            except TlsError as e:
                raise _explain_tls(e, values["ca_file"]) from None
            watch.check(now=True)

        def scan(client: Source, values: dict[str, Any], rows: int | None) -> Iterator[dict[str, Column]]:
            batches = client.scan(
                values["cache_name"],
                rows,
                page_size=_page(values),
                format="columns",
                # what only some clients' scans take (Ignite 2's), passed to those that do
                **where_taken(client.scan, part=values["part"], local=values["local"], failover_timeout=timeout),
                **selection,
            )
            return watched(client, values, batches)

        def open_scan(tensor_values: tuple[Any, ...], start: ScanPosition | None, epoch: int) -> Scan:
            values = _values(tensor_values)
            client = client_for(hosts if hosts is not None else values["host"], values["port"], values)
            scan = client.resumable_scan(
                values["cache_name"],
                start,
                batch_size=rows_per_step,
                page_size=_page(values),
                format="columns",
                epoch=epoch,
                **selection,
            )
            return _Opened(watched(client, values, scan), scan)

        def batches(*tensor_values: Any) -> Iterator[dict[str, Column]]:
            values = _values(tensor_values)
            yield from scan(
                client_for(hosts if hosts is not None else values["host"], values["port"], values),
                values,
                rows_per_step,
            )

        # Arguments whose tensors are known only when run take their defaults for the sample.
        schema_values = {
            **known,
            "port": schema_port,
            "part": -1 if known["part"] is ... else known["part"],
            "local": False if known["local"] is ... else known["local"],
            "page_size": None if page is ... else page,
        }
        schema_client = client_for(hosts if hosts is not None else schema_host, schema_port, schema_values)
        # What is read, as the client's scan takes it: an option it has no parameter for
        # (value_type, part or local on Ignite 3) is refused now, before anything is read.
        selection = given_options(schema_client.scan, repr(self.cache_name), **selection)
        given_options(
            schema_client.scan,
            repr(self.cache_name),
            part=None if known["part"] == -1 else known["part"],
            local=None if known["local"] is False else known["local"],
        )
        if isinstance(plan, str):
            selection["plan"] = _agreed(schema_client, self.cache_name, plan, shard)
        page_rows = page if isinstance(page, int) else None
        rows_per_step = batch_size or (page_rows and max(page_rows, _ELEMENT_MODE_BATCH)) or None
        # The element structure comes from a sample of the first rows: enough to tell arrays of
        # one length (dense) from arrays of varying length (ragged).
        sample = next(scan(schema_client, schema_values, min(rows_per_step or _SAMPLE_ROWS, _SAMPLE_ROWS)), None)

        args = [tf.convert_to_tensor(_or_default(name, given[name]), dtype=dtype) for name, dtype in _TENSOR_ARGS]
        self._reader: Reader | None = None
        if not resumable:
            dataset = _element_dataset(sample, batches, args, batch_size, ragged, with_masks)
            super().__init__(dataset, schema_client, batch_size)
            return
        if known["part"] != -1 or known["local"] is not False:
            raise InvalidArgumentError(
                "resumable=True reads every partition of the dataset's selection: it takes no part= or local="
            )
        self._reader = Reader(open_scan)

        def check(position: ScanPosition) -> None:
            # resumable_scan checks the position before it reads anything; this scan reads nothing
            schema_client.resumable_scan(self.cache_name, position, format="columns", **selection).close()

        self._check = check
        dataset, spec = _resumable_dataset(sample, self._reader, args, batch_size, ragged, with_masks)
        super().__init__(dataset, schema_client, batch_size, spec)

    def position(self, batches: int | None = None) -> ScanPosition | None:
        """Where the dataset's iterator begun last is (``resumable=True``): after its first
        ``batches`` batches, or after all it has read (None; a pipeline reads ahead of what its
        consumer took). A :class:`~ignite_fast.position.ScanPosition`, which ``describe()`` puts
        in words; None before any batch of an epoch begun afresh. With ``batch_size=``, a batch
        is an element of the dataset."""
        return self._resumable_reader().position(batches)

    def resume_from(self, position: ScanPosition | None) -> None:
        """The next iterator begun reads from ``position`` (None: a new epoch), as the iterator
        of a restored ``tf.train.Checkpoint`` does: what it read is not read again. Checked
        against the dataset's selection now (:class:`~ignite_fast.errors.PositionError`), before
        anything is read."""
        reader = self._resumable_reader()
        if position is not None:
            self._check(position)
        reader.resume_from(position)

    def _resumable_reader(self) -> Reader:
        if self._reader is None:
            raise InvalidArgumentError(f"the dataset of {self.cache_name!r} has no position: pass resumable=True")
        return self._reader

    @classmethod
    def for_input_context(cls, input_context: Any, cache_name: str, plan: Any = None, **kwargs: Any) -> IgniteDataset:
        """The dataset of one input pipeline under ``tf.distribute``: pipeline ``i`` of ``n``
        reads shard ``(i, n)`` of the cache's partitions, so that together the pipelines read
        every entry exactly once per epoch. The shards come from ``plan`` (a
        :class:`~ignite_fast.sharding.ShardPlan`); with ``plan="agree"``, from the plan the
        workers agree on through a plan record in Ignite (see
        :func:`ignite_fast.distributed.agreed_plan`: the job is the engine's, e.g. torchrun's
        with :func:`~ignite_fast.distributed.tf_config_from_torchrun`; balanced by entries, each
        worker's home node first); else from a plan in ``IGNITE_FAST_SHARD_PLANS`` (see
        :mod:`ignite_fast.sharding`), or contiguous ranges of partitions. Use it inside
        ``strategy.distribute_datasets_from_function``::

            dist = strategy.distribute_datasets_from_function(
                lambda ctx: IgniteDataset.for_input_context(ctx, "digits", plan="agree", batch_size=256))
        """
        shard = (input_context.input_pipeline_id, input_context.num_input_pipelines)
        return cls(cache_name, shard=shard, plan=plan, **kwargs)

    @staticmethod
    def from_sql(
        query: str, args: list[Any] | tuple[Any, ...] = (), host: str = "localhost", port: int = 10800, **options: Any
    ) -> SqlDataset:
        """A dataset over the rows of an SQL fields query: elements ``{column name: value}``.
        Filtering and projecting on the server sends only what training needs. ``options`` are
        those of :class:`SqlDataset` (``schema``, ``page_size``, ``batch_size``, ``ragged``,
        ``username``, ``password``, ``hosts``, ``timeout``, ``distributed_joins``, ``lazy``,
        ``with_masks``; ``ignite=3`` for an Apache Ignite 3 cluster).

        >>> ds = IgniteDataset.from_sql("SELECT NAME FROM KITTEN_CACHE WHERE ID > ?", [1])  # doctest: +SKIP
        """
        return SqlDataset(query, args, host, port, **options)


class SqlDataset(_GeneratorDataset):
    """The rows of an SQL fields query as a ``tf.data.Dataset`` (see :meth:`IgniteDataset.from_sql`)."""

    def __init__(
        self,
        query: str,
        args: list[Any] | tuple[Any, ...] = (),
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
        ignite: int = 2,
    ):
        _check_batch_size(batch_size)
        self.cache_name = None
        client = Client(
            hosts if hosts is not None else [host],
            port,
            ignite=ignite,
            username=username,
            password=password,
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        # Passed to a client whose SQL has these switches (Ignite 2's); Ignite 3's engine has
        # none: it always joins across nodes and streams its results.
        switches = where_taken(client.sql, distributed_joins=distributed_joins, lazy=lazy)

        def query_batches(rows: int) -> Iterator[dict[str, Column]]:
            batches: Iterator[dict[str, Column]] = client.sql(
                query, args, batch_size=rows, page_size=page_size, schema=schema, format="columns", **switches
            )
            return batches

        rows_per_step = batch_size or max(page_size, _ELEMENT_MODE_BATCH)
        sample = next(query_batches(min(rows_per_step, _SAMPLE_ROWS)), None)
        dataset = _element_dataset(sample, lambda: query_batches(rows_per_step), [], batch_size, ragged, with_masks)
        super().__init__(dataset, client, batch_size)


def _values(tensor_values: tuple[Any, ...]) -> dict[str, Any]:
    """The connection arguments as Python values, from their tensors' values (see :data:`_TENSOR_ARGS`)."""
    values = {name: value for (name, _), value in zip(_TENSOR_ARGS, tensor_values)}
    for name in ("cache_name", "host", "username", "password", "certfile", "keyfile", "cert_password", "ca_file"):
        values[name] = _text(values[name])
    values["port"], values["part"] = int(values["port"]), int(values["part"])
    values["local"], values["page_size"] = bool(values["local"]), int(values["page_size"])
    return values


def _page(values: dict[str, Any]) -> int | None:
    return values["page_size"] if values["page_size"] not in (None, -1) else None


class _Opened:
    """An iterator's scan (:class:`~.resume.Scan`): ``batches`` as the dataset reads them from
    ``resumable``, at its position."""

    def __init__(self, batches: Iterator[dict[str, Column]], resumable: ResumableScan):
        self._batches = batches
        self._resumable = resumable

    def __next__(self) -> dict[str, Column]:
        return next(self._batches)

    def position(self) -> ScanPosition:
        return self._resumable.position()

    def close(self) -> None:
        self._resumable.close()


def _or_default(name: str, value: Any) -> Any:
    """An argument's value or tensor as ``from_generator`` carries it: None as "" (strings) or -1."""
    if value is None:
        return -1 if name == "page_size" else ""
    return value


def _tls_factory(check_hostname: bool) -> Callable[[dict[str, Any]], TlsOptions | None]:
    def tls_of(values: dict[str, Any]) -> TlsOptions | None:
        return _tls_options(
            values["certfile"], values["keyfile"], values["cert_password"], values["ca_file"], check_hostname
        )

    return tls_of


def _agreed(client: Source, cache: str, plan: str, shard: tuple[int, int] | None) -> Any:
    """The plan every input pipeline agrees on, for ``plan="agree"``: pipeline ``i`` of ``n`` is
    rank ``i`` of ``n`` in the engine's job (:mod:`ignite_fast.distributed`)."""
    if plan != "agree" or shard is None:
        raise InvalidArgumentError(f"plan must be a ShardPlan, or 'agree' with shard=(i, n); got {plan!r}")
    context = dataclasses.replace(worker_context(), rank=shard[0], world_size=shard[1])
    return agreed_plan(client, cache, context)
