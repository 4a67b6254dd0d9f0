"""The package map of `docs/layout.md`, checked: import order, no import cycle, file length, no
outside references.

- A module of `pinet_tf` imports only from its own subpackage, from subpackages earlier in ORDER,
  or from `pinet_tf.config` (the shared vocabulary, importable everywhere; it imports nothing of
  the package but `pinet_tf.utils`, which has no model knowledge; the package root likewise). Imports inside functions (the lazy imports of the CLI verbs) obey the same
  rule: laziness buys start-up time, never a way around the order.
- No file in `pinet_tf/` or `benchmarks/` is longer than MAX_LINES, and neither has an import
  cycle between its own modules (lazy imports count too).
- No file of the repository points at the spec folder outside it (the docs live in `docs/`).
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "pinet_tf")
#: Subpackages (and top-level modules) in data-flow order: each may import only from earlier ones.
ORDER = ["utils", "config", "layers", "models", "datasets", "losses", "metrics", "training",
         "export", "serving", "inference", "evaluation", "cli"]
MAX_LINES = 400


def _modules(top=PACKAGE):
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), top)


def _unit(dotted: str):
    """`pinet_tf.models.io` -> "models"; `pinet_tf.config` -> "config"; others -> None."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "pinet_tf" and len(parts) > 1 else None


def _imports(rel: str):
    """(line, imported pinet_tf module) for every import in the file, lazy ones included."""
    path = os.path.join(PACKAGE, rel)
    package = ["pinet_tf"] + rel[:-3].split(os.sep)[:-1]  # the file's own package
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module == "pinet_tf":  # `from pinet_tf import datasets`: the names are modules
                for alias in node.names:
                    yield node.lineno, f"pinet_tf.{alias.name}"
            else:
                yield node.lineno, module


def _unit_of_file(rel: str) -> str:
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".py") else first


def test_every_package_has_a_place_in_the_order():
    units = {_unit_of_file(rel) for rel in _modules()} - {"__init__"}
    assert units == set(ORDER), f"add {sorted(units - set(ORDER))} to ORDER and docs/layout.md"


@pytest.mark.parametrize("rel", list(_modules()))
def test_imports_follow_the_order(rel):
    me = _unit_of_file(rel)
    wrong = []
    for line, module in _imports(rel):
        if module.split(".")[0] != "pinet_tf":
            continue
        target = _unit(module)
        if target is None:
            wrong.append(f"line {line}: {module} (the package root imports nothing)")
        if target is None or target == me:
            continue
        if me in ("__init__", "config"):
            if target != "utils":
                wrong.append(f"line {line}: {module} ({me} imports only pinet_tf.utils)")
        elif target != "config" and ORDER.index(target) > ORDER.index(me):
            wrong.append(f"line {line}: {module} ({target} comes after {me})")
    assert not wrong, f"pinet_tf/{rel} imports from further down: " + "; ".join(wrong)


@pytest.mark.parametrize("rel", [os.path.join("pinet_tf", rel) for rel in _modules()]
                         + [os.path.join("benchmarks", rel)
                            for rel in _modules(os.path.join(ROOT, "benchmarks"))])
def test_file_is_short(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        n = sum(1 for _ in f)
    assert n <= MAX_LINES, f"{rel}: {n} lines (> {MAX_LINES}): split it"


_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", "build", "dist", ".eggs"}
_OUTSIDE = ".." + "/" + "shared"  # written so that this file does not match itself


def test_nothing_points_outside_the_repository():
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.getsize(path) > 4 << 20:
                continue
            with open(path, "rb") as f:
                data = f.read()
            if b"\0" in data:  # binary
                continue
            for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if _OUTSIDE in line:
                    found.append(f"{os.path.relpath(path, ROOT)}:{i}")
    assert not found, f"point at docs/NAME.md instead: {found}"


def _import_graph(top: str) -> dict:
    """module -> the modules of `top` (a folder of ROOT) it imports, lazy imports included;
    `from a.b import c` counts as an import of `a.b.c` when that is a module."""
    files = {}
    for rel in _modules(os.path.join(ROOT, top)):
        dotted = ".".join([top] + rel[:-3].split(os.sep))
        files[dotted.removesuffix(".__init__")] = os.path.join(ROOT, top, rel)
    graph = {}
    for module, path in files.items():
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1] if node.level else []
                source = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    name = f"{source}.{alias.name}"
                    deps.add(name if name in files else source)
        graph[module] = {d for d in deps if d in files and d != module}
    return graph


def _cycle(graph: dict):
    """One import cycle of `graph` as a list of modules, or None (depth-first, three colours)."""
    state, trail = {}, []

    def visit(module):
        state[module] = "open"
        trail.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                return trail[trail.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[module] = "done"
        trail.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("top", ["pinet_tf", "benchmarks"])
def test_no_import_cycle(top):
    graph = _import_graph(top)
    assert len(graph) > 10 and any(graph.values())  # the graph was read
    cycle = _cycle(graph)
    assert cycle is None, f"{top}: import cycle " + " -> ".join(cycle)
