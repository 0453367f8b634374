"""No panic reaches Python as pyo3's PanicException (a BaseException, which `except Exception`
misses): the bindings raise a bug inside native work as IgniteError("internal error: ...")."""

import contextlib

import pytest

from ignite_fast import _native
from ignite_fast.errors import IgniteError


def test_a_panic_in_native_work_is_an_ignite_error():
    with pytest.raises(IgniteError, match="internal error: a sample panic") as caught:
        _native.panic_sample()
    assert type(caught.value) is IgniteError
    with contextlib.suppress(Exception):  # what callers write; PanicException would slip past it
        _native.panic_sample()
