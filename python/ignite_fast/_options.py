"""Options shared by every room above: addresses, TLS, connection settings, argument checks and what
to decode. Nothing here talks to a server; each check raises :class:`InvalidArgumentError` with the
argument's name."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import _native
from .errors import InvalidArgumentError


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for every connection of a client (TLS 1.2 or 1.3).

    The server's certificate is verified against ``ca_file`` (PEM), or the system's trusted roots
    when it is None, and must name the host connected to unless ``check_hostname=False``.
    ``cert_file`` (PEM chain) and ``key_file`` (PEM key; PKCS#8 encrypted with ``key_password``
    works too) present a client certificate to clusters that require one.
    """

    ca_file: str | os.PathLike[str] | None = None
    cert_file: str | os.PathLike[str] | None = None
    key_file: str | os.PathLike[str] | None = None
    key_password: str | None = None
    check_hostname: bool = True

    def __repr__(self) -> str:
        password = ", key_password='***'" if self.key_password else ""
        return (
            f"TlsOptions(ca_file={self.ca_file!r}, cert_file={self.cert_file!r}, key_file={self.key_file!r}"
            f"{password}, check_hostname={self.check_hostname})"
        )


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_query(query: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError(f"query must be a non-empty string, got {query!r}")
    return query


def exact_decimals(format: str, decimal_as_string: bool | None) -> bool:
    """Whether decimals are read as exact text: as asked, or else for Arrow (exact decimals)."""
    return format == "arrow" if decimal_as_string is None else bool(decimal_as_string)


def check_cache_name(cache: Any) -> str:
    if not isinstance(cache, str) or not cache:
        raise InvalidArgumentError(f"cache must be a non-empty string, got {cache!r}")
    return cache


def parse_addresses(host: str | Sequence[str], port: int) -> list[str]:
    """``"host:port"`` strings for a host, a ``"host:port"``, or a list of them; a bare host (or an
    IPv6 address, bracketed or not) takes ``port``."""
    hosts = [host] if isinstance(host, str) else list(host)
    if not hosts:
        raise InvalidArgumentError("no server address given")
    out = []
    for h in hosts:
        if not isinstance(h, str) or not h:
            raise InvalidArgumentError(f"a server address must be a non-empty string, got {h!r}")
        if (h.startswith("[") and "]:" in h) or (h.count(":") == 1):
            out.append(h)
        elif h.startswith("["):
            out.append(f"{h}:{port}")
        elif ":" in h:
            out.append(f"[{h}]:{port}")
        else:
            out.append(f"{h}:{port}")
    return out


def split_address(address: str) -> tuple[str, int | None]:
    """``(host, port)`` of ``"host:port"`` (``"[v6]:port"`` too); the port is None where the
    address names none (a bare host or IPv6 address)."""
    host, port = address, ""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port = address.split(":")
    if not port:
        return host, None
    try:
        return host, int(port)
    except ValueError:
        raise InvalidArgumentError(f"{address!r} is not host:port (the port is not a number)") from None


def tls_setting(tls: bool | TlsOptions | None) -> TlsOptions | None:
    """``True`` -> default options (system roots), ``None``/``False`` -> no TLS; checks the type."""
    if tls is True:
        return TlsOptions()
    if tls is not None and tls is not False and not isinstance(tls, TlsOptions):
        raise InvalidArgumentError(f"tls must be True, False, None or TlsOptions, got {tls!r}")
    return tls or None


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect: what a client, a per-node connection and the file system share."""

    addresses: tuple[str, ...]
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float | None = 60.0
    protocol_version: tuple[int, int, int] = (1, 7, 0)
    tls: TlsOptions | None = None

    @classmethod
    def make(
        cls,
        host: str | Sequence[str],
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float | None = 60.0,
        protocol_version: tuple[int, int, int] = (1, 7, 0),
        tls: bool | TlsOptions | None = None,
    ) -> ConnectionSettings:
        """Checked settings from a client's arguments."""
        check_int("port", port, 1)
        return cls(
            tuple(parse_addresses(host, port)),
            username,
            password,
            float(connect_timeout),
            None if read_timeout is None else float(read_timeout),
            tuple(protocol_version),  # type: ignore[arg-type]
            tls_setting(tls),
        )

    def for_address(self, address: str, connect_timeout: float | None = None) -> ConnectionSettings:
        """The same settings for one address only (a node's own connection)."""
        timeout = self.connect_timeout if connect_timeout is None else connect_timeout
        return dataclasses.replace(self, addresses=(address,), connect_timeout=timeout)

    def client_args(self) -> dict[str, Any]:
        """The keyword arguments besides the address that connect a client or a file system of
        either generation alike (credentials, timeouts, TLS)."""
        return dict(
            username=self.username,
            password=self.password,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            tls=self.tls,
        )

    def native_spec(self) -> _native.ConnectionSpec:
        """The settings in the extension's terms (TLS certificates are read here)."""
        tls = self.tls
        tls_args: dict[str, Any] = (
            dict(tls=False)
            if tls is None
            else dict(
                tls=True,
                ca_file=_path(tls.ca_file),
                cert_file=_path(tls.cert_file),
                key_file=_path(tls.key_file),
                key_password=tls.key_password,
                verify_hostname=bool(tls.check_hostname),
            )
        )
        return _native.ConnectionSpec(
            list(self.addresses),
            self.username,
            self.password,
            self.connect_timeout,
            self.read_timeout,
            self.protocol_version,
            **tls_args,
        )

    def connect(self) -> _native.NativeClient:
        """A native client over these settings (it pools its connections)."""
        return _native.NativeClient(self.native_spec())


def _path(p: str | os.PathLike[str] | None) -> str | None:
    return None if p is None else os.fspath(p)


def decode_args(
    decimal_as_string: bool = False, columns: Sequence[str] | None = None, value_type: str | int | None = None
) -> dict[str, Any]:
    """What to decode (the value fields, the value type, decimals as text), checked and in the
    native scans' terms."""
    if isinstance(columns, str):
        raise InvalidArgumentError("columns must be a list of field names, not a string")
    if value_type is not None and not isinstance(value_type, (str, int)):
        raise InvalidArgumentError(f"value_type must be a type name or id, got {value_type!r}")
    union = value_type == "*"
    type_id = None if union else _native.type_id(value_type) if isinstance(value_type, str) else value_type
    return dict(
        decimal_as_string=bool(decimal_as_string),
        fields=None if columns is None else list(columns),
        value_type=type_id,
        union_types=union,
    )


def batch_converter(format: str, strings: str = "bytes") -> Callable[[dict[str, Any]], Any]:
    """What a batch of named columns becomes for ``format``: ``"numpy"`` arrays (text as
    ``strings`` says: ``columns.STRING_FORMS``), an ``"arrow"`` RecordBatch, or the ``"columns"``
    themselves (checked before anything is read)."""
    from .columns import batch_to_numpy, check_strings

    check_strings(strings)
    if format == "numpy":
        return lambda batch: batch_to_numpy(batch, strings)
    if format == "arrow":
        from .arrow import to_record_batch

        return to_record_batch
    if format == "columns":
        return lambda batch: batch
    raise InvalidArgumentError(f"format must be 'numpy', 'arrow' or 'columns', got {format!r}")
