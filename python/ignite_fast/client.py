"""The public client: ``Client`` reads Ignite 2 caches (``ignite2/``) and, given ``ignite=3``,
makes an :class:`Ignite3Client` for Ignite 3 tables (``ignite3/``). Both satisfy the source
protocol (``source.py``); this module is the only one that knows both generations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from ._options import TlsOptions
from .errors import InvalidArgumentError
from .ignite2 import Ignite2Client
from .ignite3 import Ignite3Client

__all__ = ["Client", "Ignite3Client", "TlsOptions"]


class _Generations(type):
    """Client's metaclass: ``Client(..., ignite=3)`` makes an :class:`Ignite3Client` instead (a
    class's own ``__new__`` could return one too, but type checkers would not follow it)."""

    def __call__(cls, *args: Any, ignite: int = 2, **kwargs: Any) -> Any:
        if ignite == 3:
            return Ignite3Client(*args, **kwargs)
        if ignite != 2:
            raise InvalidArgumentError(f"ignite must be 2 or 3, got {ignite!r}")
        return super().__call__(*args, **kwargs)


class Client(Ignite2Client, metaclass=_Generations):
    """A connection to an Ignite 2 cluster; ``Client(..., ignite=3)`` gives an
    :class:`Ignite3Client` for an Apache Ignite 3 cluster instead (tables rather than caches).

    ``host`` is a host name, a ``"host:port"`` string, or a list of them (tried in order).

    >>> client = Client("127.0.0.1", 10800)                       # doctest: +SKIP
    >>> for batch in client.scan("digits", batch_size=4096):     # doctest: +SKIP
    ...     pixels, labels = batch["val"]["pixels"], batch["val"]["label"]
    """

    if TYPE_CHECKING:  # which class a call gives, for type checkers (the metaclass makes it)

        @overload
        def __new__(
            cls,
            host: str | Sequence[str] = ...,
            port: int = ...,
            *,
            ignite: Literal[2] = ...,
            username: str | None = ...,
            password: str | None = ...,
            connect_timeout: float = ...,
            read_timeout: float | None = ...,
            protocol_version: tuple[int, int, int] = ...,
            tls: bool | TlsOptions | None = ...,
        ) -> Client: ...

        @overload
        def __new__(  # type: ignore[misc]  # Ignite 3's client is another class: that is the point
            cls,
            host: str | Sequence[str] = ...,
            port: int = ...,
            *,
            ignite: Literal[3],
            username: str | None = ...,
            password: str | None = ...,
            connect_timeout: float = ...,
            read_timeout: float | None = ...,
            tls: bool | TlsOptions | None = ...,
        ) -> Ignite3Client: ...

        @overload
        def __new__(  # type: ignore[misc]  # a generation known at run time: either
            cls,
            host: str | Sequence[str] = ...,
            port: int = ...,
            *,
            ignite: int,
            username: str | None = ...,
            password: str | None = ...,
            connect_timeout: float = ...,
            read_timeout: float | None = ...,
            tls: bool | TlsOptions | None = ...,
        ) -> Client | Ignite3Client: ...

        def __new__(cls, *args: Any, **kwargs: Any) -> Any: ...
