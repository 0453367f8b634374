"""Every core error kind raises its own class of ignite_fast.errors, and nothing else.

The samples come from the bindings' error table (rust/ignite-py/src/errors.rs), which also generates
the mapping itself: a core error variant without a row does not compile, and a new row shows up
here as a kind this test does not expect yet."""

import numpy as np
import pytest

from ignite_fast import _native, errors

EXPECTED = {
    "Connection": errors.IgniteConnectionError,
    "Timeout": errors.IgniteTimeoutError,
    "Authentication": errors.AuthenticationError,
    "Tls": errors.TlsError,
    "Protocol": errors.ProtocolError,
    "Server": errors.ServerError,
    "CacheNotFound": errors.CacheNotFoundError,
    "Schema": errors.SchemaError,
    "UnsupportedType": errors.UnsupportedTypeError,
    "InvalidArgument": errors.InvalidArgumentError,
    "Fs.NotFound": errors.IgfsNotFoundError,
    "Fs.AlreadyExists": errors.IgfsExistsError,
    "Fs.NotADirectory": errors.IgfsNotADirectoryError,
    "Fs.IsADirectory": errors.IgfsIsADirectoryError,
    "Fs.DirectoryNotEmpty": errors.IgfsDirectoryNotEmptyError,
    "Fs.Conflict": errors.IgfsConflictError,
    "Fs.Corrupt": errors.IgfsCorruptError,
}


def test_every_core_error_kind_has_one_sample():
    kinds = [kind for kind, _ in _native.error_kind_samples()]
    # Each sample is recognised as a different kind (a sample of the wrong kind would repeat one).
    assert len(kinds) == len(set(kinds)), kinds
    assert set(kinds) == set(EXPECTED)


@pytest.mark.parametrize(
    ("kind", "exception"), _native.error_kind_samples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_core_error_kind_raises_its_class(kind, exception):
    assert type(exception) is EXPECTED[kind]
    assert isinstance(exception, errors.IgniteError)
    assert str(exception)


def test_every_class_is_an_ignite_error():
    for cls in EXPECTED.values():
        assert issubclass(cls, errors.IgniteError), cls


def test_server_errors_keep_their_status():
    samples = dict(_native.error_kind_samples())
    assert samples["Server"].status == 1
    assert "status 1" in str(samples["Server"])
    assert samples["CacheNotFound"].status == 1000


def test_bad_arguments_found_in_the_bindings_are_invalid_argument_errors():
    # No node needed: these are refused before anything connects.
    with pytest.raises(errors.InvalidArgumentError, match="connect_timeout"):
        _native.ConnectionSpec(["127.0.0.1:1"], connect_timeout=-1.0)
    with pytest.raises(errors.InvalidArgumentError, match="read_timeout"):
        _native.ConnectionSpec(["127.0.0.1:1"], read_timeout=float("nan"))


def test_primitive_dtypes_name_every_primitive_kind():
    assert _native.PRIMITIVE_DTYPES == {
        "byte": "uint8",
        "short": "int16",
        "int": "int32",
        "long": "int64",
        "float": "float32",
        "double": "float64",
        "char": "uint16",
        "bool": "bool",
    }
    for dtype in _native.PRIMITIVE_DTYPES.values():
        np.dtype(dtype)
