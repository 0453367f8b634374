"""What the faces (tf.data, PyTorch, Ray) share: the options a client's ``scan`` or ``sql`` takes,
asked of the client itself rather than of its generation (Ignite 2's scans take ``value_type``,
``part`` and ``failover_timeout``; Ignite 3's do not)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .errors import InvalidArgumentError


def takes(method: Callable[..., Any], option: str) -> bool:
    """Whether ``method`` (a client's bound ``scan`` or ``sql``) has a parameter ``option``."""
    return option in inspect.signature(method).parameters


def given_options(method: Callable[..., Any], what: str, **options: Any) -> dict[str, Any]:
    """The options given (None: not given), refused with :class:`InvalidArgumentError` where
    ``method`` has no such parameter (``value_type`` on an Ignite 3 client), before anything is
    read. ``what`` names what is read, for the message."""
    given = {option: value for option, value in options.items() if value is not None}
    unknown = [option for option in given if not takes(method, option)]
    if unknown:
        client = getattr(method, "__self__", None)
        raise InvalidArgumentError(
            f"{client!r} reads {what} without {', '.join(unknown)}: its {method.__name__} has no such option"
        )
    return given


def where_taken(method: Callable[..., Any], **options: Any) -> dict[str, Any]:
    """The options ``method`` has parameters for, the others left out: settings a face passes
    to every client that takes them (the failover timeout of Ignite 2's scans)."""
    return {option: value for option, value in options.items() if takes(method, option)}
