"""Merging the batches of small partitions (ignite_fast.parallel.coalesce) on hand-made columns
(built as the extension hands them over): no node needed."""

from __future__ import annotations

from ignite_fast.columns import batch_from_native, to_numpy


def test_coalesce_merges_columns_of_every_mergeable_kind():
    import numpy as np

    from ignite_fast.parallel import coalesce

    def batch(keys, names, valid):
        data = np.frombuffer("".join(names).encode(), np.uint8)
        offsets = np.cumsum([0] + [len(n) for n in names], dtype=np.int32)
        val = (
            "struct",
            "Thing",
            {
                "name": ("str", offsets, data, valid, None),
                "vec": ("fixed", np.ones((len(keys), 2), np.float32) * keys[0], None),
            },
            len(keys),
        )
        return len(keys), batch_from_native({"key": ("prim", np.array(keys, np.int64), None, None), "val": val})

    ragged = (
        1,
        batch_from_native(
            {
                "key": ("prim", np.array([9], np.int64), None, None),
                "val": ("var", np.zeros(3, np.int32), np.array([0, 3], np.int32), None),
            }
        ),
    )
    out = list(
        coalesce(
            iter([batch([1, 2], ["a", "bbbb"], None), batch([3], ["cc"], np.array([False])), batch([4], ["d"], None)]),
            batch_size=10,
        )
    )
    assert len(out) == 1
    assert out[0][0] == 4
    merged = out[0][1]
    assert merged["key"].values.tolist() == [1, 2, 3, 4]
    name = to_numpy(merged["val"].fields["name"])
    assert name.tolist() == [b"a", b"bbbb", None, b"d"]
    assert name.mask.tolist() == [False, False, True, False]
    assert to_numpy(merged["val"])["vec"][:, 0].tolist() == [1, 1, 3, 4]
    # a run with a column that does not merge (ragged here) is passed on as it came, in order
    first = batch([5], ["e"], None)
    assert list(coalesce(iter([first, ragged]), batch_size=10)) == [first, ragged]
    # batch_size bounds a merged batch
    assert [n for n, _ in coalesce(iter([batch([i], ["x"], None) for i in range(5)]), batch_size=2)] == [2, 2, 1]
