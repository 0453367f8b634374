# One-command set-up and runs. Everything installs into the project: a virtual environment
# (.venv), the Rust extension (built in release mode into it), and the Ignite jars (build/ignite).
#   make demo    set up, start a local Ignite node, load digits, train from IgniteDataset, stop
#   make lint    ruff (rules and format), mypy on the package, cargo fmt --check, clippy -D warnings
#   make test    lint, set up, cargo test, then the pytest suite against real Ignite nodes
#   make bench   set up, run the benchmark smoke (benches/)

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

.PHONY: setup demo lint test test-rust test-python bench bench-baseline bench-compare clean

setup: $(BUILD_STAMP) $(JARS_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Python packages: the build tool, then the run-time, TensorFlow, test and lint dependencies (ruff to
# one minor version: its formatter's style moves between minor versions).
$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.7,<2" "numpy>=1.26" "tqdm>=4.66" "tensorflow>=2.16" \
		"pytest>=8" "pytest-benchmark>=4" "pytest-timeout>=2" "pyignite==0.6.1" "scikit-learn>=1.3" \
		"hypothesis>=6" "pyarrow>=15" "pandas>=2" "cryptography>=42" "matplotlib>=3.8" \
		"fsspec>=2023.1" "tensorboard>=2.16" "torch>=2.2" "ruff>=0.17,<0.18" "mypy>=2.4"
	touch $@

# The extension module, in release mode (lto, one codegen unit), installed editable. It is also
# TensorFlow's igfs:// plugin (one shared object). Extensions of older builds (per-version names,
# the former separate plugin) would shadow or confuse it: they go first.
$(BUILD_STAMP): $(DEPS_STAMP) $(RUST_SOURCES) pyproject.toml
	rm -f python/ignite_fast/_native.cpython-*.so python/ignite_fast/libignite_fast_tf_fs.so
	$(VENV)/bin/maturin develop --release --quiet
	touch $@

$(JARS_STAMP): python/ignite_fast/server.py python/ignite_fast/ignite-jars.pom.xml | $(BUILD_STAMP)
	$(PY) -m ignite_fast.server install
	mkdir -p $(dir $@) && touch $@

demo: setup
	$(PY) -m ignite_fast.demo

# Lint needs only the Python tools (mypy reads the extension's stubs, _native.pyi, not the build).
lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy
	cargo fmt --all --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings

test: lint setup test-rust test-python

test-rust:
	cargo test --quiet -p ignite-core -p ignite-tf-fs

test-python: setup
	$(PY) -m pytest tests -v --durations=15

# Benchmarks: JSON in benches/results, a table on the terminal, a PNG chart beside the JSON.
BENCH_ARGS := benches --benchmark-only --benchmark-columns=min,median,max,rounds -q
bench: setup
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
	rm -rf $(VENV) build target
