#!/usr/bin/env bash
# The installed-package smoke suite: what `pip install` gives a user, away from the checkout.
#
#   tests/smoke/run.sh WHEEL [PYTHON_VERSION ...]     (make test-smoke: dist/'s wheel; 3.11 3.12 3.13)
#
# 1. For each Python version: a fresh venv outside the checkout, `pip install WHEEL[tf]` (and pytest,
#    fsspec), the installed wheel's tag printed.
# 2. One Ignite 2 node and one Ignite 3 node, started by the installed package: `python -m
#    ignite_fast.server install` and `start` (`--ignite 3` for the second; IGNITE_FAST_HOME may name
#    a place that already holds the jars).
# 3. In each venv, pytest on a copy of tests/smoke, run from a directory outside the checkout.
# 4. `pip install <a clean clone>[tf]` (no wheel: pip builds from source) into one more venv, on the
#    first version: the same suite.
# Registry crates built for the source install are kept in target/source-install (the crates of the
# clone itself are compiled from its sources), so that step costs one link, not a full build.
set -euo pipefail

step() { echo "== [$(date +%H:%M:%S), ${SECONDS}s] $*"; }

[ -f "${1:-}" ] || { echo "usage: $0 WHEEL [PYTHON_VERSION ...] (no wheel at '${1:-}': make wheel)" >&2; exit 2; }
wheel=$(realpath "$1")
shift
if [ $# -gt 0 ]; then versions=("$@"); else versions=(3.11 3.12 3.13); fi
checkout=$(cd "$(dirname "$0")/../.." && pwd)
port=10960
node=(--name smoke)
node_ports=(--port "$port" --discovery-port 27660 --communication-port 27260)
port3=10966
node3=(--ignite 3 --name smoke3)
node3_ports=(--port "$port3" --network-port 3366 --rest-port 10316 --heap-mb 768)

# Nothing of the checkout's environment leaks into the venvs.
unset PYTHONPATH VIRTUAL_ENV PYTHONHOME
work=$(mktemp -d "${TMPDIR:-/tmp}/ignite-fast-smoke.XXXXXX")
node_python=""
cleanup() {
    if [ -n "$node_python" ]; then
        "$node_python" -m ignite_fast.server stop "${node[@]}" >/dev/null || true
        "$node_python" -m ignite_fast.server stop "${node3[@]}" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# An interpreter of version $1: pyenv's, else one on PATH.
find_python() {
    local candidate
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python"$1"; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    if candidate=$(command -v "python$1") && "$candidate" -c "" 2>/dev/null; then echo "$candidate"; return; fi
    echo "no Python $1 (neither pyenv's nor python$1 on PATH)" >&2
    return 1
}

# A fresh venv $1 with Python $2 and the package spec $3 installed, TensorFlow included.
make_venv() {
    "$2" -m venv "$1"
    "$1/bin/python" -m pip install --quiet "$3[tf]" pytest fsspec
    "$1/bin/python" - <<'PY'
import importlib.metadata, platform
dist = importlib.metadata.distribution("ignite_fast")
tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag:")]
print(f"  Python {platform.python_version()}: ignite_fast {dist.version} installed, wheel tag {', '.join(tags)}", flush=True)
PY
}

# pytest on a copy of the suite, from outside the checkout, with the venv $1's Python.
run_suite() {
    rm -rf "$work/suite" && mkdir -p "$work/suite" && cp "$checkout"/tests/smoke/*.py "$work/suite/"
    (cd "$work" && IGNITE_FAST_SMOKE_PORT=$port IGNITE_FAST_SMOKE3_PORT=$port3 "$1/bin/python" -m pytest suite -q -p no:cacheprovider --durations=5 \
        -W "ignore::DeprecationWarning:gast.astn")  # TensorFlow's autograph on Python 3.13, not ours
}

main() {
    echo "wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB)"
    for version in "${versions[@]}"; do
        venv="$work/venv-$version"
        step "Python $version: fresh venv, pip install $(basename "$wheel")[tf]"
        python=$(find_python "$version")
        make_venv "$venv" "$python" "$wheel"
        if [ -z "$node_python" ]; then
            step "an Ignite node started by the installed package"
            node_python="$venv/bin/python"
            "$node_python" -m ignite_fast.server install
            "$node_python" -m ignite_fast.server start "${node[@]}" "${node_ports[@]}"
            step "an Ignite 3 node started by the installed package"
            "$node_python" -m ignite_fast.server install --ignite 3
            "$node_python" -m ignite_fast.server start "${node3[@]}" "${node3_ports[@]}"
        fi
        step "Python $version: the smoke suite"
        run_suite "$venv"
    done

    step "a clean clone, pip install <clone>[tf] (no wheel), Python ${versions[0]}"
    git clone --quiet "$checkout" "$work/clone"
    mkdir -p "$checkout/target/source-install"
    python=$(find_python "${versions[0]}")
    CARGO_TARGET_DIR="$checkout/target/source-install" make_venv "$work/venv-clone" "$python" "$work/clone"
    run_suite "$work/venv-clone"
    step "done"
}

# All of it in one function, read whole before it runs: editing this file meanwhile is harmless.
main
exit
