"""Turns a pytest-benchmark JSON file into a throughput table (stdout, Markdown) and a PNG chart:
MB/s per scenario and reader, with the ratios to pyignite and to the raw page reader.

    python benches/report.py benches/results/latest.json benches/results/throughput.png
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict


def load(path: str) -> tuple[dict[str, dict[str, dict]], str]:
    with open(path) as f:
        data = json.load(f)
    results: dict[str, dict[str, dict]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "MB/s" not in info:
            continue
        if "scenario" in info and "reader" in info:
            results[info["scenario"]][info["reader"]] = info
            continue
        write = re.fullmatch(r"test_write_throughput\[(.+)\]", bench["name"])
        scan = re.fullmatch(r"test_scan_throughput\[(.+)-([^-]+)\]", bench["name"])
        if write:
            results[write.group(1)]["writer (put_batches)"] = info
        elif scan:
            reader, scenario = scan.groups()
            results[scenario][reader] = info
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    cores = machine.get("cpu", {}).get("count", "?")
    where = f"{machine.get('node', '?')}: {cpu}, {cores} cores, {data.get('datetime', '')[:10]}"
    return results, where


def peer_of(readers: dict) -> str:
    """The peer client a scenario's readers are compared with: pyignite for Ignite 2 caches,
    Ignite 3's own driver (pyignite_dbapi, fetchall) for Ignite 3 tables."""
    return "pyignite" if "pyignite" in readers else "pyignite_dbapi fetchall"


def raw_peer(reader: str) -> str:
    """The raw page reader that fetches pages the way ``reader`` does (one cursor, or
    partition-parallel): the denominator of its "vs raw pages" ratio."""
    return "raw pages parallel" if "parallel" in reader else "raw pages"


# Issue 24's decode-at-the-bound scenarios: (label, scenario, reader, raw reader). Target: 0.9 or more.
BOUND_SCENARIOS = [
    ("Ignite 2, objects of five text fields", "strings", "numpy batches", "raw pages"),
    ("the same, text as StringDType", "strings", "numpy batches, strings=str", "raw pages"),
    ("the same, text as Arrow strings", "strings", "numpy batches, strings=arrow", "raw pages"),
    ("the same, Arrow record batches", "strings", "arrow batches", "raw pages"),
    ("Ignite 3, one node's cursor (MNIST)", "ignite3 mnist", "numpy batches", "raw pages"),
    ("Ignite 3, one node's cursor (tabular)", "ignite3 tabular", "numpy batches", "raw pages"),
    ("Ignite 3, two nodes (MNIST)", "ignite3 mnist", "numpy parallel", "raw pages parallel"),
    ("Ignite 3, two nodes (tabular)", "ignite3 tabular", "numpy parallel", "raw pages parallel"),
]


def bound_lines(results: dict[str, dict[str, dict]]) -> list[str]:
    """Decoding against the raw page reader fetching the same pages, and against the peer client,
    for the scenarios of :data:`BOUND_SCENARIOS` that this run measured."""
    lines = []
    for label, scenario, reader, raw in BOUND_SCENARIOS:
        readers = results.get(scenario, {})
        if reader not in readers or raw not in readers:
            continue
        rate = readers[reader]["rows/s"]
        peer = peer_of(readers)
        vs_peer = f"{rate / readers[peer]['rows/s']:.1f}x {peer}" if peer in readers else "no peer measured"
        lines.append(f"{label}: {reader} / {raw} = {rate / readers[raw]['rows/s']:.2f} ({vs_peer})")
    return lines


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| scenario | reader | MB/s | rows/s | vs peer (pyignite / pyignite_dbapi) | vs raw pages |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for scenario, readers in results.items():
        base = readers.get(peer_of(readers), {}).get("rows/s")
        for reader, info in readers.items():
            raw = readers.get(raw_peer(reader), {}).get("rows/s")
            vs_py = f"{info['rows/s'] / base:.1f}x" if base and "writer" not in reader else ""
            vs_raw = f"{info['rows/s'] / raw:.2f}" if raw and "writer" not in reader else ""
            lines.append(f"| {scenario} | {reader} | {info['MB/s']:.1f} | {info['rows/s']:,.0f} | {vs_py} | {vs_raw} |")
    return "\n".join(lines)


def chart(results: dict[str, dict[str, dict]], where: str, path: str) -> None:
    """Bars of MB/s per scan scenario (those with a raw page reader to compare with), one colour
    per reader; the other measurements (workers, IGFS, memory) are in the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s, readers in results.items() if any(r.startswith("raw pages") for r in readers)]
    readers = sorted({r for s in scenarios for r in results[s]})
    colours = dict(zip(readers, plt.get_cmap("tab20").colors))
    fig, ax = plt.subplots(figsize=(13, 5.5))
    ticks = []
    for s_i, scenario in enumerate(scenarios):
        present = [r for r in readers if r in results[scenario]]
        width = 0.85 / len(present)
        for i, reader in enumerate(present):
            ax.bar(
                s_i + i * width,
                results[scenario][reader]["MB/s"],
                width,
                color=colours[reader],
                label=reader if s_i == min(j for j, sc in enumerate(scenarios) if reader in results[sc]) else None,
            )
        ticks.append(s_i + 0.425 - width / 2)
    ax.set_yscale("log")
    ax.set_ylabel("MB/s (log scale)")
    ax.set_xticks(ticks, scenarios, rotation=25, ha="right")
    ax.set_title(f"ignite_fast scan throughput\n{where}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    results, where = load(sys.argv[1])
    print(f"Throughput ({where})\n")
    print(table(results))
    if bound := bound_lines(results):
        print("\nDecode at the bound (numpy reader / raw page reader, target >= 0.90):\n")
        print("\n".join(f"- {line}" for line in bound))
    if len(sys.argv) > 2:
        chart(results, where, sys.argv[2])
        print(f"\nchart: {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
