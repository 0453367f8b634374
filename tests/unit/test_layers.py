"""The package's import rules, read from its source with `ast` (nothing is imported):

- every module has a layer in LAYERS, and imports only modules of its own layer or lower ones;
- no import cycle, counting imports inside functions and under TYPE_CHECKING;
- the two generations' rooms (``ignite2/``, ``ignite3/``) never import each other, not even
  through a shared module between them: only modules outside both (``client``, the faces) may
  know both;
- no module uses another module's private name (`from .x import _name`, `x._name`). A module whose
  own name starts with `_` is package-internal: importing it is fine, and its public names are public.

A new module fails the check until it is given a layer here: place it deliberately.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "ignite_fast"
SOURCE = Path(__file__).resolve().parents[2] / "python" / PACKAGE

# Module (dotted, relative to the package; "__init__" is the package itself) -> layer.
LAYERS = {
    # 0: the Rust extension
    "_native": 0,
    # 1: base
    "errors": 1,
    "_options": 1,  # addresses, TLS options, argument checks, decode arguments
    "columns": 1,  # the one owner of the native column contract
    "arrow": 1,  # column -> Arrow conversion
    "_progress": 1,  # progress bars (tqdm) and when they show
    "_write_columns": 1,  # numpy columns as the native writers take them
    "_node_process": 1,  # what the node launchers share: Maven, pid files, signals
    "position": 1,  # scan positions (serialised, checked) and key fingerprints
    # 2: plumbing
    "_sizing": 2,  # page and batch sizes, both generations
    "ignite2.nodes": 2,  # Ignite 2's per-node connections
    # 3: reading and writing
    "parallel": 3,  # the one fan-out of partition-parallel reads; merging small batches
    "reading": 3,  # partition reading both generations share (cursors, partitions=, read tasks)
    "writing": 3,  # the put loop both generations share
    "resumable": 3,  # resumable scans of both generations: positions kept, resumed, checked
    "sharding": 3,  # shard plans and the one shard formula
    "ignite2.partition_scan": 3,  # Ignite 2's partition-parallel scans (failover, no gaps)
    "ignite2.reading": 3,  # the one function that chooses how a selection of a cache is read
    "ignite2.plans": 3,  # Ignite 2's shard plans (the counting pass)
    "ignite3.types": 3,  # Ignite 3's SQL type text
    "ignite3.reading": 3,  # Ignite 3's partition reads (WHERE __part IN)
    "ignite3.writing": 3,  # columns made ready for Ignite 3's writer
    # 4: the clients
    "source": 4,  # the source protocol both generations' clients satisfy
    "ignite2.client": 4,  # the Ignite 2 client
    "ignite2": 4,
    "ignite3.client": 4,  # the Ignite 3 client
    "ignite3": 4,
    "client": 4,  # the public Client: Ignite 2's, or Ignite 3's with ignite=3
    # 5: faces
    "tf": 5,
    "tf.dataset": 5,
    "tf.specs": 5,
    "tf.resume": 5,  # checkpointable iterator state of IgniteDataset (issue 25)
    "keras": 5,  # Keras callbacks (the dataset's position saved with the weights)
    "tf.gfile": 5,
    "tf.igfs_ops": 5,  # registers igfs:// on import, as the original's igfs_ops did
    "tf.tensorboard_cli": 5,  # ignite-fast tensorboard
    "_faces": 5,  # what the faces share: the options a client's scan takes
    "pytorch": 5,
    "igfs": 5,
    "igfs_fsspec": 5,
    "fs_cli": 5,
    "distributed": 5,  # training workers under an engine: the public names of the modules below
    "distributed.hosts": 5,  # whether an address is this machine's
    "distributed.context": 5,  # who this worker is, from the engine's environment
    "distributed.home": 5,  # the Ignite node on this worker's machine
    "distributed.topology": 5,  # the topology watch, the exit status that restarts a job
    "distributed.records": 5,  # plan records where there is no collective
    "distributed.plans": 5,  # one shard plan per attempt
    "distributed.tf_config": 5,  # TF_CONFIG from torchrun's rendezvous
    "cli": 5,
    "demo": 5,
    "ray": 5,
    "server": 5,  # the node starter: standalone
    "server_ignite3": 5,  # the Ignite 3 node starter (server's --ignite 3): standalone
    # 6: the package's own namespace
    "__init__": 6,
}


@dataclass(frozen=True)
class Import:
    """One use of another module: `source` imports `target` at `line` (`name` when it is a name
    taken from the target rather than the module itself)."""

    source: str
    target: str
    line: int
    name: str | None = None

    def where(self) -> str:
        return f"{module_path(self.source)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()  # a subpackage is named by its folder
    return ".".join(parts)


def module_path(module: str) -> str:
    for path in _sources():
        if module_name(path) == module:
            return str(path.relative_to(SOURCE.parents[1]))
    return module


@functools.cache
def _sources() -> tuple[Path, ...]:
    """The package's modules: its .py files, and the .pyi stubs of compiled modules (no .py)."""
    files = sorted(SOURCE.rglob("*.py"))
    stubs = [p for p in sorted(SOURCE.rglob("*.pyi")) if not p.with_suffix(".py").exists()]
    return tuple(files + stubs)


@functools.cache
def modules() -> frozenset[str]:
    return frozenset(module_name(p) for p in _sources())


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _package_of(module: str, path: Path) -> str:
    """The package a module's relative imports start from ("" for the top level)."""
    if path.name == "__init__.py":
        return "" if module == "__init__" else module
    return module.rpartition(".")[0]


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _as_module(dotted: str) -> str:
    return dotted or "__init__"


def _resolve_from(package: str, node: ast.ImportFrom) -> str | None:
    """The dotted name (relative to the package) an ImportFrom reads from; None if outside."""
    if node.level == 0:
        if node.module is None or not (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
            return None
        return node.module[len(PACKAGE) + 1 :]
    base = package.split(".") if package else []
    up = node.level - 1
    if up > len(base):
        raise AssertionError(f"relative import above the package in {package or PACKAGE}")
    base = base[: len(base) - up]
    return _join(".".join(base), node.module or "")


@dataclass
class ModuleUses:
    imports: list[Import]
    private_uses: list[tuple[int, str, str]]  # (line, the expression, the module that owns the name)


@functools.cache
def _uses(path: Path) -> ModuleUses:
    source = module_name(path)
    package = _package_of(source, path)
    tree = ast.parse(path.read_text(), str(path))
    imports: list[Import] = []
    bound: dict[str, str] = {}  # a local name -> the package module ("x") or name ("x:Name") it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    target = _as_module(alias.name[len(PACKAGE) + 1 :])
                    imports.append(Import(source, target, node.lineno))
                    if alias.asname:
                        bound[alias.asname] = target
                    else:
                        bound[PACKAGE] = "__init__"
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve_from(package, node)
            if origin is None:
                continue
            for alias in node.names:
                submodule = _join(origin, alias.name)
                if submodule in modules():  # `from . import x`: the module x itself
                    imports.append(Import(source, submodule, node.lineno))
                    bound[alias.asname or alias.name] = submodule
                else:  # a name defined in the module `origin`
                    imports.append(Import(source, _as_module(origin), node.lineno, alias.name))
                    bound[alias.asname or alias.name] = f"{_as_module(origin)}:{alias.name}"
    private_uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = _imported_owner(node.value, bound)
            if owner is not None and owner != source:
                private_uses.append((node.lineno, ast.unparse(node), owner))
    return ModuleUses(imports, private_uses)


def _imported_owner(value: ast.expr, bound: dict[str, str]) -> str | None:
    """The package module that owns what `value` names, if it was imported from the package (a
    module, `ignite_fast.x.y`, or a class or function taken from a module); None for anything
    else (self, locals, other libraries)."""
    chain = []
    while isinstance(value, ast.Attribute):
        chain.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name) or value.id not in bound:
        return None
    owner = bound[value.id]
    if ":" in owner:  # a name taken from a module: that module owns its members
        return owner.partition(":")[0]
    # a module: follow attributes while they name submodules (ignite_fast.tf.dataset._x)
    dotted = "" if owner == "__init__" else owner
    for attr in reversed(chain):
        if _join(dotted, attr) not in modules():
            break
        dotted = _join(dotted, attr)
    return _as_module(dotted)


def all_imports() -> list[Import]:
    return [i for path in _sources() for i in _uses(path).imports]


def test_the_package_is_where_the_check_looks():
    assert {"__init__", "client", "columns"} <= modules(), sorted(modules())


def test_every_module_has_a_layer():
    missing = sorted(modules() - LAYERS.keys())
    assert not missing, f"modules without a layer (add them to LAYERS in {Path(__file__).name}): {missing}"


def test_imports_name_modules_of_the_layer_order():
    unknown = [f"{i.where()}: imports {i.target!r}" for i in all_imports() if i.target not in LAYERS]
    assert not unknown, "imports of modules outside the layer order:\n" + "\n".join(unknown)


def test_imports_go_down_the_layers():
    upward = [
        f"{i.where()}: {i.source} (layer {LAYERS[i.source]}) imports {i.name or 'the module'} from "
        f"{i.target} (layer {LAYERS[i.target]})"
        for i in all_imports()
        if i.source in LAYERS and i.target in LAYERS and LAYERS[i.target] > LAYERS[i.source]
    ]
    assert not upward, "imports that go up the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for i in all_imports():
        if i.target in graph and i.target != i.source:
            graph[i.source].add(i.target)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    described = []
    for cycle in cycles:
        edges = sorted({(i.where(), i.source, i.target) for i in all_imports() if {i.source, i.target} <= set(cycle)})
        described.append(" <-> ".join(cycle) + "\n" + "\n".join(f"  {w}: {s} -> {d}" for w, s, d in edges))
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(described)


def test_no_private_names_across_modules():
    found = [
        f"{i.where()}: from {i.target} import {i.name}"
        for i in all_imports()
        if i.name is not None and _is_private(i.name) and i.target != i.source
    ]
    for path in _sources():
        for line, expression, owner in _uses(path).private_uses:
            found.append(f"{module_path(module_name(path))}:{line}: {expression} (a private name of {owner})")
    assert not found, "private names used across modules:\n" + "\n".join(found)


# The two generations' rooms: neither reaches the other, directly or through any module between.
GENERATIONS = ("ignite2", "ignite3")


def generation(module: str) -> str | None:
    """The generation whose room ``module`` is in (None for the shared modules and the faces)."""
    room = module.partition(".")[0]
    return room if room in GENERATIONS else None


def generation_crossings(imports: list[Import]) -> list[str]:
    """Every module of one generation that reaches a module of the other through ``imports``
    (directly, or through shared modules: what it imports imports), with the path."""
    graph: dict[str, list[Import]] = {}
    for i in imports:
        graph.setdefault(i.source, []).append(i)
    found = []
    for start in sorted(graph):
        mine = generation(start)
        if mine is None:
            continue
        # Breadth first, so the path named is a shortest one.
        paths: dict[str, list[Import]] = {start: []}
        frontier = [start]
        while frontier:
            following = []
            for module in frontier:
                for i in sorted(graph.get(module, []), key=lambda i: (i.target, i.line)):
                    if i.target in paths:
                        continue
                    paths[i.target] = [*paths[module], i]
                    other = generation(i.target)
                    if other is not None and other != mine:
                        hops = " -> ".join(f"{step.target} ({step.where()})" for step in paths[i.target])
                        found.append(f"{start} ({mine}) reaches {i.target} ({other}): {start} -> {hops}")
                        continue
                    following.append(i.target)
            frontier = following
    return found


def test_the_generations_never_import_each_other():
    crossings = generation_crossings(all_imports())
    assert not crossings, (
        "a generation's room imports the other's (ignite2/ and ignite3/ share only modules outside both; "
        "imports inside functions and under TYPE_CHECKING count):\n" + "\n".join(crossings)
    )


def test_the_generation_rule_sees_a_crossing():
    """The rule on made-up imports: direct, inside a function (any line), and through a shared module."""
    direct = [Import("ignite2.client", "ignite3.types", 10, "type_text")]
    through_shared = [Import("ignite3.reading", "reading", 1), Import("reading", "ignite2.nodes", 99)]
    allowed = [Import("client", "ignite2", 1), Import("client", "ignite3", 2), Import("ignite2.client", "reading", 3)]
    assert generation_crossings(allowed) == []
    assert len(generation_crossings(direct)) == 1
    (crossing,) = generation_crossings(through_shared)
    assert crossing.startswith("ignite3.reading (ignite3) reaches ignite2.nodes (ignite2)")


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components
