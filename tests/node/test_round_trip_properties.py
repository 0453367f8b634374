"""Property-based round trips of primitive values and arrays written by pyignite through a real
node."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyignite import GenericObjectMeta
from pyignite.datatypes import (
    BoolObject,
    ByteObject,
    DoubleArrayObject,
    DoubleObject,
    FloatObject,
    IntArrayObject,
    IntObject,
    LongArrayObject,
    LongObject,
    ShortObject,
    String,
)

import ignite_fast
from ignite_fast.columns import to_pylist
from node_fixtures import SESSION_PORT

SCALARS = {
    "b": (ByteObject, st.integers(-128, 127)),
    "s": (ShortObject, st.integers(-(2**15), 2**15 - 1)),
    "i": (IntObject, st.integers(-(2**31), 2**31 - 1)),
    "l": (LongObject, st.integers(-(2**63), 2**63 - 1)),
    "f": (FloatObject, st.floats(width=32, allow_nan=False)),
    "d": (DoubleObject, st.floats(allow_nan=False)),
    "flag": (BoolObject, st.booleans()),
    # pyignite 0.6.1 cuts strings at the first NUL when it writes them (its own reads agree), so
    # the oracle cannot express NUL characters.
    "text": (String, st.text(st.characters(blacklist_characters="\x00"), max_size=40)),
    "ints": (IntArrayObject, st.lists(st.integers(-(2**31), 2**31 - 1), max_size=12)),
    "longs": (LongArrayObject, st.lists(st.integers(-(2**63), 2**63 - 1), max_size=12)),
    "doubles": (DoubleArrayObject, st.lists(st.floats(allow_nan=False), max_size=12)),
}


class Mixed(
    metaclass=GenericObjectMeta,
    type_name="PropertyMixed",
    schema=OrderedDict((name, kind) for name, (kind, _) in SCALARS.items()),
):
    pass


rows = st.lists(
    st.fixed_dictionaries({name: strategy for name, (_, strategy) in SCALARS.items()}), min_size=1, max_size=25
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows)
def test_primitive_and_array_values_round_trip(pyignite_client, rows):
    cache = pyignite_client.get_or_create_cache("property_round_trip")
    cache.clear()
    cache.put_all({i: Mixed(**row) for i, row in enumerate(rows)})
    batch = next(ignite_fast.Client("127.0.0.1", SESSION_PORT).scan("property_round_trip", batch_size=100, page_size=7))
    order = np.argsort(batch["key"])
    val = batch["val"]
    for name in SCALARS:
        got = [to_pylist(val[name])[i] for i in order]
        want = [row[name] for row in rows]
        if name == "b":
            want = [v & 0xFF for v in want]
        if name == "f":
            want = [float(np.float32(v)) for v in want]
        if name == "text":
            got = [g.decode("utf-8") for g in got]
        if name in ("ints", "longs", "doubles") and got and not isinstance(got[0], list):
            got = [list(g) for g in got]
        assert got == want, name
