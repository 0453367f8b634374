"""Turns a pytest-benchmark JSON file into a throughput table (stdout, Markdown) and a PNG chart:
MB/s per scenario and reader, with the ratios to pyignite and to the raw page reader.

    python benches/report.py benches/results/latest.json benches/results/throughput.png
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict


def load(path: str) -> tuple[dict[str, dict[str, dict]], dict[str, dict[str, dict]], str]:
    """The run's table rows (scenario -> reader -> figures), its interleaved measurements
    (scenario -> reader -> figures against a base reader, see conftest.interleave) and where it
    ran."""
    with open(path) as f:
        data = json.load(f)
    results: dict[str, dict[str, dict]] = defaultdict(dict)
    interleaved: dict[str, dict[str, dict]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "interleaved" in info:
            interleaved[info["interleaved"]["scenario"]].update(info["interleaved"]["readers"])
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
    return results, interleaved, where


def peer_of(readers: dict) -> str:
    """The peer client a scenario's readers are compared with: pyignite for Ignite 2 caches,
    Ignite 3's own driver (pyignite_dbapi, fetchall) for Ignite 3 tables."""
    return "pyignite" if "pyignite" in readers else "pyignite_dbapi fetchall"


def raw_peer(reader: str) -> str:
    """The raw page reader that fetches pages the way ``reader`` does (one cursor, or
    partition-parallel): the denominator of its "vs raw pages" ratio."""
    return "raw pages parallel" if "parallel" in reader else "raw pages"


# The scenario of test_throughput_smoke.test_decode_bound_strings_separate_cpus.
SEPARATE_CPUS = "strings, node and client on separate CPUs"

# Issue 24's decode-at-the-bound scenarios: (label, scenario, reader, raw reader). Target: 0.9 or more.
BOUND_SCENARIOS = [
    ("Ignite 2, objects of five text fields, text as S (padded)", "strings", "numpy batches", "raw pages"),
    ("the same, text as StringDType", "strings", "numpy batches, strings=str", "raw pages"),
    ("the same, text as Arrow strings", "strings", "numpy batches, strings=arrow", "raw pages"),
    ("the same, Arrow record batches", "strings", "arrow batches", "raw pages"),
    *[
        (f"the same, node and client on CPUs of their own: {form}", SEPARATE_CPUS, reader, "raw pages")
        for form, reader in [
            ("S", "numpy batches"),
            ("StringDType", "numpy batches, strings=str"),
            ("Arrow strings", "numpy batches, strings=arrow"),
            ("Arrow record batches", "arrow batches"),
        ]
    ],
    ("Ignite 3, one node's cursor (MNIST)", "ignite3 mnist", "numpy batches", "raw pages"),
    ("Ignite 3, one node's cursor (tabular)", "ignite3 tabular", "numpy batches", "raw pages"),
    ("Ignite 3, two nodes (MNIST)", "ignite3 mnist", "numpy parallel", "raw pages parallel"),
    ("Ignite 3, two nodes (tabular)", "ignite3 tabular", "numpy parallel", "raw pages parallel"),
]

BOUND_TITLE = (
    "decode at the bound (numpy reader / raw page reader fetching the same pages, target >= 0.90): the median of "
    "per-round ratios, the two readers alternating within one test; 'separate tests' is the ratio of the two "
    "readers' own benchmark medians, taken minutes apart"
)


def bound_lines(results: dict[str, dict[str, dict]], interleaved: dict[str, dict[str, dict]]) -> list[str]:
    """Decoding against the raw page reader fetching the same pages, for the scenarios of
    :data:`BOUND_SCENARIOS` that this run measured: interleaved (see conftest.interleave) and,
    where both readers had their own benchmark, the ratio of those; and against the peer client."""
    lines = []
    for label, scenario, reader, raw in BOUND_SCENARIOS:
        parts = []
        mixed = interleaved.get(scenario, {}).get(reader)
        if mixed and mixed["base"] == raw:
            low, high = mixed["ratio range"]
            quiet = mixed["quiet rounds"]
            over_quiet = f", {mixed['quiet ratio']:.2f} over the {quiet} quiet ones" if quiet else ""
            parts.append(
                f"{mixed['ratio']:.2f} interleaved (median of {mixed['rounds']} rounds, {low:.2f}-{high:.2f}"
                f"{over_quiet}; {mixed['MB/s']:.0f} MB/s, {mixed['rows/s']:,.0f} rows/s against "
                f"{mixed['base MB/s']:.0f} MB/s, {mixed['base rows/s']:,.0f} rows/s)"
            )
        readers = results.get(scenario, {})
        if reader in readers and raw in readers:
            parts.append(f"separate tests {readers[reader]['rows/s'] / readers[raw]['rows/s']:.2f}")
        # the peer client (timed in its own test): against the reader's interleaved rate if any
        rate = mixed["rows/s"] if mixed else readers.get(reader, {}).get("rows/s")
        peer = peer_of(readers)
        if rate and peer in readers:
            parts.append(f"{rate / readers[peer]['rows/s']:.1f}x {peer} ({readers[peer]['rows/s']:,.0f} rows/s)")
        if parts:
            lines.append(f"{label}: {reader} / {raw} = {'; '.join(parts)}")
    return lines


RESUME_TITLE = (
    "resume at 90% of an epoch of MNIST-shaped rows (issue 25): the resumed pass's time as a share of a full "
    "pass of the same read, the median of per-round ratios, the two alternating within one test"
)


def resume_lines(interleaved: dict[str, dict[str, dict]]) -> list[str]:
    """The resume benchmarks (test_resume_bench.py, scenarios "resume ..."): each reader's time
    against the full pass of its scenario, and the full pass's rates."""
    lines = []
    for scenario, readers in interleaved.items():
        if not scenario.startswith("resume "):
            continue
        full = next(info for info in readers.values() if "base MB/s" not in info)
        parts = [f"full pass {full['MB/s']:.0f} MB/s, {full['rows/s']:,.0f} rows/s ({full['rows']:,} rows)"]
        for reader, info in readers.items():
            if info is not full:
                # the per-round ratio is the full pass's time over this reader's: its inverse is
                # the share of the full pass's time (the median of an odd count inverts exactly)
                low, high = info["ratio range"]
                parts.append(
                    f"{reader}: {1 / info['ratio']:.3f} of the full pass's time ({1 / high:.3f}-{1 / low:.3f}, "
                    f"{info['rows']:,} rows)"
                )
        lines.append(f"{scenario[len('resume ') :]}: {'; '.join(parts)} [{full['rounds']} rounds]")
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
    results, interleaved, where = load(sys.argv[1])
    print(f"Throughput ({where})\n")
    print(table(results))
    if bound := bound_lines(results, interleaved):
        print(f"\n{BOUND_TITLE}:\n")
        print("\n".join(f"- {line}" for line in bound))
    if resume := resume_lines(interleaved):
        print(f"\n{RESUME_TITLE}:\n")
        print("\n".join(f"- {line}" for line in resume))
    if len(sys.argv) > 2:
        chart(results, where, sys.argv[2])
        print(f"\nchart: {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
