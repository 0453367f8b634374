"""ScanPosition (ignite_fast.position): its serialised forms, every way they can be refused, and
the key fingerprints resumed scans check. No node: positions are plain values."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

from ignite_fast import PositionError, PositionMismatchError, ResumableScan, ScanPosition
from ignite_fast import resumable as resumable_module
from ignite_fast.columns import PrimColumn, StrColumn
from ignite_fast.errors import InvalidArgumentError
from ignite_fast.position import FORMAT_VERSION, check_position, fingerprint, row_hashes, selection_of
from ignite_fast.resumable import WHOLE, Chunk, end_of

SELECTION = selection_of(["a", "b"], (1, 4), {"partitions": [[0, 1]]})


def sample(**changes) -> ScanPosition:
    fields = {
        "generation": 2,
        "name": "numbers",
        "selection": SELECTION,
        "partitions": (1, 5, 9, 13),
        "epoch": 3,
        "finished": frozenset({1, 9}),
        "open": {5: (17, 2**64 - 5)},
        "finished_rows": 40,
        "topology": (4, 1),
    }
    return ScanPosition(**{**fields, **changes})


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sealed(position: dict) -> bytes:
    """What to_bytes would make of a dict (to forge well-sealed but wrong positions)."""
    return canonical({"position": position, "sha256": hashlib.sha256(canonical(position)).hexdigest()})


def test_round_trips_through_dicts_and_bytes():
    position = sample()
    assert ScanPosition.from_dict(position.to_dict()) == position
    assert ScanPosition.from_dict(json.loads(json.dumps(position.to_dict()))) == position
    assert ScanPosition.from_bytes(position.to_bytes()) == position
    fresh = sample(finished=frozenset(), open={}, finished_rows=0, topology=None)
    assert ScanPosition.from_bytes(fresh.to_bytes()) == fresh
    assert position.version == FORMAT_VERSION


def test_bytes_are_canonical():
    a = sample(finished=frozenset({9, 1}), open={5: (17, 2**64 - 5)})
    b = sample(finished=frozenset({1, 9}), open=dict([(5, (17, 2**64 - 5))]))
    assert a.to_bytes() == b.to_bytes()
    assert ScanPosition.from_bytes(a.to_bytes()).to_bytes() == a.to_bytes()
    a.to_bytes().decode("ascii")  # ASCII JSON
    # the same JSON, not in its canonical form (spaces), is refused
    outer = json.loads(a.to_bytes())
    with pytest.raises(PositionError, match="canonical"):
        ScanPosition.from_bytes(json.dumps(outer, sort_keys=True).encode())


def test_bytes_are_the_sealed_canonical_json_of_to_dict():
    """to_bytes writes its JSON piece by piece (it runs after every batch of a TensorFlow
    pipeline): the same bytes as json.dumps of to_dict, sealed, whatever the fields hold."""
    many = tuple(range(0, 3000, 3))
    positions = [
        sample(),
        sample(finished=frozenset(), open={}, finished_rows=0, topology=None),
        sample(name='ünïcode "quoted" \\ name', generation=3),
        sample(selection=selection_of(None, None, None, "MnistDigit")),
        sample(selection=selection_of(["x"], None, None, -1234)),
        sample(
            partitions=many, finished=frozenset(many[:700]), open={many[700]: (1, 0), many[999]: (2**40, 2**64 - 1)}
        ),
        sample(epoch=2**40, finished_rows=2**50),
    ]
    for position in positions:
        assert position.to_bytes() == sealed(position.to_dict())
        assert ScanPosition.from_bytes(position.to_bytes()) == position


def test_every_flipped_byte_is_refused():
    blob = sample().to_bytes()
    for i in range(len(blob)):
        for bit in (0x01, 0x20, 0x80):
            changed = bytearray(blob)
            changed[i] ^= bit
            with pytest.raises(PositionError):
                ScanPosition.from_bytes(bytes(changed))


def test_truncated_and_foreign_bytes_are_refused():
    blob = sample().to_bytes()
    for cut in range(len(blob)):
        with pytest.raises(PositionError):
            ScanPosition.from_bytes(blob[:cut])
    for junk in [b"", b"\xff\xfe", b"null", b"[]", b"{}", b'{"position":{},"sha256":"00"}', b"not json"]:
        with pytest.raises(PositionError):
            ScanPosition.from_bytes(junk)
    with pytest.raises(PositionError, match="bytes"):
        ScanPosition.from_bytes("text")  # type: ignore[arg-type]


def test_a_sealed_but_wrong_position_is_refused():
    """Bytes whose sha256 matches but whose fields are wrong: every field is still checked."""
    bad = sample().to_dict()
    bad["open"] = [[2, 5, 0]]  # partition 2 is not a partition of the position
    with pytest.raises(PositionError, match="open partition"):
        ScanPosition.from_bytes(sealed(bad))


BAD_FIELDS = [
    ("version", 2),
    ("version", 0),
    ("version", True),
    ("version", "1"),
    ("version", None),
    ("generation", 4),
    ("generation", "2"),
    ("generation", True),
    ("name", ""),
    ("name", 5),
    ("selection", None),
    ("selection", {"columns": None}),
    ("partitions", [5, 1]),
    ("partitions", [1, 1, 5, 9, 13]),
    ("partitions", [-1, 1, 5, 9, 13]),
    ("partitions", [1.0, 5, 9, 13]),
    ("partitions", "1,5"),
    ("epoch", -1),
    ("epoch", 1.5),
    ("epoch", None),
    ("finished", [9, 1]),
    ("finished", [2]),  # not a partition of the position
    ("finished", [1, 5, 9]),  # 5 is open too: finished and open must not meet
    ("finished", [True]),
    ("open", [[2, 1, 0]]),  # open partition not among the partitions
    ("open", [[9, 1, 0]]),  # finished and open
    ("open", [[5, 0, 0]]),  # an open partition has read rows
    ("open", [[5, -3, 0]]),  # negative rows
    ("open", [[5, 1, -1]]),
    ("open", [[5, 1, 2**64]]),
    ("open", [[5, 1]]),
    ("open", [[5, "1", 0]]),
    ("open", [[13, 1, 0], [5, 1, 0]]),  # not sorted
    ("open", [[5, 1, 0], [5, 2, 0]]),  # one partition twice
    ("open", {"5": [1, 0]}),
    ("finished_rows", -1),
    ("finished_rows", 2.0),
    ("topology", [1]),
    ("topology", [1, -1]),
    ("topology", "4.1"),
]

BAD_SELECTIONS = [
    ("columns", "a"),
    ("columns", [1]),
    ("shard", [1]),
    ("shard", [4, 4]),
    ("shard", [-1, 4]),
    ("shard", [True, 4]),
    ("plan", None),
    ("value_type", 1.5),
    ("value_type", False),
]


@pytest.mark.parametrize(("key", "value"), BAD_FIELDS)
def test_a_wrong_field_is_refused(key, value):
    data = sample().to_dict()
    data[key] = value
    with pytest.raises(PositionError):
        ScanPosition.from_dict(data)
    with pytest.raises(PositionError):
        ScanPosition.from_bytes(sealed(data))


@pytest.mark.parametrize(("key", "value"), BAD_SELECTIONS)
def test_a_wrong_selection_is_refused(key, value):
    data = sample().to_dict()
    data["selection"][key] = value
    with pytest.raises(PositionError):
        ScanPosition.from_dict(data)


def test_missing_or_extra_fields_are_refused():
    for key in sample().to_dict():
        data = sample().to_dict()
        del data[key]
        with pytest.raises(PositionError):
            ScanPosition.from_dict(data)
    with pytest.raises(PositionError):
        ScanPosition.from_dict({**sample().to_dict(), "extra": 1})
    for not_a_dict in [None, [], "position", 5]:
        with pytest.raises(PositionError):
            ScanPosition.from_dict(not_a_dict)


def test_from_dict_does_not_keep_the_callers_objects():
    data = sample().to_dict()
    kept = copy.deepcopy(data)
    position = ScanPosition.from_dict(data)
    data["selection"]["columns"].append("c")
    data["partitions"].append(99)
    assert position == ScanPosition.from_dict(kept)
    position.to_dict()["selection"]["columns"].append("d")
    assert position == ScanPosition.from_dict(kept)


def test_a_position_error_is_an_invalid_argument():
    assert issubclass(PositionError, InvalidArgumentError)
    assert issubclass(PositionError, ValueError)


def test_describe_reads_well():
    text = sample().describe()
    assert text == (
        "cache 'numbers' (Ignite 2), epoch 3: 2/4 partitions finished, 1 open (5: 17 rows), 57 rows read"
    ), text
    fresh = sample(generation=3, name="T", finished=frozenset(), open={}, finished_rows=0)
    assert fresh.describe() == "table 'T' (Ignite 3), epoch 3: 0/4 partitions finished, 0 open, 0 rows read"


def test_rows_done_and_next_epoch():
    position = sample()
    assert position.rows == 57
    assert not position.done
    whole = sample(finished=frozenset({1, 5, 9, 13}), open={}, finished_rows=60)
    assert whole.done
    assert whole.rows == 60
    after = whole.next_epoch()
    assert (after.epoch, after.finished, dict(after.open), after.rows, after.done) == (4, frozenset(), {}, 0, False)
    assert (after.name, after.partitions, after.selection) == (whole.name, whole.partitions, whole.selection)


def test_check_position_names_the_field_that_differs():
    position = sample()
    partitions = list(position.partitions)
    check_position(position, 2, "numbers", partitions, SELECTION)
    with pytest.raises(PositionError, match="Ignite 2, this scan reads Ignite 3"):
        check_position(position, 3, "numbers", partitions, SELECTION)
    with pytest.raises(PositionError, match="position is of cache 'numbers', this scan reads 'other'"):
        check_position(position, 2, "other", partitions, SELECTION)
    with pytest.raises(PositionError, match="columns="):
        check_position(position, 2, "numbers", partitions, {**SELECTION, "columns": None})
    with pytest.raises(PositionError, match="shard="):
        check_position(position, 2, "numbers", partitions, {**SELECTION, "shard": [1, 8]})
    with pytest.raises(PositionError, match="plan="):
        check_position(position, 2, "numbers", partitions, selection_of(["a", "b"], (1, 4), None))
    with pytest.raises(PositionError, match=r"partitions \[1, 5, 9, 13\], this scan reads \[1-3\]"):
        check_position(position, 2, "numbers", [3, 1, 2], SELECTION)
    with pytest.raises(PositionError, match="ScanPosition"):
        check_position(position.to_dict(), 2, "numbers", partitions, SELECTION)  # type: ignore[arg-type]


def strings(values: list[bytes]) -> StrColumn:
    offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int32)
    return StrColumn(offsets, np.frombuffer(b"".join(values), np.uint8).copy(), None)


def test_fingerprints_ignore_order_and_batch_boundaries():
    keys = np.arange(1000, dtype=np.int64)
    whole = fingerprint(row_hashes(PrimColumn(keys, None)))
    shuffled = np.random.default_rng(1).permutation(keys)
    pieces = [row_hashes(PrimColumn(shuffled[a : a + 70], None)) for a in range(0, 1000, 70)]
    assert sum(fingerprint(h) for h in pieces) % 2**64 == whole
    assert fingerprint(row_hashes(PrimColumn(keys[:-1], None))) != whole
    assert fingerprint(row_hashes(PrimColumn(np.r_[keys[:-1], 1000], None))) != whole
    hashes = row_hashes(PrimColumn(keys, None))
    assert len(set(hashes.tolist())) == 1000
    assert 0 not in hashes.tolist()


def test_string_keys_hash_alike_at_any_padding():
    values = [b"", b"a", b"abcdefgh", b"abcdefghi", b"\x00x", "ü".encode()]
    hashes = row_hashes(strings(values))
    assert len(set(hashes.tolist())) == len(values)
    one_by_one = [int(row_hashes(strings([v]))[0]) for v in values]
    assert hashes.tolist() == one_by_one
    padded = np.array(values, dtype="S16")
    assert row_hashes(PrimColumn(padded, None)).tolist() == hashes.tolist()


def test_composite_keys_and_nulls():
    a = PrimColumn(np.array([1, 2, 1], np.int32), None)
    b = strings([b"x", b"x", b"y"])
    hashes = row_hashes({"A": a, "B": b})
    assert len(set(hashes.tolist())) == 3
    swapped = row_hashes({"A": PrimColumn(np.array([1, 2, 1], np.int32), None), "C": b})
    assert hashes.tolist() != swapped.tolist()  # the column's name counts
    nullable = PrimColumn(np.array([0, 0], np.int64), np.array([True, False]))
    assert len(set(row_hashes(nullable).tolist())) == 2


# ---- ResumableScan's bookkeeping, over reads of in-memory partitions ----------------------------


def partitioned(data: dict[int, list[int]], *, per_query: bool, rows: int = 2):
    """A ReadPartitions over ``data`` (partition -> keys in scan order): partition by partition,
    each finished on its last chunk (as Ignite 2 reads), or ``per_query``, in one stream of
    ``rows``-row chunks finished when it ends (as an Ignite 3 query reads)."""

    def read(parts):
        if not per_query:
            for p in parts:
                keys = np.array(data[p], np.int64)
                for a in range(0, max(len(keys), 1), rows):
                    piece = keys[a : a + rows]
                    last = a + rows >= len(keys)
                    yield Chunk(
                        {"key": PrimColumn(piece, None)},
                        len(piece),
                        p,
                        row_hashes(PrimColumn(piece, None)),
                        (p,) if last else (),
                    )
            return
        keys = np.array([k for p in parts for k in data[p]], np.int64)
        where = np.array([p for p in parts for _ in data[p]], np.int64)
        for a in range(0, len(keys), rows):
            piece = keys[a : a + rows]
            yield Chunk(
                {"key": PrimColumn(piece, None)}, len(piece), where[a : a + rows], row_hashes(PrimColumn(piece, None))
            )
        yield end_of(tuple(parts))

    return read


def resumable(data, start, *, per_query):
    read = partitioned(data, per_query=per_query)
    keys = partitioned(data, per_query=per_query, rows=5) if per_query else None
    return ResumableScan(start, read, lambda batch: batch["key"].values, read_keys=keys)


DATA = {0: [10, 20, 30], 1: [11], 2: [], 3: [13, 23, 33, 43, 53], 4: [14]}
FRESH = ScanPosition(2, "t", selection_of(None, None, None), (0, 1, 2, 3, 4))


@pytest.mark.parametrize("per_query", [False, True])
def test_resumed_at_every_batch_reads_every_key_once(per_query):
    whole = list(resumable(DATA, FRESH, per_query=per_query))
    expected = sorted(k for keys in DATA.values() for k in keys)
    assert sorted(np.concatenate(whole).tolist()) == expected
    for first in range(len(whole) + 1):
        for second in range(3):
            scan = resumable(DATA, FRESH, per_query=per_query)
            got = [next(scan) for _ in range(first)]
            again = resumable(DATA, ScanPosition.from_bytes(scan.position().to_bytes()), per_query=per_query)
            got += [b for _, b in zip(range(second), again)]
            last = resumable(DATA, again.position(), per_query=per_query)
            got += list(last)
            assert sorted(np.concatenate(got).tolist() if got else []) == expected, (first, second)
            assert last.position().done
            assert last.position().rows == len(expected)


def merging(data: dict[int, list[int]], begun, rows: int = 4):
    """A ReadPartitions as Ignite 2 reads: partitions of up to ``rows`` keys read whole share
    chunks whose rows are WHOLE (not told apart, not hashed); larger ones and those ``begun``
    before come in 2-row chunks of their own."""

    def read(parts):
        group: list[int] = []

        def flush():
            keys = np.array([k for p in group for k in data[p]], np.int64)
            chunk = Chunk(
                {"key": PrimColumn(keys, None)}, len(keys), WHOLE, np.zeros(len(keys), np.uint64), tuple(group)
            )
            group.clear()
            return chunk

        for p in parts:
            if p in begun or len(data[p]) > rows:
                yield from partitioned(data, per_query=False)([p])
                continue
            if sum(len(data[q]) for q in group) + len(data[p]) > rows:
                yield flush()
            group.append(p)
        if group:
            yield flush()

    return read


def test_partitions_read_whole_together_are_counted_and_never_read_again():
    data = {0: [10, 20], 1: [11], 2: [], 3: [13, 23, 33, 43, 53], 4: [14], 5: [15, 25, 35], 6: [16]}
    fresh = ScanPosition(2, "t", selection_of(None, None, None), tuple(data))
    expected = sorted(k for keys in data.values() for k in keys)

    def scan(start):
        return ResumableScan(start, merging(data, set(start.open)), lambda batch: batch["key"].values)

    batches = len(list(scan(fresh)))
    for first in range(batches + 1):
        before = scan(fresh)
        got = [next(before) for _ in range(first)]
        position = ScanPosition.from_bytes(before.position().to_bytes())
        assert position.rows == sum(len(b) for b in got)
        after = scan(position)
        got += list(after)
        assert sorted(np.concatenate(got).tolist()) == expected, first
        assert after.position().done
        assert after.position().rows == len(expected)


def test_rows_waiting_for_a_check_are_bounded_by_a_check_on_keys(monkeypatch):
    """A partition read to its end before that lost a row shows only when its query ends; past
    WAITING_ROWS held back, the open partitions are checked on their keys instead."""
    scan = resumable(DATA, FRESH, per_query=True)
    for _ in range(3):
        next(scan)  # 10 20 | 30 11 | 13 23: partitions 0 and 1 read to their end, not finished
    position = scan.position()
    assert sorted(position.open) == [0, 1, 3]
    shrunk = {**DATA, 0: [10, 20], 4: list(range(100, 140))}
    pulled = []

    def counting(parts):
        for chunk in partitioned(shrunk, per_query=True)(parts):
            pulled.append(chunk)
            yield chunk

    monkeypatch.setattr(resumable_module, "WAITING_ROWS", 2)
    keys = partitioned(shrunk, per_query=True, rows=5)
    resumed = ResumableScan(position, counting, lambda batch: batch["key"].values, read_keys=keys)
    with pytest.raises(PositionMismatchError, match=r"partition 0 .* has 2 rows now, fewer than the 3"):
        next(resumed)
    assert len(pulled) < 8  # of 25 chunks: not the whole query
    # unchanged, the check on keys passes and every row is given once
    resumed = ResumableScan(position, partitioned(DATA, per_query=True), lambda b: b["key"].values, read_keys=keys)
    assert sorted(np.concatenate(list(resumed)).tolist()) == [14, 33, 43, 53]
    assert resumed.position().done


@pytest.mark.parametrize("per_query", [False, True])
def test_changed_open_partitions_are_refused_before_any_batch(per_query):
    scan = resumable(DATA, FRESH, per_query=per_query)
    while not scan.position().open.get(3, (0,))[0] >= 2:
        next(scan)
    position = scan.position()
    for changed, message in [
        ({**DATA, 3: [13, 99, 33, 43, 53]}, "keys differ"),
        ({**DATA, 3: [13]}, "fewer than"),
        ({**DATA, 3: [5, 13, 23, 33, 43, 53]}, "keys differ"),
    ]:
        with pytest.raises(PositionMismatchError, match=message):
            next(resumable(changed, position, per_query=per_query))
    # rows past those read, and in unread partitions, are read
    grown = {**DATA, 3: [*DATA[3], 63], 4: [14, 24]}
    rest = np.concatenate(list(resumable(grown, position, per_query=per_query))).tolist()
    assert sorted(rest) == [14, 24, 33, 43, 53, 63]


def test_partitions_the_generation_checks_itself_count_as_skipped():
    """``Chunk.checked``: begun partitions the generation counted (Ignite 3 counts the rows of
    those its read before took to their end) with as many rows as were read are not read again;
    fewer rows than were read is refused; one with more the generation reads whole, and the
    scan skips and checks its rows read before and gives those past them."""
    scan = resumable(DATA, FRESH, per_query=True)
    for _ in range(3):
        next(scan)  # 10 20 | 30 11 | 13 23: partitions 0 and 1 read to their end, not finished
    position = scan.position()
    assert sorted(position.open) == [0, 1, 3]

    def counted(counts: dict[int, int], past: dict[int, list[int]]):
        data = {p: DATA[p] + past.get(p, []) for p in DATA}

        def read(parts):
            checked = tuple((p, counts[p]) for p in parts if p in counts and counts[p] <= position.open[p][0])
            yield end_of(tuple(p for p, n in checked if n == position.open[p][0]), checked=checked)
            yield from partitioned(data, per_query=True)([p for p in parts if p not in dict(checked)])

        return ResumableScan(position, read, lambda batch: batch["key"].values)

    resumed = counted({0: 3, 1: 1}, {})
    assert sorted(np.concatenate(list(resumed)).tolist()) == [14, 33, 43, 53]
    assert resumed.position().done
    assert resumed.position().rows == sum(len(keys) for keys in DATA.values())
    with pytest.raises(PositionMismatchError, match=r"partition 0 .* has 2 rows now, fewer than the 3"):
        next(counted({0: 2, 1: 1}, {}))
    grown = counted({0: 5, 1: 1}, {0: [40, 50]})
    assert sorted(np.concatenate(list(grown)).tolist()) == [14, 33, 40, 43, 50, 53]
    assert grown.position().done
