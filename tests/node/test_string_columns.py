"""String columns as offsets and bytes (Arrow's layout) on both generations: text written by an
independent client (pyignite into an Ignite 2 cache, pyignite_dbapi into an Ignite 3 table) reads
back the same as numpy ``S`` arrays, as numpy 2 ``StringDType`` arrays and as Arrow string arrays
built over the decoded buffers without a copy: unicode of every width, empty strings, nulls, long
values."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pytest
from pyignite import GenericObjectMeta
from pyignite.datatypes import IntObject, String

import ignite_fast
from ignite_fast.columns import StrColumn, to_numpy
from ignite_fast.errors import InvalidArgumentError
from node_fixtures import ignite3_connect

# One row per case, two text columns: unicode of 1 to 4 bytes a character, empty, null, long.
TEXTS = [
    "plain ascii",
    "",
    None,
    "ünïcödé",
    "日本語のテキスト",
    "emoji 🎉🐍 and 𝄞",
    "x" * 70_000 + "é" * 5_000,
    "line\nbreak\ttab",
    "",
    None,
]
OTHER = [None if i % 3 == 0 else f"row {i} ✓" for i in range(len(TEXTS))]


def _expected_bytes(values: list[str | None]) -> list[bytes | None]:
    return [None if v is None else v.encode() for v in values]


def _check_forms(column: StrColumn, expected: list[str | None]) -> None:
    """Every form of a decoded string column against the writer's values."""
    assert len(column) == len(expected)
    # the column itself: offsets into UTF-8 bytes, null rows empty
    assert column.offsets.dtype == np.int32
    assert column.data.dtype == np.uint8
    for i, value in enumerate(expected):
        row = column.data[column.offsets[i] : column.offsets[i + 1]].tobytes()
        assert row == (b"" if value is None else value.encode())
    # numpy S, the default: masked at nulls
    padded = to_numpy(column)
    assert padded.dtype.kind == "S"
    assert [None if m else v for v, m in zip(padded.data.tolist(), np.ma.getmaskarray(padded).tolist())] == (
        _expected_bytes(expected)
    )
    # numpy 2 StringDType, None at nulls
    as_str = to_numpy(column, strings="str")
    assert isinstance(as_str.dtype, np.dtypes.StringDType)
    assert as_str.dtype.na_object is None
    assert as_str.tolist() == expected
    # Arrow: what pyarrow builds from the Python strings, over the decoded buffers
    arrow = to_numpy(column, strings="arrow")
    assert arrow.equals(pa.array(expected, pa.string()))
    assert arrow.buffers()[2].address == column.data.ctypes.data
    assert arrow.buffers()[1].address == column.offsets.ctypes.data


@pytest.fixture(scope="module")
def ignite2_texts(pyignite_client) -> str:
    class TextRow(
        metaclass=GenericObjectMeta,
        type_name="TextRow",
        schema=OrderedDict([("id", IntObject), ("text", String), ("other", String)]),
    ):
        pass

    name = "string_columns_texts"
    cache = pyignite_client.get_or_create_cache(name)
    cache.clear()
    cache.put_all({i: TextRow(id=i, text=t, other=o) for i, (t, o) in enumerate(zip(TEXTS, OTHER))})
    return name


def test_ignite2_strings_in_every_form(client, ignite2_texts):
    (batch,) = list(client.scan(ignite2_texts, format="columns"))
    keys = batch["key"].values.tolist()  # a scan gives entries in partition order
    val = batch["val"].fields
    assert val["id"].values.tolist() == keys
    for name, expected in (("text", TEXTS), ("other", OTHER)):
        assert isinstance(val[name], StrColumn)
        _check_forms(val[name], [expected[k] for k in keys])


def test_ignite2_arrow_batches_are_the_writers_strings(client, ignite2_texts):
    table = client.to_arrow(ignite2_texts)
    assert table.schema.field("text").type == pa.string()
    rows = sorted(table.to_pylist(), key=lambda r: r["key"])
    assert [r["text"] for r in rows] == TEXTS
    assert [r["other"] for r in rows] == OTHER


def test_merged_batches_keep_the_strings(client, ignite2_texts):
    from ignite_fast.columns import concat

    batches = list(client.scan(ignite2_texts, format="columns", batch_size=3))
    assert len(batches) == 4
    merged = concat([b["val"] for b in batches])
    keys = np.concatenate([b["key"].values for b in batches]).tolist()
    _check_forms(merged.fields["text"], [TEXTS[k] for k in keys])


@pytest.fixture(scope="module")
def ignite3_texts(ignite3) -> str:
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS STRING_COLUMNS")
        cur.execute("CREATE TABLE STRING_COLUMNS (ID INT PRIMARY KEY, TEXT VARCHAR(100000), OTHER VARCHAR(200))")
        cur.executemany(
            "INSERT INTO STRING_COLUMNS (ID, TEXT, OTHER) VALUES (?, ?, ?)",
            [(i, t, o) for i, (t, o) in enumerate(zip(TEXTS, OTHER))],
        )
    return "STRING_COLUMNS"


def test_ignite3_strings_in_every_form(ignite3, ignite3_texts):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    (batch,) = list(client.scan(ignite3_texts, format="columns"))
    keys = batch["ID"].values.tolist()
    for name, expected in (("TEXT", TEXTS), ("OTHER", OTHER)):
        _check_forms(batch[name], [expected[k] for k in keys])
    table = client.to_arrow(ignite3_texts)
    rows = sorted(table.to_pylist(), key=lambda r: r["ID"])
    assert [r["TEXT"] for r in rows] == TEXTS


def test_unknown_string_form_is_refused() -> None:
    from ignite_fast.columns import check_strings

    with pytest.raises(InvalidArgumentError, match="strings must be one of"):
        check_strings("utf16")


def test_string_offsets_from_elsewhere_are_checked():
    """Offsets that do not fit the bytes are a ValueError, never a crash."""
    data = np.frombuffer(b"abc", np.uint8)
    for offsets in (np.array([0, 4], np.int32), np.array([2, 1], np.int64), np.array([-1, 0], np.int32)):
        bad = StrColumn(offsets, data, None)
        with pytest.raises(ValueError, match=r"do not lie within|negative"):
            bad.padded()
        with pytest.raises(ValueError, match=r"do not lie within|negative"):
            bad.to_str()
    not_utf8 = StrColumn(np.array([0, 2], np.int32), np.frombuffer(b"\xc3\x28", np.uint8), None)
    with pytest.raises(ValueError, match="not UTF-8"):
        not_utf8.to_str()


def test_scans_give_the_form_asked_for(client, ignite2_texts, ignite3, ignite3_texts):
    """``scan(strings=...)`` on both generations: StringDType and Arrow string arrays in the numpy
    batches, decimals as text staying ``S``; an unknown form is refused before anything is read."""
    (batch,) = list(client.scan(ignite2_texts, strings="str"))
    keys = batch["key"].tolist()
    assert batch["val"]["text"].tolist() == [TEXTS[k] for k in keys]
    client3 = ignite_fast.Client(ignite3.addresses, ignite=3)
    (batch3,) = list(client3.scan(ignite3_texts, strings="arrow"))
    keys3 = batch3["ID"].tolist()
    assert batch3["OTHER"].equals(pa.array([OTHER[k] for k in keys3], pa.string()))
    for reader in (client, client3):
        with pytest.raises(InvalidArgumentError, match="strings must be one of"):
            next(reader.scan(ignite2_texts if reader is client else ignite3_texts, strings="unicode"))
