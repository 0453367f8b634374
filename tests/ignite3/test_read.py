"""Reading Ignite 3 tables: every SQL type written by Ignite 3's own driver (`pyignite_dbapi`, the
independent oracle) and by SQL `INSERT`, read back exactly through `Client(..., ignite=3)` as numpy
and Arrow; an empty table's schema; SQL with arguments; typed errors."""

from __future__ import annotations

import datetime
import decimal
import uuid

import numpy as np
import pyarrow as pa
import pytest

import ignite_fast
from ignite_fast.errors import CacheNotFoundError, InvalidArgumentError, ServerError
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import ignite3_connect

COLUMNS = (
    "ID BIGINT PRIMARY KEY, B BOOLEAN, I8 TINYINT, I16 SMALLINT, I32 INT, I64 BIGINT, R REAL, D DOUBLE, "
    "DEC DECIMAL(20, 4), DT DATE, TM TIME(3), TS TIMESTAMP(3), TZ TIMESTAMP(3) WITH LOCAL TIME ZONE, U UUID, "
    "S VARCHAR, BIN VARBINARY(64)"
)
NAMES = ["ID", "B", "I8", "I16", "I32", "I64", "R", "D", "DEC", "DT", "TM", "TS", "TZ", "U", "S", "BIN"]

# Boundary values of every type, and a row of NULLs (the time zone column is written by SQL
# below: the driver passes it as seconds in the client's zone).
ROWS = [
    (
        1,
        True,
        -128,
        -32768,
        -(2**31),
        -(2**63),
        np.float32(-3.4028235e38).item(),
        -1.7976931348623157e308,
        decimal.Decimal("-9999999999999999.9999"),
        datetime.date(1, 1, 1),
        datetime.time(0, 0, 0),
        datetime.datetime(1677, 9, 22, 0, 0, 0),
        uuid.UUID("00000000-0000-0000-0000-000000000000"),
        "",
        b"",
    ),
    (
        2,
        False,
        127,
        32767,
        2**31 - 1,
        2**63 - 1,
        np.float32(1.5e-45).item(),
        5e-324,
        decimal.Decimal("9999999999999999.9999"),
        datetime.date(9999, 12, 31),
        datetime.time(23, 59, 59, 999000),
        datetime.datetime(2262, 4, 11, 23, 47, 16, 854000),
        uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        "héllo, 世界 🌍",
        bytes(range(64)),
    ),
    (
        3,
        True,
        0,
        1,
        -1,
        1 << 40,
        0.1,
        2.0 / 3.0,
        decimal.Decimal("0.0001"),
        datetime.date(1970, 1, 1),
        datetime.time(12, 30, 15, 5000),
        datetime.datetime(2024, 2, 29, 12, 0, 0, 1000),
        uuid.UUID("12345678-9abc-def0-1234-56789abcdef0"),
        "\x80 starts like the empty mark",
        b"\x80\x80",
    ),
    (4, *([None] * 14)),
]


@pytest.fixture(scope="module")
def typed_table(ignite3: Ignite3Cluster) -> list[tuple]:
    """TYPED, written by pyignite_dbapi; returns the rows as the driver reads them back (the
    oracle), with the time zone column's instants as UTC datetimes."""
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS TYPED")
        cur.execute(f"CREATE TABLE TYPED ({COLUMNS})")
        names = [n for n in NAMES if n != "TZ"]
        cur.executemany(
            f"INSERT INTO TYPED ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [row for row in ROWS],
        )
        # Instants through SQL, so that no client's time zone is involved.
        cur.execute("UPDATE TYPED SET TZ = TIMESTAMP WITH LOCAL TIME ZONE '2024-01-02 03:04:05.678' WHERE ID = 1")
        cur.execute("UPDATE TYPED SET TZ = TIMESTAMP WITH LOCAL TIME ZONE '1970-01-01 00:00:00' WHERE ID = 2")
        cur.execute("SELECT * FROM TYPED ORDER BY ID")
        return [tuple(r) for r in cur.fetchall()]


def _python(column, i: int, sql_name: str):
    """Row ``i`` of a numpy column as the driver would give it."""
    if np.ma.is_masked(column) and np.ma.getmaskarray(column)[i].all():
        return None
    value = np.ma.getdata(column)[i]
    if sql_name == "U":
        return uuid.UUID(bytes=bytes(value))
    if sql_name == "S":
        return value.decode("utf-8")
    if sql_name == "DT":
        return value.astype("datetime64[D]").item()
    if sql_name == "TM":
        nanos = int(value.astype(np.int64))
        return (datetime.datetime.min + datetime.timedelta(microseconds=nanos // 1000)).time()
    if sql_name in ("TS", "TZ"):
        nanos = int(value.astype(np.int64))
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=nanos // 1000)
    return value.item()


def test_every_type_written_by_the_driver_reads_back_exactly(ignite3: Ignite3Cluster, typed_table):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    [batch] = list(client.sql("SELECT * FROM TYPED ORDER BY ID", decimal_as_string=True))
    assert list(batch) == NAMES
    dtypes = {name: batch[name].dtype for name in NAMES if name != "BIN"}
    assert dtypes == {
        "ID": np.int64,
        "B": np.bool_,
        "I8": np.int8,
        "I16": np.int16,
        "I32": np.int32,
        "I64": np.int64,
        "R": np.float32,
        "D": np.float64,
        "DEC": np.dtype("S22"),
        "DT": np.dtype("datetime64[ms]"),
        "TM": np.dtype("timedelta64[ns]"),
        "TS": np.dtype("datetime64[ns]"),
        "TZ": np.dtype("datetime64[ns]"),
        "U": np.uint8,
        "S": batch["S"].dtype,
    }
    pixels = batch["BIN"]  # arrays of several lengths: ragged
    for r, expected in enumerate(typed_table):
        for c, name in enumerate(NAMES):
            if name == "BIN":
                got = None if not pixels.valid[r] else bytes(pixels[r])
            elif name == "DEC":
                got = None if np.ma.getmaskarray(batch[name])[r] else decimal.Decimal(batch[name][r].decode())
            else:
                got = _python(batch[name], r, name)
            want = expected[c]
            if name == "TZ" and isinstance(want, float):  # the driver gives instants as epoch seconds
                want = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=want)
            assert got == want, f"row {r} column {name}: {got!r} != {want!r}"


def test_dates_times_uuids_and_decimals_are_sql_arguments(ignite3: Ignite3Cluster, typed_table):
    """Python's date, datetime (naive: TIMESTAMP; with a zone: an instant), time, UUID and
    Decimal values fill `?` with their SQL types, so comparisons with columns find their rows."""
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    utc = datetime.UTC
    cases = [
        ("DT = ?", datetime.date(9999, 12, 31), [2]),
        ("TM = ?", datetime.time(23, 59, 59, 999000), [2]),
        ("TS = ?", datetime.datetime(2024, 2, 29, 12, 0, 0, 1000), [3]),
        ("TZ = ?", datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=utc), [1]),
        (
            "TZ = ?",
            datetime.datetime(2024, 1, 2, 5, 4, 5, 678000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
            [1],
        ),
        ("U = ?", uuid.UUID("12345678-9abc-def0-1234-56789abcdef0"), [3]),
        ("DEC = ?", decimal.Decimal("-9999999999999999.9999"), [1]),
        ("DEC > ?", decimal.Decimal("1E+3"), [2]),
    ]
    for condition, arg, ids in cases:
        [batch] = list(client.sql(f"SELECT ID FROM TYPED WHERE {condition} ORDER BY ID", [arg]))
        assert batch["ID"].tolist() == ids, (condition, arg)
    with pytest.raises(InvalidArgumentError, match="not a finite number"):
        list(client.sql("SELECT ID FROM TYPED WHERE DEC = ?", [decimal.Decimal("NaN")]))
    with pytest.raises(InvalidArgumentError, match="more than 38 digits"):
        list(client.sql("SELECT ID FROM TYPED WHERE DEC = ?", [decimal.Decimal("1" * 39)]))


def test_exact_decimals_are_written_at_their_column_scale(ignite3: Ignite3Cluster):
    """Ignite 3 stores a DECIMAL without its trailing zeros (100.00 of a DECIMAL(10, 2) as 1E+2);
    the exact text and Arrow's type give them back at the column's scale, as SQL shows them."""
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    client.execute("DROP TABLE IF EXISTS DEC_SCALE")
    client.execute("CREATE TABLE DEC_SCALE (ID INT PRIMARY KEY, D DECIMAL(10, 2), W DECIMAL(30, 0))")
    client.execute(
        "INSERT INTO DEC_SCALE VALUES (1, 100.00, 1000), (2, 12.30, -5), (3, 0, 0), (4, -0.5, NULL), "
        "(5, NULL, 123456789012345678901234567890)"
    )
    [batch] = list(client.sql("SELECT D, W FROM DEC_SCALE ORDER BY ID", decimal_as_string=True))
    assert np.ma.getdata(batch["D"])[:4].tolist() == [b"100.00", b"12.30", b"0.00", b"-0.50"]
    assert np.ma.getdata(batch["W"])[[0, 1, 2, 4]].tolist() == [b"1000", b"-5", b"0", b"123456789012345678901234567890"]
    table = client.to_arrow(query="SELECT D FROM DEC_SCALE ORDER BY ID")
    assert table.schema.field("D").type.scale == 2
    assert [str(v) for v in table.column("D").to_pylist()] == ["100.00", "12.30", "0.00", "-0.50", "None"]


def test_arrow_and_pandas_hold_the_same_values(ignite3: Ignite3Cluster, typed_table):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    table = client.to_arrow(query="SELECT * FROM TYPED ORDER BY ID")
    assert table.column_names == NAMES
    assert table.schema.field("I8").type == pa.int8()
    assert table.schema.field("TM").type == pa.time64("ns")
    assert table.schema.field("DEC").type == pa.decimal128(20, 4) or pa.types.is_decimal(table.schema.field("DEC").type)
    rows = table.to_pylist()
    for r, expected in enumerate(typed_table):
        assert rows[r]["I64"] == expected[5]
        assert rows[r]["DEC"] == expected[8]
        assert rows[r]["S"] == expected[14]
        assert (rows[r]["BIN"] is None) == (expected[15] is None)
    frame = client.to_pandas("TYPED")
    assert sorted(frame["ID"]) == [1, 2, 3, 4]


def test_rows_inserted_by_sql_read_back_as_sql_computes_them(ignite3: Ignite3Cluster):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    client.execute("DROP TABLE IF EXISTS SQL_MADE")
    client.execute("CREATE TABLE SQL_MADE (ID INT PRIMARY KEY, SQ BIGINT, HALF DOUBLE, NAME VARCHAR)")
    assert (
        client.execute(
            "INSERT INTO SQL_MADE SELECT x::INT, x * x, x / 2.0, 'n' || CAST(x AS VARCHAR) "
            "FROM TABLE(SYSTEM_RANGE(0, 9999))"
        )
        == 10_000
    )
    keys = []
    for batch in client.scan("SQL_MADE", batch_size=3000):
        assert len(batch["ID"]) <= 3000
        ids = batch["ID"]
        assert np.array_equal(batch["SQ"], ids.astype(np.int64) ** 2)
        assert np.array_equal(batch["HALF"], ids / 2.0)
        assert [s.decode() for s in batch["NAME"]] == [f"n{i}" for i in ids]
        keys.extend(ids.tolist())
    assert sorted(keys) == list(range(10_000))
    [only] = list(client.sql("SELECT ID, NAME FROM SQL_MADE WHERE ID > ? AND NAME <> ? ORDER BY ID", [9997, "x"]))
    assert only["ID"].tolist() == [9998, 9999]
    assert only["NAME"].tolist() == [b"n9998", b"n9999"]
    [picked] = list(client.scan("SQL_MADE", columns=["NAME", "ID"], batch_size=20_000))
    assert list(picked) == ["NAME", "ID"]
    assert len(picked["ID"]) == 10_000


def test_an_empty_table_gives_its_schema_and_no_rows(ignite3: Ignite3Cluster):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    client.execute("DROP TABLE IF EXISTS EMPTY3")
    client.execute("CREATE TABLE EMPTY3 (ID INT PRIMARY KEY, PIXELS VARBINARY(784), LABEL TINYINT, W DOUBLE)")
    assert client.schema("EMPTY3") == {
        "ID": "INTEGER",
        "PIXELS": "VARBINARY(784) NULL",
        "LABEL": "TINYINT NULL",
        "W": "DOUBLE NULL",
    }
    batches = list(client.scan("EMPTY3"))
    assert len(batches) == 1
    assert all(len(column) == 0 for column in batches[0].values())
    assert batches[0]["W"].dtype == np.float64
    assert batches[0]["LABEL"].dtype == np.int8
    table = client.to_arrow("EMPTY3")
    assert table.num_rows == 0
    assert table.column_names == ["ID", "PIXELS", "LABEL", "W"]
    assert table.schema.field("W").type == pa.float64()


def test_errors_are_typed(ignite3: Ignite3Cluster):
    client = ignite_fast.Client(ignite3.addresses, ignite=3)
    with pytest.raises(ServerError, match=r"Failed to parse|Failed to validate") as error:
        list(client.sql("SELEKT 1"))
    assert error.value.status >> 16 == 4  # Ignite 3's SQL error group
    with pytest.raises(CacheNotFoundError, match="NO_SUCH_TABLE"):
        client.partitions("NO_SUCH_TABLE")
    with pytest.raises(ignite_fast.errors.InvalidArgumentError, match="table must be"):
        list(client.scan("T; DROP TABLE TYPED"))
    with pytest.raises(ignite_fast.errors.UnsupportedTypeError, match="INTERVAL"):
        list(client.sql("SELECT INTERVAL '1' DAY"))
    # the client still works after each error
    assert [b["X"].tolist() for b in client.sql("SELECT 41 + 1 AS X")] == [[42]]
