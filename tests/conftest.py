"""The tests' fixtures, loaded for every tier. They live in modules of their own so that
benches/conftest.py can reuse them:
- node_fixtures.py: the session node, the three-node cluster, the authenticating node, pyignite
  writers and the Java all-types writer;
- tls_fixtures.py: the test CA and the TLS and mutual-TLS nodes.

The tiers: unit/ (no JVM: `pytest tests/unit` needs no Ignite), node/ (the session node),
cluster/ (three nodes), tf/ (TensorFlow), igfs/ (the igfs:// file system and its faces).
"""

pytest_plugins = ["node_fixtures", "tls_fixtures"]

# tests/smoke runs against an installed wheel in a venv of its own (make test-smoke), never here.
collect_ignore = ["smoke"]
