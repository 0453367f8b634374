"""Type stubs for the Rust extension module (rust/ignite-py)."""

from typing import Any, Self, final

import numpy as np

# The extension's own __all__ (pyo3 writes it from what the module adds).
__all__ = [
    "ConnectionSpec",
    "NativeClient",
    "NativeCursor",
    "NativePartitionScan",
    "ColumnBuffer",
    "NativeIgnite3Client",
    "Ignite3Cursor",
    "NativeIgfs",
    "NativeFileReader",
    "NativeFileWriter",
    "igfs_env",
    "type_id",
    "type_code_name",
    "padded_strings",
    "string_dtype_array",
    "error_kind_samples",
    "panic_sample",
    "PRIMITIVE_DTYPES",
]

# {Ignite primitive name: numpy dtype name of its arrays}, e.g. {"byte": "uint8", "int": "int32", ...}:
# the one list of the primitive kinds (the writer's column kinds and the reader's dtypes).
PRIMITIVE_DTYPES: dict[str, str]

# A column is a tagged tuple; see ignite_fast.columns.column_from_native:
#   ("null", len) | ("prim", values, valid | None, logical) | ("fixed", values_2d, valid | None)
#   | ("var", values, offsets, valid | None) | ("str", offsets, data, valid | None, None | "decimal")
#   | ("list", offsets, child, valid | None) | ("map", offsets, keys, values, valid | None)
#   | ("struct", type_name, {name: column}, len)
# logical: None | "uuid" | "date" | "timestamp" | "time" | "time_ns" | "decimal" | ("enum", type_id)
# Strings are Arrow's layout: row i is data[offsets[i]:offsets[i + 1]] (uint8 UTF-8; int32 offsets,
# int64 past 2 GiB); a null row is empty.
_NativeColumn = tuple[Any, ...]  # private: a name of the stubs only, not of the module

@final
class ColumnBuffer:
    """Owner of a 64-byte-aligned column buffer; the base object of the numpy arrays over it."""

    def __len__(self) -> int: ...

@final
class NativeCursor:
    def next_batch(self, max_rows: int) -> tuple[int, dict[str, _NativeColumn]] | None: ...
    def next_raw_page(self) -> tuple[int, int] | None: ...
    def close(self) -> None: ...

@final
class NativePartitionScan:
    def add(self, partition: int) -> None: ...
    @property
    def free_cursors(self) -> int: ...
    @property
    def pending(self) -> int: ...
    def next_batch(
        self, max_rows: int, whole_partitions: bool = False
    ) -> tuple[int, bool, int, dict[str, _NativeColumn], list[int]] | None: ...
    def next_raw_page(self) -> tuple[int, bool, int, int] | None: ...
    def close(self) -> None: ...

@final
class ConnectionSpec:
    """Addresses, credentials, timeouts, handshake version and TLS, shared by the native client
    and file system (TLS certificates are read when it is made)."""
    def __new__(
        cls,
        addresses: list[str],
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float | None = 60.0,
        protocol_version: tuple[int, int, int] = (1, 7, 0),
        tls: bool = False,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        key_password: str | None = None,
        verify_hostname: bool = True,
    ) -> Self: ...

@final
class NativeClient:
    def __new__(cls, spec: ConnectionSpec) -> Self: ...
    def protocol_version(self) -> tuple[int, int, int]: ...
    def node_id(self) -> bytes | None: ...
    def partition_map(self, cache_name: str) -> tuple[int, int, list[bytes]] | None: ...
    def topology_version(self) -> tuple[int, int]: ...
    def node_endpoints(self) -> list[tuple[bytes, int, list[str]]] | None: ...
    def cache_backups(self, cache_name: str) -> int: ...
    def cache_names(self) -> list[str]: ...
    def scan(
        self,
        cache_name: str,
        page_size: int = 1024,
        part: int = -1,
        local: bool = False,
        decimal_as_string: bool = False,
        fields: list[str] | None = None,
        value_type: int | None = None,
        union_types: bool = False,
    ) -> NativeCursor: ...
    def partition_scan(
        self,
        cache_name: str,
        page_size: int = 1024,
        cursors: int = 4,
        decimal_as_string: bool = False,
        fields: list[str] | None = None,
        value_type: int | None = None,
        union_types: bool = False,
    ) -> NativePartitionScan: ...
    def sql(
        self,
        query: str,
        args: list[Any] = ...,
        schema: str = "PUBLIC",
        page_size: int = 1024,
        max_rows: int = 0,
        distributed_joins: bool = False,
        local: bool = False,
        replicated_only: bool = False,
        enforce_join_order: bool = False,
        collocated: bool = False,
        lazy: bool = False,
        timeout_ms: int = 0,
        decimal_as_string: bool = False,
    ) -> NativeCursor: ...
    def binary_type(self, type_id: int) -> tuple[str, list[tuple[str, int]], list[tuple[str, int]]]: ...
    def put_all(
        self, cache_name: str, keys: tuple[str, np.ndarray, int], values: tuple[Any, ...], create: bool = True
    ) -> int: ...
    @property
    def idle_connections(self) -> int: ...

# (path, "file" | "directory", size, block_size, modified_ms)
_Entry = tuple[str, str, int, int, int]

@final
class NativeIgfs:
    def __new__(
        cls,
        spec: ConnectionSpec,
        name: str = "",
        block_size: int = 1 << 20,
        backups: int = 0,
        read_ahead: int = 4,
        write_pipeline: int = 4,
        lease: float = 600.0,
        meta_cache: str | None = None,
        data_cache: str | None = None,
    ) -> Self: ...
    def layout(self) -> tuple[str, str, int]: ...
    def stat(self, path: str) -> _Entry: ...
    def exists(self, path: str) -> bool: ...
    def list(self, path: str, recursive: bool = False) -> list[_Entry]: ...
    def mkdir(self, path: str, parents: bool = False, exist_ok: bool = False) -> None: ...
    def delete(self, path: str, recursive: bool = False) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def open(self, path: str) -> NativeFileReader: ...
    def create(self, path: str, mode: str, parents: bool = False) -> NativeFileWriter: ...
    def gc(self, older_than: float, orphans: bool = False) -> tuple[int, int, int, int, int]: ...

@final
class NativeFileReader:
    @property
    def size(self) -> int: ...
    def read_bytes(self, offset: int, n: int) -> bytes: ...
    def read_into(self, offset: int, buffer: Any) -> int: ...

@final
class NativeFileWriter:
    def write(self, data: Any) -> int: ...
    def tell(self) -> int: ...
    def flush(self) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...

@final
class NativeIgnite3Client:
    def __new__(cls, spec: ConnectionSpec) -> Self: ...
    def node_name(self) -> str: ...
    def for_address(self, address: str) -> NativeIgnite3Client: ...
    def sql(
        self,
        query: str,
        args: list[Any],
        schema: str = "PUBLIC",
        page_size: int = 4096,
        decimal_as_string: bool = False,
    ) -> Ignite3Cursor: ...
    def execute(self, statement: str, args: list[Any], schema: str = "PUBLIC") -> int: ...
    def primary_replicas(self, table: str) -> list[str | None]: ...
    def partition_count(self, table: str) -> int: ...
    # columns: [(table column, (kind, uint8 data, width), uint8 null mask or None)]; upserts
    # through the data streamer; the rows written
    def put_columns(self, table: str, columns: list[tuple[str, tuple[str, Any, int], Any | None]]) -> int: ...

@final
class Ignite3Cursor:
    # (name, SQL type, nullable, scale, precision)
    def columns(self) -> list[tuple[str, str, bool, int, int]]: ...
    def next_batch(self, max_rows: int) -> tuple[int, dict[str, _NativeColumn]] | None: ...
    def next_raw_page(self) -> tuple[int, int] | None: ...
    def close(self) -> None: ...

def igfs_env(addresses: list[str] | None = None) -> dict[str, Any]:
    """The IGFS_* variables as the TF plugin reads them: host, hosts (IGFS_HOST's entries), port,
    name, username, password, block_size, tls (None or the TlsOptions fields), withheld. With
    addresses ("host:port"), as they apply there: credentials only for the environment's own
    cluster; withheld says whether some were kept back."""

def type_id(name: str) -> int: ...
def type_code_name(code: int) -> str: ...
def padded_strings(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Strings (offsets into UTF-8 bytes) padded with zero bytes to the longest: a (rows, width) uint8 array."""

def string_dtype_array(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Strings (offsets into UTF-8 bytes) as a numpy 2 StringDType(na_object=None) array, None where not valid."""

def error_kind_samples() -> list[tuple[str, BaseException]]:
    """For the error-mapping test: one sample of every core error kind, as (kind, the exception it raises)."""

def panic_sample() -> None:
    """For the boundary test: panics inside native work; raises ``IgniteError("internal error: ...")``."""
