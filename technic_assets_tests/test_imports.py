"""The package's shape, read from its own imports: no import circles, and every arrow between rooms
(the top-level modules and packages of technic_assets) points down the floors below. A new circle, or a
lower room reaching up (core importing the store, a source importing the resources), fails here with
the import that does it. Imports inside functions count the same as those at the top: a circle dodged
by a late import is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "technic_assets"

# Bottom to top; a room may import only from rooms on lower floors (and from itself).
FLOORS = [
    {"errors", "core", "output", "charts"},                       # pure computation and formatting
    {"config", "storage"},                                        # the settings; the store
    {"environment", "market", "screens", "lineage", "alerts", "rescreen", "blend_history"},  # sources, user files, store readers
    {"track"},                                                    # a track record read from the store
    {"resources", "partitions", "backfill", "distributed", "instance"},  # Dagster's resources, partitions, instance
    {"assets"},                                                   # the graph's wiring
    {"backtest", "plan", "live", "schedules", "sensors", "jobs", "run_metrics"},
    {"alert_sensors"},                                            # the alerts' sensors use the run sensor's words
    {"definitions"},
    {"cli"},
    {"__init__"},
]

# Inside the cli room, the same rule one level down: the helpers several commands share, then the
# scan's in-process run and the request plan (which `scan` prints first), then one module per
# subcommand, none importing another, then the parser that gathers them (the package itself).
CLI_FLOORS = [
    {"progress", "dates", "stored", "options"},
    {"run", "plan"},
    {"scan", "top", "why", "export", "backtest", "serve", "watch", "worker", "backfill"},
    {"cli"},
    {"__main__"},
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 2:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import of the package in the file, wherever it sits."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                out.append((target, node.lineno))
    return out


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, list[tuple[str, int]]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_circle_and_an_arrow_up():
    """The checker itself, on a hand-made graph: a -> b -> c -> a is one circle; d alone is none."""
    edges = {"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1)], "d": [("a", 1)]}
    assert circles(edges) == [["a", "b", "c"]]
    floor = {r: i for i, rooms in enumerate(FLOORS) for r in rooms}
    assert floor[room("technic_assets.core.scoring")] < floor[room("technic_assets.assets.scores")]


def test_no_import_circles():
    assert circles(graph()) == []


def test_every_room_has_a_floor_and_imports_only_from_below():
    floor = {r: i for i, rooms in enumerate(FLOORS) for r in rooms}
    edges = graph()
    unplaced = sorted({room(m) for m in edges} - set(floor))
    assert not unplaced, f"rooms without a floor in FLOORS: {unplaced}"
    upward = [f"{PACKAGE.parent / m.replace('.', '/')}.py:{line}: {m} imports {t}"
              for m, targets in edges.items() for t, line in targets
              if room(m) != room(t) and floor[room(t)] >= floor[room(m)]]
    assert upward == []


def test_the_core_imports_nothing_outside_itself_and_no_dagster():
    """The core is pure: the assets, the live engine, the backtest and the benchmarks can all call it."""
    found = []
    for name, path in modules().items():
        if room(name) != "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{name}: {m}" for m in mods
                      if m.split(".")[0] == "dagster" or (m.startswith("technic_assets.") and room(m) != "core")]
    assert found == []


def test_the_cli_commands_import_only_the_shared_helpers_below_them():
    """One module per subcommand: a command reaching into another (or the helpers into a command) would
    make the split a tangle again."""
    floor = {m: i for i, mods in enumerate(CLI_FLOORS) for m in mods}
    edges = {m: targets for m, targets in graph().items() if room(m) == "cli"}
    short = {m: m.split(".")[-1] for m in edges}
    unplaced = sorted(set(short.values()) - set(floor))
    assert not unplaced, f"cli modules without a floor in CLI_FLOORS: {unplaced}"
    upward = [f"{m}:{line} imports {t}" for m, targets in edges.items() for t, line in targets
              if room(t) == "cli" and floor[short[t]] >= floor[short[m]]]
    assert upward == []
