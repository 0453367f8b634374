# One-command set-up and runs. Everything installs into the project: a virtual environment
# (.venv), the Rust extension (built in release mode into it), and the Ignite jars (build/ignite).
#   make demo    set up, start a local Ignite node, load digits, train from IgniteDataset, stop
#   make lint    ruff (rules and format), mypy on the package, stubtest of the extension's stubs,
#                cargo fmt --check, clippy -D warnings
#   make test    lint, set up, cargo test, the pytest suite against real Ignite nodes, part of it
#                again on older Ignite 2.x releases (make test-compat), then the installed-package
#                smoke suite (make test-smoke)
#   make wheel   the wheel users install (abi3, manylinux_2_28) and the sdist, into dist/
#   make bench   set up, run the headline benchmarks (benches/; make bench-all: every one)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export IGNITE_FAST_HOME ?= $(CURDIR)/build/ignite
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
# TensorFlow's start-up chatter about CPUs and GPUs hides the output that matters.
export TF_CPP_MIN_LOG_LEVEL ?= 2

RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := $(VENV)/.extension-built
JARS_STAMP := $(IGNITE_FAST_HOME)/.jars-installed
JARS3_STAMP := $(IGNITE_FAST_HOME)/.jars3-installed
# The compatibility tier: other Ignite 2.x releases that part of the suite runs against (the pin,
# server.IGNITE_VERSION, runs all of it): every binary type (Java-written), SQL, scans one partition
# at a time and in parallel over three nodes, resumable scans, put_batches, Arrow, IGFS, TLS and
# authentication. 2.18.0 runs SQL on Calcite (server.py). Ignite 3.0.0 cannot start here: most of
# its modules are not on Maven Central.
COMPAT_VERSIONS := 2.14.0 2.16.0 2.18.0
COMPAT_TESTS := tests/node/test_scan.py tests/node/test_sql.py tests/node/test_writer.py \
	tests/node/test_java_oracle.py tests/node/test_read_pyignite.py tests/node/test_tls.py tests/node/test_auth.py \
	tests/node/test_string_columns.py tests/node/test_arrow.py tests/node/test_resumable_scan.py \
	tests/igfs/test_igfs.py tests/cluster/test_partitions.py

.PHONY: setup demo lint lint-stubs test test-rust test-python test-compat wheel test-smoke bench bench-all bench-baseline bench-compare clean

setup: $(BUILD_STAMP) $(JARS_STAMP) $(JARS3_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Python packages: the build tools (maturin; zig links the manylinux wheel of make wheel), then the
# run-time, TensorFlow, test and lint dependencies (ruff to one minor version: its formatter's style
# moves between minor versions; pyignite_dbapi, Ignite 3's own DB-API driver, is the Ignite 3 tests'
# independent writer, pinned to the version of the nodes).
$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.7,<2" "ziglang>=0.13" "numpy>=1.26" "tqdm>=4.66" "tensorflow>=2.16" \
		"pytest>=8" "pytest-benchmark>=4" "pytest-timeout>=2" "pyignite==0.6.1" "pyignite_dbapi==3.1.0" \
		"scikit-learn>=1.3" \
		"hypothesis>=6" "pyarrow>=15" "pandas>=2" "cryptography>=42" "matplotlib>=3.8" \
		"fsspec>=2023.1" "tensorboard>=2.16" "torch>=2.2" "torchdata>=0.10" "ray[data,train]>=2.60" \
		"ruff>=0.17,<0.18" "mypy>=2.4"
	touch $@

# The extension module, in release mode (lto, one codegen unit), installed editable. It is also
# TensorFlow's igfs:// plugin (one shared object). Extensions of older builds (per-version names,
# the former separate plugin) would shadow or confuse it: they go first.
$(BUILD_STAMP): $(DEPS_STAMP) $(RUST_SOURCES) pyproject.toml
	rm -f python/ignite_fast/_native.cpython-*.so python/ignite_fast/libignite_fast_tf_fs.so
	$(VENV)/bin/maturin develop --release --quiet
	touch $@

# The pinned Ignite 2.x release, and the older ones of the compatibility tier (test-compat).
$(JARS_STAMP): python/ignite_fast/server.py python/ignite_fast/ignite-jars.pom.xml Makefile | $(BUILD_STAMP)
	$(PY) -m ignite_fast.server install
	for version in $(COMPAT_VERSIONS); do $(PY) -m ignite_fast.server install --version $$version || exit 1; done
	mkdir -p $(dir $@) && touch $@

# Ignite 3 (ignite-runner and its dependencies; the pom is a string in server_ignite3.py).
$(JARS3_STAMP): python/ignite_fast/server_ignite3.py | $(BUILD_STAMP)
	$(PY) -m ignite_fast.server install --ignite 3
	mkdir -p $(dir $@) && touch $@

demo: setup
	$(PY) -m ignite_fast.demo

# Lint needs the Python tools (mypy reads the extension's stubs, _native.pyi, not the build), and,
# for lint-stubs, the built extension.
lint: $(DEPS_STAMP) lint-stubs
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy
	cargo fmt --all --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings

# The stubs against the extension itself: names, classes, signatures and defaults of _native.pyi
# (pyo3 gives each function its text signature).
lint-stubs: $(BUILD_STAMP)
	$(PY) -m mypy.stubtest ignite_fast._native

test: lint setup test-rust test-python test-compat test-smoke

# The Ignite 3 wire tests (rust/ignite-core/tests/ignite3_wire.rs) talk to a real node: one is
# started for them through the project's launcher (ports apart from the pytest fixtures') and
# stopped afterwards, whatever the tests' outcome.
IGNITE3_CARGO := --ignite 3 --name cargo-ignite3
test-rust: setup
	$(PY) -m ignite_fast.server start $(IGNITE3_CARGO) --port 10990 --network-port 3396 --rest-port 10356 --heap-mb 768
	IGNITE3_ADDR=127.0.0.1:10990 cargo test --quiet -p ignite-core -p ignite-tf-fs; \
		status=$$?; $(PY) -m ignite_fast.server stop --name cargo-ignite3; exit $$status

# tests/smoke is not for this venv: it tests an installed wheel (test-smoke).
test-python: setup
	$(PY) -m pytest tests --ignore=tests/smoke -v --durations=15

# The session nodes of each run are of that release (tests/node_fixtures.py reads the variable).
test-compat: setup
	for version in $(COMPAT_VERSIONS); do \
		IGNITE_FAST_TEST_IGNITE_VERSION=$$version $(PY) -m pytest $(COMPAT_TESTS) -v || exit 1; \
	done

# The wheel: one abi3 wheel for CPython 3.11+ holding the extension, which is also TensorFlow's
# igfs:// plugin. Zig links it against glibc 2.28, so it runs on older Linux than this machine's
# and carries a manylinux_2_28 tag. --sdist builds the sdist first and the wheel from it (so the
# sdist is shown to build); release profile: fat LTO, one codegen unit. Its own target directory:
# zig's compiler settings would otherwise rebuild the editable extension's artefacts each time.
WHEEL_GLOB := dist/ignite_fast-*-cp311-abi3-manylinux_2_28_x86_64.whl
wheel: $(DEPS_STAMP)
	rm -rf dist
	$(VENV)/bin/maturin build --release --sdist --zig --compatibility manylinux_2_28 \
		--target-dir target/wheel --out dist
	@ls -l dist

# The installed-package smoke suite (tests/smoke/run.sh): the wheel in fresh venvs outside the
# checkout on each Python version, a node the installed package starts, and a pip install of a
# clean clone. The jars of make setup are reused (IGNITE_FAST_HOME).
SMOKE_PYTHONS ?= 3.11 3.12 3.13
test-smoke: wheel $(JARS_STAMP)
	tests/smoke/run.sh $(WHEEL_GLOB) $(SMOKE_PYTHONS)

# Benchmarks: JSON in benches/results, a table on the terminal. make bench: the headline figures
# (decode against the raw page reader, resuming at 90% of an epoch, their peers; about ten
# minutes); make bench-all: every benchmark (throughput of every scenario and reader on one and
# three nodes, memory, workers, IGFS, Ray, torchrun) and the PNG chart beside the JSON.
BENCH_ARGS := benches --benchmark-only --benchmark-columns=min,median,max,rounds -q
bench: setup
	mkdir -p benches/results
	$(PY) -m pytest $(BENCH_ARGS) -m headline --benchmark-json=benches/results/headline.json
	$(PY) benches/report.py benches/results/headline.json
bench-all: setup
	mkdir -p benches/results
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-json=benches/results/latest.json
	$(PY) benches/report.py benches/results/latest.json benches/results/throughput.png

# Regression mode: save a baseline once, then compare; a best round slower by more than 30% fails
# (the minimum: this shared 2-core machine moves medians of short runs by 40% between runs).
bench-baseline: setup
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-save=baseline
bench-compare: setup
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-compare --benchmark-compare-fail=min:30%

clean:
	rm -rf $(VENV) build target dist
