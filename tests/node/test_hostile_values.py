"""Objects whose fields refer to the same child, written by Ignite's own Java marshaller
(tests/java/SharedGraphFixture.java): a second reference is a handle back to the first, and the
reader copies the child at every reference. A handful of shared children read back as Java wrote
them; a graph whose tree is exponentially larger than its bytes (about 1 KB on the wire, 2^30
nodes as a tree) is a SchemaError naming the cache and the limit, from schema() and scan() alike,
in a process whose memory is capped: a reader that expanded it would die there, not raise."""

from __future__ import annotations

import subprocess
import sys

from ignite_fast.columns import to_pylist
from node_fixtures import SESSION_PORT


def _tree(value):
    """A decoded value as the fixture prints it: text as str, and a null object (its fields all
    null in the columns) as None; fields that are None are left out on both sides."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_tree(v) for v in value]
    if isinstance(value, dict):
        fields = {k: _tree(v) for k, v in value.items()}
        fields = {k: v for k, v in fields.items() if v is not None}
        return fields or None
    return value


def test_a_few_shared_children_read_back_as_java_wrote_them(client, java_shared_graphs, cache_name):
    expected = java_shared_graphs(cache_name, "shared")
    batch = next(client.scan(cache_name, batch_size=100))
    keys = batch["key"].tolist()
    vals = to_pylist(batch["val"])
    assert sorted(keys) == sorted(expected) == list(range(5))
    for key, val in zip(keys, vals):
        assert _tree(val) == _tree(expected[key]["val"]), key
    # the structure comes through schema() too, the shared child's fields included
    schema = client.schema(cache_name)
    assert schema["val"]["right"]["left"]["label"] == "string"
    assert schema["val"]["kids"][1]["right"]["id"] == "int"


# Run in a child process under an address-space limit: a decoder that expands the graph dies
# there ("memory allocation failed") instead of taking the machine, and the test sees no error
# line. The child prints one line per call, then "alive" if it can still read after them.
_HOSTILE_READ = r"""
import resource, sys, time
import ignite_fast
from ignite_fast.errors import SchemaError

with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
limit = vm + (2 << 30)  # 2 GiB above what the interpreter and its imports hold
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
cache, port = sys.argv[1], int(sys.argv[2])
client = ignite_fast.Client("127.0.0.1", port)
for call in ("schema", "scan", "scan(batch_size=1)"):
    start = time.monotonic()
    try:
        if call == "schema":
            client.schema(cache)
        else:
            for _ in client.scan(cache, batch_size=1 if "=" in call else None):
                pass
        print(call, "no error", flush=True)
    except SchemaError as e:
        print(call, "SchemaError", f"{time.monotonic() - start:.3f}s", str(e), flush=True)
print("keys", [k for b in client.scan(cache, columns=["id"]) for k in b["key"].tolist()], flush=True)
print("alive", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""


def _read_in_capped_process(cache: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _HOSTILE_READ, cache, str(SESSION_PORT)], capture_output=True, text=True, timeout=300
    )
    lines = proc.stdout.splitlines()
    print("\n".join(lines))  # the timings and the peak memory, for the record
    assert proc.returncode == 0, f"the reading process died ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return lines


def _assert_typed_errors(lines: list[str], cache: str) -> None:
    for call in ("schema", "scan", "scan(batch_size=1)"):
        line = next((line for line in lines if line.startswith(call + " ")), None)
        assert line is not None, f"{call}: {line}"
        assert " SchemaError " in line, f"{call}: {line}"
        assert f"cache '{cache}': objects that share children" in line, line
        assert "decoding limit of" in line, line
        assert "units" in line, line
    # the same process reads on: leaving the shared fields out, the row is there
    assert "keys [0]" in lines, lines
    assert any(line.startswith("alive ") for line in lines), lines


def test_a_graph_of_two_fields_sharing_a_child_30_levels_deep_is_a_schema_error(client, java_shared_graphs):
    cache = "hostile_shared_fields"
    assert java_shared_graphs(cache, "deep") == {0: {"key": 0, "levels": 30}}
    # a small value on the wire: one entry in one page of about a kilobyte
    pages = list(client.raw_pages(cache))
    assert sum(entries for entries, _ in pages) == 1
    assert sum(size for _, size in pages) < 2048, pages
    _assert_typed_errors(_read_in_capped_process(cache), cache)


def test_a_list_holding_one_child_four_times_15_levels_deep_is_a_schema_error(java_shared_graphs):
    cache = "hostile_shared_list"
    assert java_shared_graphs(cache, "wide") == {0: {"key": 0, "levels": 15}}
    _assert_typed_errors(_read_in_capped_process(cache), cache)
