"""Writing Ignite 3 tables: `put_batches` upserts numpy columns through the data streamer, and
Ignite 3's own driver (`pyignite_dbapi`, the independent oracle) reads them back exactly. Rows land
in the partition the server itself would pick (compared with a twin table filled by SQL), existing
keys are overwritten, and bad columns are refused before anything is written."""

from __future__ import annotations

import datetime
import decimal
import uuid

import numpy as np
import pytest

import ignite_fast
from ignite_fast.errors import CacheNotFoundError, InvalidArgumentError, ServerError
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import ignite3_connect, read3


def _client(cluster: Ignite3Cluster):
    return ignite_fast.Client(cluster.addresses, ignite=3)


def _fresh(client, table: str, columns: str) -> None:
    client.execute(f"DROP TABLE IF EXISTS {table}")
    client.execute(f"CREATE TABLE {table} ({columns})")


def _partitions(cluster: Ignite3Cluster, table: str, key: str) -> dict:
    return {row[:-1]: row[-1] for row in read3(cluster, f"SELECT {key}, __part FROM {table}")}


def test_mnist_rows_read_back_exactly_from_their_partitions(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    _fresh(client, "MNIST_W", "ID INT PRIMARY KEY, PIXELS VARBINARY(784), LABEL INT")
    rows = 10_000
    rng = np.random.default_rng(18)
    ids = rng.permutation(rows).astype(np.int64) - 5000  # negative keys hash too
    pixels = rng.integers(0, 256, size=(rows, 784), dtype=np.uint8)
    pixels[0] = 0x80  # a value that starts like the empty-value mark
    labels = rng.integers(0, 10, size=rows).astype(np.int32)
    assert client.put_batches("MNIST_W", {"ID": ids, "PIXELS": pixels, "LABEL": labels}) == rows

    back = read3(ignite3, "SELECT ID, PIXELS, LABEL FROM MNIST_W ORDER BY ID")
    order = np.argsort(ids)
    assert [r[0] for r in back] == ids[order].tolist()
    assert all(r[1] == pixels[i].tobytes() and r[2] == labels[i] for r, i in zip(back, order))

    # Each row sits in the partition the server computes for its key: a twin filled by SQL.
    _fresh(client, "MNIST_W_SQL", "ID INT PRIMARY KEY, LABEL INT")
    client.execute("INSERT INTO MNIST_W_SQL SELECT x::INT - 5000, 0 FROM TABLE(SYSTEM_RANGE(0, 9999))")
    assert _partitions(ignite3, "MNIST_W", "ID") == _partitions(ignite3, "MNIST_W_SQL", "ID")
    # and key lookups (which go to the key's partition only) find them
    for i in (0, 1, rows - 1):
        assert read3(ignite3, "SELECT LABEL FROM MNIST_W WHERE ID = ?", (int(ids[i]),)) == [(int(labels[i]),)]


def test_every_numeric_kind_reads_back_exactly(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    _fresh(
        client,
        "NUMS_W",
        "ID BIGINT PRIMARY KEY, B BOOLEAN, I8 TINYINT, I16 SMALLINT, I32 INT, I64 BIGINT, R REAL, D DOUBLE, "
        "D32 DOUBLE, U8 SMALLINT, U16 INT, N INT",
    )
    f32 = np.float32
    columns = {
        "ID": np.arange(5, dtype=np.int64) * (1 << 40) - (1 << 41),
        "B": np.array([True, False, True, False, True]),
        "I8": np.array([-128, 127, 0, -1, 1], dtype=np.int8),
        "I16": np.array([-32768, 32767, 0, -129, 128], dtype=np.int16),
        "I32": np.array([-(2**31), 2**31 - 1, 0, -32769, 32768], dtype=np.int32),
        "I64": np.array([-(2**63), 2**63 - 1, 0, -(2**31) - 1, 2**31], dtype=np.int64),
        "R": np.array([-3.4028235e38, 1.5e-45, 0.1, -0.0, np.inf], dtype=f32),
        "D": np.array([-1.7976931348623157e308, 5e-324, 0.1, 2.0 / 3.0, 0.5]),
        "D32": np.array([0.1, -2.5, 1e30, 0, 7], dtype=f32),
        "U8": np.array([0, 255, 128, 1, 200], dtype=np.uint8),
        "U16": np.array([0, 65535, 32768, 1, 2], dtype=np.uint16),
        # NULL where masked; an int64 column into INT, every value fitting
        "N": np.ma.masked_array(np.array([1, 2, 3, 4, 2**31 - 1]), mask=[False, True, False, True, False]),
    }
    assert client.put_batches("NUMS_W", columns) == 5
    back = read3(ignite3, "SELECT * FROM NUMS_W ORDER BY ID")
    names = list(columns)
    for i, row in enumerate(back):
        got = dict(zip(names, row))
        for name in names:
            want = columns[name][i]
            if name == "N":
                assert got[name] == (None if columns["N"].mask[i] else int(want)), (i, name)
            elif name in ("R", "D32"):
                assert np.float32(got[name]).tobytes() == np.float32(want).tobytes(), (i, name)
            elif name == "D":
                assert np.float64(got[name]).tobytes() == want.tobytes(), (i, name)
            else:
                assert got[name] == want.item(), (i, name, got[name], want)
    _fresh(client, "NUMS_W_SQL", "ID BIGINT PRIMARY KEY")
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO NUMS_W_SQL VALUES (?)", [(int(k),) for k in columns["ID"]])
    assert _partitions(ignite3, "NUMS_W", "ID") == _partitions(ignite3, "NUMS_W_SQL", "ID")


def test_strings_with_a_composite_key_land_where_sql_puts_them(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    schema = "ID INT, NAME VARCHAR(12), NOTE VARCHAR, PRIMARY KEY (ID, NAME)"
    _fresh(client, "STRS_W", schema)
    _fresh(client, "STRS_W_SQL", schema)
    names = ["", "a", "héllo", "世界", "🌍 earth", "\x80x", "tab\tend", "x" * 12] * 50
    notes = np.array([f"ноте {i} — ✓" for i in range(len(names))])
    ids = np.arange(len(names), dtype=np.int32) % 7
    ids[-1] = -1
    # NAME as str (encoded here), NOTE as UTF-8 bytes padded with NULs
    frame = {"ID": ids, "NAME": np.array(names, dtype=object), "NOTE": np.char.encode(notes, "utf-8")}
    unique = {(int(i), n): k for k, (i, n) in enumerate(zip(ids, names))}  # the last row of a key wins
    assert client.put_batches("STRS_W", frame) == len(names)
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO STRS_W_SQL (ID, NAME) VALUES (?, ?)", list(unique))
    back = read3(ignite3, "SELECT ID, NAME, NOTE FROM STRS_W")
    assert {(r[0], r[1]): r[2] for r in back} == {key: str(notes[k]) for key, k in unique.items()}
    assert _partitions(ignite3, "STRS_W", "ID, NAME") == _partitions(ignite3, "STRS_W_SQL", "ID, NAME")


def test_dates_times_uuids_and_decimals_read_back_exactly(ignite3: Ignite3Cluster):
    """The driver (the oracle) reads back what numpy's datetime64/timedelta64, 16-byte rows,
    uuid.UUID and decimal values wrote; NaT and None are NULL; fractions of a second are cut to
    the milliseconds Ignite 3.1 keeps (even in TIME(9) and TIMESTAMP(9)); decimals round half up
    to the column's scale."""
    client = _client(ignite3)
    _fresh(
        client,
        "TEMPORAL_W",
        "ID INT PRIMARY KEY, DT DATE, TM TIME(9), TM3 TIME(3), TS TIMESTAMP(9), TS6 TIMESTAMP(6), "
        "TZ TIMESTAMP(6) WITH LOCAL TIME ZONE, U UUID, U2 UUID, DEC DECIMAL(20, 4), DEC0 DECIMAL(5, 0)",
    )
    dates = np.array(["0001-01-01", "9999-12-31", "1969-12-31", "2024-02-29", "NaT"], "datetime64[D]")
    times = np.array([0, 86_399_999_999_999, 45_907_123_456_789, 1, 0], "timedelta64[ns]")
    times[4] = np.timedelta64("NaT")
    stamps = np.array(
        [
            "1677-09-22T00:12:43.145224192",
            "2262-04-11T23:47:16.854775807",
            "1969-12-31T23:59:59.999999999",
            "2024-02-29T13:45:07.123456789",
            "NaT",
        ],
        "datetime64[ns]",
    )
    seconds = np.array(
        ["0001-01-01T18:00:00", "9999-12-31T05:59:59", "1960-06-01T12:00:00", "2024-02-29T13:45:07", "NaT"],
        "datetime64[s]",
    )
    uuids = np.frombuffer(bytes(range(80)), np.uint8).reshape(5, 16).copy()
    uuid_objects = np.array([uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4(), None, uuid.uuid4()], object)
    decimals = np.array(["-9999999999999999.9999", "12.34565", "1e3", "-0.00005", "0.1"])
    columns = {
        "ID": np.arange(5, dtype=np.int32),
        "DT": dates,
        "TM": times,
        "TM3": times,
        "TS": stamps,
        "TS6": stamps,
        "TZ": seconds,
        "U": np.ma.masked_array(uuids, mask=np.repeat([[False], [False], [False], [False], [True]], 16, axis=1)),
        "U2": uuid_objects,
        "DEC": decimals,
        "DEC0": np.array([-0.5, 2.5, 99999.4, 1e-9, np.float64(12345)]),
    }
    assert client.put_batches("TEMPORAL_W", columns) == 5
    back = read3(ignite3, "SELECT * FROM TEMPORAL_W ORDER BY ID")
    epoch = datetime.datetime(1970, 1, 1)
    for r, row in enumerate(back):
        want_dt = None if np.isnat(dates[r]) else dates[r].item()
        assert row[1] == want_dt, (r, row[1])
        nanos = None if np.isnat(times[r]) else int(times[r].astype(np.int64))
        as_time = lambda ns: (datetime.datetime.min + datetime.timedelta(microseconds=ns // 1000)).time()  # noqa: E731
        assert row[2] == (None if nanos is None else as_time(nanos // 1_000_000 * 1_000_000)), (r, row[2])
        assert row[3] == row[2]
        millis = None if np.isnat(stamps[r]) else int(stamps[r].astype("datetime64[ms]").astype(np.int64))
        assert row[4] == (None if millis is None else epoch + datetime.timedelta(milliseconds=millis)), (r, row[4])
        assert row[5] == row[4]
        want_tz = None if np.isnat(seconds[r]) else int(seconds[r].astype(np.int64))
        got_tz = row[6] if row[6] is None or isinstance(row[6], (int, float)) else row[6].timestamp()
        assert got_tz == want_tz, (r, row[6])
        assert row[7] == (None if r == 4 else uuid.UUID(bytes=bytes(uuids[r]))), (r, row[7])
        assert row[8] == uuid_objects[r], (r, row[8])
    rounded = ("-9999999999999999.9999", "12.3457", "1000", "-0.0001", "0.1")
    assert [row[9] for row in back] == [decimal.Decimal(d) for d in rounded]
    assert [row[10] for row in back] == [decimal.Decimal(d) for d in ("-1", "3", "99999", "0", "12345")]

    # Our own reader gives the same numpy values back (in milliseconds where they are cut).
    [batch] = list(client.sql("SELECT DT, TM, TS, U FROM TEMPORAL_W ORDER BY ID"))
    assert (batch["DT"].astype("datetime64[D]")[:4] == dates[:4]).all()
    assert batch["DT"].mask[4]
    assert (np.ma.getdata(batch["TM"])[:4] == times[:4].astype("timedelta64[ms]")).all()
    assert batch["TM"].mask[4]
    assert (np.ma.getdata(batch["TS"])[:4] == stamps[:4].astype("datetime64[ms]")).all()
    assert (np.ma.getdata(batch["U"])[:4] == uuids[:4]).all()


def test_keys_of_dates_times_uuids_and_decimals_land_where_sql_puts_them(ignite3: Ignite3Cluster):
    """The colocation hash of every temporal, UUID and decimal key column is Ignite's: each row
    sits in the partition of its twin inserted by SQL, and key lookups find it."""
    client = _client(ignite3)
    schema = (
        "D DATE, T TIME(3), TS TIMESTAMP(6), TZ TIMESTAMP(6) WITH LOCAL TIME ZONE, U UUID, "
        "DEC DECIMAL(10, 2), PRIMARY KEY (D, T, TS, TZ, U, DEC)"
    )
    _fresh(client, "TKEYS_W", schema)
    _fresh(client, "TKEYS_W_SQL", schema)
    rows = 64
    rng = np.random.default_rng(7)
    dates = np.datetime64("1900-01-01") + rng.integers(0, 200 * 365, rows).astype("timedelta64[D]")
    times = rng.integers(0, 86_400_000, rows).astype("timedelta64[ms]").astype("timedelta64[ns]")
    stamps = np.datetime64("1950-01-01T00:00:00", "us") + rng.integers(0, 10**15, rows).astype("timedelta64[us]")
    zoned = np.datetime64("1990-01-01T00:00:00", "us") + rng.integers(0, 10**15, rows).astype("timedelta64[us]")
    uuids = rng.integers(0, 256, (rows, 16), dtype=np.uint8)
    decimals = np.array([f"{v / 100:.2f}" for v in rng.integers(-(10**9), 10**9, rows)])
    assert (
        client.put_batches("TKEYS_W", {"D": dates, "T": times, "TS": stamps, "TZ": zoned, "U": uuids, "DEC": decimals})
        == rows
    )

    def literal(r: int) -> str:
        millis = int(times[r].astype("timedelta64[ms]").astype(np.int64))
        t = (datetime.datetime.min + datetime.timedelta(milliseconds=millis)).time()
        return (
            f"(DATE '{dates[r]}', TIME '{t.isoformat(timespec='milliseconds')}', "
            f"TIMESTAMP '{str(stamps[r]).replace('T', ' ')}', "
            f"TIMESTAMP WITH LOCAL TIME ZONE '{str(zoned[r]).replace('T', ' ')}', "
            f"UUID '{uuid.UUID(bytes=bytes(uuids[r]))}', {decimals[r]})"
        )

    client.execute(f"INSERT INTO TKEYS_W_SQL VALUES {', '.join(literal(r) for r in range(rows))}")
    keys = "D, T, TS, TZ, U, DEC"
    ours, theirs = _partitions(ignite3, "TKEYS_W", keys), _partitions(ignite3, "TKEYS_W_SQL", keys)
    assert len(ours) == rows
    assert ours == theirs
    for r in (0, rows // 2, rows - 1):
        found = client.sql(
            f"SELECT COUNT(*) AS N FROM TKEYS_W WHERE U = UUID '{uuid.UUID(bytes=bytes(uuids[r]))}' "
            f"AND D = DATE '{dates[r]}' AND DEC = {decimals[r]}"
        )
        assert next(iter(found))["N"][0] == 1


def test_temporal_and_decimal_values_a_column_cannot_hold_are_refused(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    _fresh(
        client,
        "TREFUSE_W",
        "ID INT PRIMARY KEY, DT DATE, TM TIME, TS TIMESTAMP, TZ TIMESTAMP WITH LOCAL TIME ZONE, U UUID, "
        "DEC DECIMAL(5, 2)",
    )
    ids = np.arange(3)
    bad = [
        ({"ID": ids, "DT": np.array(["2024-01-01T12:00"] * 3, "datetime64[m]")}, "has a time of day"),
        ({"ID": ids, "DT": np.array(["0000-12-31"] * 3, "datetime64[D]")}, "row 0: the date is outside"),
        ({"ID": ids, "TM": np.array([0, 0, 86_400], "timedelta64[s]")}, "row 2: a time of day of 86400000000000 ns"),
        ({"ID": ids, "TM": np.arange(3)}, "cannot write a 3 array of int64"),
        ({"ID": ids, "TS": np.array(["10000-01-01"] * 3, "datetime64[D]")}, "outside 0001-01-01..9999-12-31"),
        ({"ID": ids, "TZ": np.array(["0001-01-01T17:59"] * 3, "datetime64[m]")}, "instant is outside"),
        ({"ID": ids, "U": np.zeros((3, 15), np.uint8)}, "UUID NULL: cannot write a 3x15 array"),
        ({"ID": ids, "U": np.array(["a", "b", "c"], object)}, "must be uuid.UUID or None"),
        ({"ID": ids, "DEC": np.array(["1", "2", "1000"])}, "row 2: 1000 does not fit DECIMAL\\(5, 2\\)"),
        ({"ID": ids, "DEC": np.array(["1", "x", "2"])}, "row 1: 'x' is not a decimal number"),
        ({"ID": ids, "DEC": np.array([1.0, np.nan, 2.0])}, "row 1: 'NaN' is not a decimal number"),
    ]
    for columns, message in bad:
        with pytest.raises(InvalidArgumentError, match=message):
            client.put_batches("TREFUSE_W", columns)
    assert read3(ignite3, "SELECT COUNT(*) FROM TREFUSE_W") == [(0,)]


def test_existing_keys_are_overwritten_whole(ignite3: Ignite3Cluster):
    """Upsert semantics: a key's row is replaced; columns not given take their defaults."""
    client = _client(ignite3)
    _fresh(client, "OVER_W", "ID INT PRIMARY KEY, PIXELS VARBINARY(4), LABEL INT")
    ids = np.arange(100)
    pixels = np.full((100, 4), 7, dtype=np.uint8)
    client.put_batches("OVER_W", {"ID": ids, "PIXELS": pixels, "LABEL": np.ones(100, np.int32)})
    client.put_batches("OVER_W", {"ID": ids + 50, "LABEL": np.full(100, 2, np.int32)})
    back = read3(ignite3, "SELECT ID, PIXELS, LABEL FROM OVER_W ORDER BY ID")
    assert [r[0] for r in back] == list(range(150))
    assert all(r[1:] == (bytes([7] * 4), 1) for r in back[:50])
    assert all(r[1:] == (None, 2) for r in back[50:])


def test_bad_columns_are_refused_before_anything_is_written(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    _fresh(
        client,
        "REFUSE_W",
        "ID INT PRIMARY KEY, PIXELS VARBINARY(4), LABEL INT NOT NULL DEFAULT 0, R REAL, S VARCHAR(3)",
    )
    client.put_batches("REFUSE_W", {"ID": np.array([1]), "LABEL": np.array([5])})
    before = read3(ignite3, "SELECT * FROM REFUSE_W")
    ids = np.arange(10, 20)
    bad = [
        ({"ID": ids, "COLOUR": ids}, "no column 'COLOUR'"),
        ({"ID": ids, "LABEL": np.arange(9)}, "has 9 rows"),
        ({"ID": ids, "LABEL": ids * 0.5}, "cannot write a 10 array of float64"),
        ({"ID": ids, "R": ids * 0.5}, "float64"),
        ({"ID": ids, "PIXELS": np.zeros((10, 4), np.int32)}, "int32"),
        ({"ID": ids, "PIXELS": np.zeros((10, 5), np.uint8)}, "5 bytes, VARBINARY\\(4\\)"),
        ({"ID": ids, "S": np.array(["abcd"] * 10)}, "4 characters, VARCHAR\\(3\\)"),
        ({"ID": ids, "LABEL": np.r_[np.arange(9), 2**31]}, "row 9: 2147483648 does not fit INTEGER"),
        ({"ID": np.ma.masked_array(ids, mask=ids == 15), "LABEL": ids}, "row 5: a key column cannot be NULL"),
        ({"ID": ids, "LABEL": np.ma.masked_array(ids, mask=ids == 12)}, "row 2: the column is NOT NULL"),
        ({"LABEL": ids}, "key column 'ID' is not given"),
        ({"ID": ids, "S": np.array([b"\xff"] * 10)}, "not valid UTF-8"),
        ({}, "non-empty dict"),
    ]
    for columns, message in bad:
        with pytest.raises(InvalidArgumentError, match=message):
            client.put_batches("REFUSE_W", columns)
    with pytest.raises(CacheNotFoundError):
        client.put_batches("NO_SUCH_TABLE_W", {"ID": ids})
    assert read3(ignite3, "SELECT * FROM REFUSE_W") == before


def test_a_server_error_says_how_many_rows_were_stored(ignite3: Ignite3Cluster):
    client = _client(ignite3)
    # NEEDED is NOT NULL without a default, and put_batches is not given it: the server refuses.
    _fresh(client, "FAIL_W", "ID INT PRIMARY KEY, NEEDED INT NOT NULL, LABEL INT")
    with pytest.raises(ServerError, match="0 of 1000 rows were stored") as error:
        client.put_batches("FAIL_W", {"ID": np.arange(1000), "LABEL": np.arange(1000)})
    assert "NEEDED" in str(error.value)
    assert read3(ignite3, "SELECT COUNT(*) FROM FAIL_W") == [(0,)]
    # the client still works afterwards
    assert client.put_batches("FAIL_W", {"ID": np.arange(3), "NEEDED": np.arange(3)}) == 3
