"""The source protocol: what both generations' clients do, so that faces (tf.data, PyTorch, Ray,
agreed plans) ask a client what it can do rather than which generation it is.

:class:`ignite_fast.client.Client` (Ignite 2 caches) and :class:`ignite_fast.ignite3.Ignite3Client`
(Ignite 3 tables) both satisfy :class:`Source`; ``tests/unit/test_source.py`` checks it at run time
(``isinstance`` and every member's parameters) and mypy checks the types. Each client keeps its own
extra options (Ignite 2's ``value_type``, ``part``, ``cursors``; Ignite 3's ``query=``), and its
own word for what it reads (a cache, a table): the name is the first, positional argument.

Shapes that are the same on both:

- a batch is ``{column: column}`` and :meth:`Source.schema` mirrors it, ``{column: type}``, in the
  same order. The type is the source's own text for it (Ignite 3: the SQL type, ``"VARCHAR(20)
  NULL"``; Ignite 2: the binary type's, ``"long"``, ``"byte[]"``). An Ignite 2 batch nests where
  its entries do (``{"key": ..., "val": {field: ...}}`` for objects), and so does its schema;
  an Ignite 3 table's is flat. What :meth:`Source.put_batches` takes is shaped the same way.
- a node is named by a :data:`NodeKey`, a string: Ignite 3's node name, Ignite 2's node id as
  UUID text. :meth:`Source.primaries` and :meth:`Source.node_addresses` use the same keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from ._options import ConnectionSettings
from .position import ScanPosition
from .resumable import ResumableScan
from .sharding import ShardPlan

#: How both generations name a node: Ignite 3's node name, or Ignite 2's node id as UUID text.
NodeKey = str

#: A cluster's topology as far as a source tells it: Ignite 2's affinity topology version
#: ``(major, minor)``. Equal values mean the same topology.
Topology = tuple[int, int]


class Connected:
    """What both clients keep: their connection settings, the addresses and repr made of them
    (a base class of both, beside the protocol). ``_generation``: how the repr names a
    generation other than Ignite 2."""

    _generation = ""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings

    def __repr__(self) -> str:
        settings = self._settings
        user = f", username={settings.username!r}" if settings.username else ""
        tls = f", tls={settings.tls!r}" if settings.tls else ""
        return f"Client({list(settings.addresses)!r}{self._generation}{user}{tls})"

    @property
    def addresses(self) -> list[str]:
        """The ``"host:port"`` addresses the client was given."""
        return list(self._settings.addresses)

    @property
    def settings(self) -> ConnectionSettings:
        """Where and how this client connects (for making another client or file system alike)."""
        return self._settings


@runtime_checkable
class Source(Protocol):
    """A client of either generation. The parameters named here mean the same on both; a
    client may take more (keyword-only, with defaults)."""

    @property
    def addresses(self) -> list[str]:
        """The ``"host:port"`` addresses the client was given."""
        ...

    @property
    def settings(self) -> ConnectionSettings:
        """Where and how the client connects (for making another client alike, in a worker)."""
        ...

    def scan(
        self,
        name: str,
        /,
        batch_size: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        parallel: int | None = None,
        ordered: bool = False,
        shard: tuple[int, int] | None = None,
        partitions: Sequence[int] | None = None,
        plan: ShardPlan | None = None,
        strings: str = "bytes",
    ) -> Iterator[Any]:
        """Batches of ``name`` (``format``: ``"numpy"``, ``"arrow"``, ``"columns"``; ``strings``
        the numpy form of text, ``columns.STRING_FORMS``). ``parallel``
        reads partitions from their primaries; ``shard=(i, n)`` reads worker i's share (of
        ``plan``, of the plan in the environment, or else :func:`~ignite_fast.sharding.contiguous_shard`);
        ``partitions`` reads just those."""
        ...

    def resumable_scan(
        self,
        name: str,
        /,
        position: ScanPosition | None = None,
        *,
        batch_size: int | None = None,
        columns: Sequence[str] | None = None,
        parallel: int | None = None,
        shard: tuple[int, int] | None = None,
        partitions: Sequence[int] | None = None,
        plan: ShardPlan | None = None,
        format: str = "numpy",
        strings: str = "bytes",
        page_size: int | None = None,
        epoch: int = 0,
    ) -> ResumableScan:
        """A scan of ``name`` that keeps its position (``scan.position()`` after each batch) and
        reads on from a saved ``position`` (every row once while the data is unchanged), else
        from the start of epoch ``epoch``; always partition-parallel (``parallel``, 1 by
        default). Arguments as :meth:`scan`'s; see ``ignite_fast.resumable``."""
        ...

    def sql(
        self,
        query: str,
        /,
        args: Sequence[Any] = (),
        *,
        batch_size: int | None = None,
        page_size: int | None = None,
        schema: str = "PUBLIC",
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        strings: str = "bytes",
    ) -> Iterator[Any]:
        """Batches ``{column: column}`` of an SQL query's result, ``args`` filling its ``?``."""
        ...

    def to_arrow(self, name: str, /, *, progress: bool | None = None, **scan_args: Any) -> Any:
        """All of ``name`` as a ``pyarrow.Table`` (``scan_args`` as :meth:`scan`'s)."""
        ...

    def to_pandas(self, name: str, /, *, progress: bool | None = None, **scan_args: Any) -> Any:
        """All of ``name`` as a ``pandas.DataFrame``."""
        ...

    def schema(self, name: str, /) -> dict[str, Any]:
        """``{column: type}``, shaped as a batch of ``name`` is (see the module's docstring)."""
        ...

    def partitions(self, name: str, /) -> int:
        """The number of partitions of ``name``: 0 where they cannot be read one by one (an
        Ignite 2 cache that is replicated or has a custom affinity: it is read whole)."""
        ...

    def primaries(self, name: str, /) -> list[NodeKey | None]:
        """The primary node of each partition (None where the cluster names none at the
        moment); as long as :meth:`partitions` says."""
        ...

    def node_addresses(self) -> dict[NodeKey, str]:
        """The ``"host:port"`` each known node answered on, keyed as :meth:`primaries` names nodes."""
        ...

    def plan_shards(
        self, name: str, /, workers: int, *, homes: Sequence[str | None] | None = None, balance: str = ...
    ) -> ShardPlan:
        """Disjoint shards of ``name``'s partitions for ``workers``, each preferring its
        ``homes[i]`` node's partitions. ``balance="partitions"`` balances partition counts on
        both; the default balances what is stored, counted (Ignite 2 calls it ``"entries"``,
        Ignite 3 ``"rows"``)."""
        ...

    def put_batches(self, name: str, columns: dict[str, Any], /, *, progress: bool | None = None) -> int:
        """Writes numpy ``columns`` (shaped as a batch of ``name``) and returns the rows written."""
        ...

    def topology(self) -> Topology | None:
        """The cluster's topology, to watch for changes that void a shard plan; None where the
        protocol does not tell it (Ignite 3), and then there is nothing to watch."""
        ...
