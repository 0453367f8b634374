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

from .client import Client
from .columns import Ragged, from_native
from .errors import InvalidArgumentError

_DTYPES = {
    "uint8": tf.uint8, "int16": tf.int16, "int32": tf.int32, "int64": tf.int64,
    "float32": tf.float32, "float64": tf.float64, "uint16": tf.uint16, "bool": tf.bool,
}

# Batches decoded per generator step when the caller asks for single elements.
_ELEMENT_MODE_BATCH = 1024


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


def _spec(column: tuple, batched_arrays_dense: bool) -> Any:
    """A batched TypeSpec (leading batch dimension) for a native column."""
    tag = column[0]
    if tag == "struct":
        return {name: _spec(col, batched_arrays_dense) for name, col in column[2].items()}
    if tag == "str":
        return tf.TensorSpec([None], tf.string)
    if tag == "null":
        return tf.TensorSpec([None], tf.float64)
    dtype = _DTYPES[column[1].dtype.name]
    if tag == "prim":
        return tf.TensorSpec([None], dtype)
    if tag == "fixed" and batched_arrays_dense:
        return tf.TensorSpec([None, column[1].shape[1]], dtype)
    return tf.RaggedTensorSpec([None, None], dtype, ragged_rank=1, row_splits_dtype=tf.int64)


def _to_tf(value: Any, spec: Any, path: str) -> Any:
    """Fits one decoded column to its spec (no per-row Python work)."""
    if isinstance(spec, dict):
        return {name: _to_tf(value[name], s, f"{path}.{name}") for name, s in spec.items()}
    if isinstance(spec, tf.RaggedTensorSpec):
        if isinstance(value, Ragged):
            return tf.RaggedTensor.from_row_splits(value.values, value.offsets, validate=False)
        dense = np.ma.getdata(value)
        return tf.RaggedTensor.from_tensor(dense, row_splits_dtype=tf.int64)
    if isinstance(value, Ragged):
        width = spec.shape[1]
        if not np.all(value.lengths == width):
            raise InvalidArgumentError(
                f"column '{path}' held {width}-element arrays in the first batch and arrays of other "
                "lengths later; pass ragged=True to read it as tf.RaggedTensor"
            )
        return value.values.reshape(len(value), width)
    return np.ma.getdata(value)


class IgniteDataset(tf.data.Dataset):
    """Reads an Ignite cache as a ``tf.data.Dataset``.

    >>> ds = IgniteDataset(cache_name="SQL_PUBLIC_KITTEN_CACHE")      # doctest: +SKIP
    >>> for element in ds.take(1):                                       # doctest: +SKIP
    ...     print(element)   # {'key': 1, 'val': {'NAME': b'WARM KITTY'}}

    Arguments as in the original; in addition ``batch_size`` (elements are then whole batches,
    the fast path), ``ragged`` (arrays of varying length as ``tf.RaggedTensor`` in batched mode),
    ``hosts`` (a list of ``host:port`` to try) and ``timeout`` (seconds for connect and read).
    TLS arguments are accepted for compatibility but TLS is not implemented yet: passing them
    raises rather than silently connecting in the clear.
    """

    def __init__(
        self,
        cache_name: str,
        host: str = "localhost",
        port: int = 10800,
        local: bool = False,
        part: int = -1,
        page_size: int = 100,
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
    ):
        cache_name = _env("CACHE_NAME", cache_name)
        host = _env("HOST", host)
        port = _env("PORT", port, int)
        local = _env("LOCAL", local, _bool)
        part = _env("PART", part, int)
        page_size = _env("PAGE_SIZE", page_size, int)
        username = _env("USERNAME", username)
        password = _env("PASSWORD", password)
        certfile = _env("CERTFILE", certfile)
        keyfile = _env("KEYFILE", keyfile)
        cert_password = _env("CERT_PASSWORD", cert_password)
        if certfile or keyfile or cert_password:
            raise NotImplementedError(
                "TLS (certfile/keyfile/cert_password) is not implemented in this version of "
                "ignite_fast; refusing to connect without it"
            )
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise InvalidArgumentError(f"batch_size must be a positive int or None, got {batch_size!r}")

        addresses = hosts if hosts is not None else [host]
        client_args = dict(host=addresses, port=port, username=username, password=password,
                           connect_timeout=timeout, read_timeout=timeout)
        scan_args = dict(page_size=page_size, part=part, local=local)
        self.cache_name = cache_name
        self.batch_size = batch_size

        client = Client(**client_args)
        first = next(iter(client.scan_native(cache_name, batch_size=1, **scan_args)), None)
        dense_arrays = batch_size is not None and not ragged
        if first is None:
            # An empty cache yields nothing; its element structure cannot be known from data.
            spec = {"key": tf.TensorSpec([None], tf.int64), "val": tf.TensorSpec([None], tf.int64)}
        else:
            spec = {"key": _spec(first[1], dense_arrays), "val": _spec(first[2], dense_arrays)}
        rows_per_step = batch_size or max(page_size, _ELEMENT_MODE_BATCH)

        def batches():
            if first is None:
                return
            gen_client = Client(**client_args)
            for _, key, val in gen_client.scan_native(cache_name, batch_size=rows_per_step, **scan_args):
                yield {"key": _to_tf(from_native(key), spec["key"], "key"),
                       "val": _to_tf(from_native(val), spec["val"], "val")}

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
