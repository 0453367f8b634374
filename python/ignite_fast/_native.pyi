"""Type stubs for the Rust extension module (rust/ignite-py)."""

from typing import Any

import numpy as np

ALIGNMENT: int

# A column is a tagged tuple; see ignite_fast.columns.from_native:
#   ("null", len) | ("prim", values, valid | None, logical) | ("fixed", values_2d, valid | None)
#   | ("var", values, offsets, valid | None) | ("str", bytes_2d, valid | None, None | "decimal")
#   | ("list", offsets, child, valid | None) | ("map", offsets, keys, values, valid | None)
#   | ("struct", type_name, {name: column}, len)
# logical: None | "uuid" | "date" | "timestamp" | "time" | "decimal" | ("enum", type_id)
NativeColumn = tuple[Any, ...]

class ColumnBuffer:
    """Owner of a 64-byte-aligned column buffer; the base object of the numpy arrays over it."""

    @property
    def address(self) -> int: ...
    def __len__(self) -> int: ...

class NativeCursor:
    @property
    def column_names(self) -> list[str]: ...
    def next_batch(self, max_rows: int) -> tuple[int, dict[str, NativeColumn]] | None: ...
    def next_raw_page(self) -> tuple[int, int] | None: ...
    @property
    def wire_bytes(self) -> int: ...
    def close(self) -> None: ...

class NativeClient:
    def __init__(
        self,
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
    ) -> None: ...
    def protocol_version(self) -> tuple[int, int, int]: ...
    def node_id(self) -> bytes | None: ...
    def partition_map(self, cache_name: str) -> tuple[int, int, list[bytes]] | None: ...
    def cache_names(self) -> list[str]: ...
    def scan(self, cache_name: str, page_size: int = 1024, part: int = -1, local: bool = False,
             decimal_as_string: bool = False, fields: list[str] | None = None,
             value_type: int | None = None, union_types: bool = False) -> NativeCursor: ...
    def sql(self, query: str, args: list[Any] = ..., schema: str = "PUBLIC", page_size: int = 1024,
            max_rows: int = 0, distributed_joins: bool = False, local: bool = False,
            replicated_only: bool = False, enforce_join_order: bool = False, collocated: bool = False,
            lazy: bool = False, timeout_ms: int = 0, decimal_as_string: bool = False) -> NativeCursor: ...
    def binary_type(self, type_id: int) -> tuple[str, list[tuple[str, int]], list[tuple[str, int]]]: ...
    def put_all(self, cache_name: str, keys: tuple[str, np.ndarray, int], values: tuple,
                create: bool = True) -> int: ...
    @property
    def idle_connections(self) -> int: ...

def cache_id(name: str) -> int: ...
def type_id(name: str) -> int: ...
def type_code_name(code: int) -> str: ...
