"""The import graph, computed from the source: no import circle between modules, no arrow against
the layers between packages, Dagster only where the layers allow it.

The graph is read with `ast` from every module of every top-level package of the project
(`pco_pipeline`, `pco_sandbox`, `pco_reference`, and any package added beside them; the tests and
the benchmarks exercise everything and are not layered). An import of `a.b.c` is an arrow to the
module `a.b.c` — not to the packages `a` and `a.b` whose `__init__` Python runs first (counting
those would make every package that re-exports its modules a circle). Every import counts: at
module level, inside a function, and under `if TYPE_CHECKING:` — a lazy or type-only import is
still a dependency, and hiding a circle in one is how the sandbox's used to look acceptable.

The layer table (`LAYERS`) is the one statement of the rules; a violation the code has today is
listed in `KNOWN_VIOLATIONS` with its issue, so any new one fails.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_LAYERED = frozenset({"pco_pipeline_tests", "bench"})  # tests and benchmarks may import anything

# Component -> the components it may import (its own modules always). A component is a package of
# pco_pipeline (`pco_pipeline.sync`), a top-level module of it (`pco_pipeline.cli`), the root
# `pco_pipeline` (its __init__), or another top-level package (`pco_sandbox`).
LAYERS: dict[str, frozenset[str]] = {
    # PCO's API reference as data: read by the sandbox and the pipeline alike, so it imports neither.
    "pco_reference": frozenset(),
    # The PCO simulator stands alone: it reads PCO's reference, and nothing of pco_pipeline.
    "pco_sandbox": frozenset({"pco_reference"}),
    # The root package holds only __version__; paths knows where files live. Both are the floor.
    "pco_pipeline": frozenset(),
    "pco_pipeline.paths": frozenset(),
    # pco/ is the lowest layer of the pipeline: the HTTP client, obeying PCO's reference.
    "pco_pipeline.pco": frozenset({"pco_pipeline", "pco_reference"}),
    # db/ (engine, migrations, embedded server) is below sync/ and knows nothing of PCO.
    "pco_pipeline.db": frozenset({"pco_pipeline", "pco_pipeline.paths"}),
    # Staff accounts and tokens: stored in the database, nothing else.
    "pco_pipeline.accounts": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.db"}),
    # sync/ holds the domain rules over pco/ and db/; no Dagster.
    "pco_pipeline.sync": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_reference", "pco_pipeline.pco",
                                    "pco_pipeline.db"}),
    # The webhook receiver: authenticates PCO's deliveries and hands them to sync/'s inbox.
    "pco_pipeline.webhooks": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.pco",
                                        "pco_pipeline.db", "pco_pipeline.sync"}),
    # The internal read API: behind accounts' tokens, reads what sync/ keeps, served like the receiver.
    "pco_pipeline.api": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.pco", "pco_pipeline.db",
                                   "pco_pipeline.sync", "pco_pipeline.accounts", "pco_pipeline.webhooks"}),
    # The staff console: the internal API's access rules and listener pieces, accounts' sign-in, what sync/
    # keeps; it launches the code location's jobs (defs/ names them) through the Dagster webserver.
    "pco_pipeline.console": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.pco", "pco_pipeline.db",
                                       "pco_pipeline.sync", "pco_pipeline.accounts", "pco_pipeline.webhooks",
                                       "pco_pipeline.api", "pco_pipeline.defs"}),
    # defs/ is Dagster over sync/: assets, jobs, checks, sensors and the resources they use.
    "pco_pipeline.defs": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_reference", "pco_pipeline.pco",
                                    "pco_pipeline.db", "pco_pipeline.sync"}),
    # Corrections to the pinned Dagster, loaded by definitions.py: Dagster only.
    "pco_pipeline.dagster_fixes": frozenset(),
    # The code location: loads defs/ (and the Dagster corrections) lazily.
    "pco_pipeline.definitions": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.defs",
                                           "pco_pipeline.dagster_fixes"}),
    # Launching and controlling runs outside the UI: the code location, the database, nothing of sync/.
    "pco_pipeline.runs": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_pipeline.db",
                                    "pco_pipeline.definitions"}),
    # The demo church's own database and the matcher's answer key, built on the sandbox's seeded
    # organization (SANDBOX_IMPORTERS says through which module) with sync/'s normalization.
    "pco_pipeline.demo_data": frozenset({"pco_pipeline", "pco_pipeline.sync"}),
    # The CLI's commands sit on top of everything in pco_pipeline (pco_sandbox: SANDBOX_IMPORTERS).
    "pco_pipeline.commands": frozenset({"pco_pipeline", "pco_pipeline.paths", "pco_reference", "pco_pipeline.pco",
                                        "pco_pipeline.db", "pco_pipeline.accounts", "pco_pipeline.sync",
                                        "pco_pipeline.webhooks", "pco_pipeline.api", "pco_pipeline.console",
                                        "pco_pipeline.defs",
                                        "pco_pipeline.definitions", "pco_pipeline.runs", "pco_pipeline.demo_data"}),
    # The entry point only dispatches to the commands.
    "pco_pipeline.cli": frozenset({"pco_pipeline", "pco_pipeline.commands", "pco_pipeline.db"}),
}

# The only pipeline modules that may import pco_sandbox, and which of its modules (None: any).
# The commands start a sandbox; the demo data reads its seeded organization through pco_sandbox.seed.
SANDBOX_IMPORTERS: dict[str, frozenset[str] | None] = {
    "pco_pipeline.commands.sandbox": None,
    "pco_pipeline.commands.demo": None,
    "pco_pipeline.commands.ui": None,
    "pco_pipeline.demo_data": frozenset({"pco_sandbox.seed"}),
    "pco_pipeline.demo_data.local": frozenset({"pco_sandbox.seed"}),
}

# Dagster is imported only by these components, and by the commands that launch runs.
DAGSTER_COMPONENTS = frozenset({"pco_pipeline.defs", "pco_pipeline.runs", "pco_pipeline.definitions",
                                "pco_pipeline.dagster_fixes"})
DAGSTER_LAUNCHERS = frozenset({"pco_pipeline.commands.demo", "pco_pipeline.commands.jobs",
                               "pco_pipeline.commands.push", "pco_pipeline.commands.runs",
                               "pco_pipeline.commands.sync", "pco_pipeline.commands.ui",
                               "pco_pipeline.console.launch"})

# Arrows the code has today that the layers forbid: (importer, imported) -> the issue fixing them.
# Fixing one fails test_no_arrow_against_the_layers until its line here is deleted.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Arrow:
    importer: str  # module name
    imported: str  # a module of the project, or the top-level name of a library
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def project_packages(root: Path) -> list[str]:
    """The top-level packages under `root` whose modules are layered."""
    return sorted(path.name for path in root.iterdir()
                  if (path / "__init__.py").is_file() and path.name not in NOT_LAYERED)


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> source file, for every module of `packages` (a package is its __init__)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def arrows(modules: Mapping[str, Path]) -> list[Arrow]:
    """Every import in every module, resolved to a project module (else the library's top name)."""

    def target(name: str) -> str:
        candidate = name
        while candidate and candidate not in modules:
            candidate = candidate.rpartition(".")[0]
        return candidate or name.split(".")[0]

    found: list[Arrow] = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [Arrow(module, target(alias.name), node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:  # `from a import b`: the module a.b when there is one
                    name = f"{base}.{alias.name}"
                    found.append(Arrow(module, name if name in modules else target(base), node.lineno))
    return list(dict.fromkeys(arrow for arrow in found if arrow.importer != arrow.imported))


def component(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "pco_pipeline" else parts[0]


def import_circles(modules: Mapping[str, Path], found: Iterable[Arrow]) -> list[list[str]]:
    """The modules that import each other, directly or round a loop (strongly connected sets > 1)."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for arrow in found:
        if arrow.imported in modules:
            graph[arrow.importer].add(arrow.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in graph:  # Tarjan's algorithm, iterative (the graph is deep enough for recursion limits)
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        circles.append(sorted(members))
    return sorted(circles)


def layer_violations(modules: Mapping[str, Path], found: Iterable[Arrow]) -> list[tuple[Arrow, str]]:
    """Each arrow between project components the layer rules forbid, with the rule it breaks."""
    violations: list[tuple[Arrow, str]] = []
    for arrow in found:
        if arrow.imported not in modules:  # a library: only Dagster is placed (dagster_violations)
            continue
        source, destination = component(arrow.importer), component(arrow.imported)
        if source == destination:
            continue
        if destination == "pco_sandbox" and source.startswith("pco_pipeline"):
            if arrow.importer not in SANDBOX_IMPORTERS:
                violations.append((arrow, "pco_pipeline imports pco_sandbox only in the commands that start "
                                          "it and the demo data (SANDBOX_IMPORTERS)"))
            elif (allowed := SANDBOX_IMPORTERS[arrow.importer]) is not None and arrow.imported not in allowed:
                violations.append((arrow, f"{arrow.importer} reads the sandbox only through {sorted(allowed)}"))
        elif source not in LAYERS:
            violations.append((arrow, f"{source} is in no layer: add it to LAYERS with what it may import"))
        elif destination not in LAYERS[source]:
            violations.append((arrow, f"{source} may import only {sorted(LAYERS[source]) or 'nothing else'}"))
    return violations


def dagster_violations(found: Iterable[Arrow]) -> list[Arrow]:
    return [arrow for arrow in found
            if arrow.imported == "dagster" or arrow.imported.startswith("dagster_")
            if component(arrow.importer) not in DAGSTER_COMPONENTS and arrow.importer not in DAGSTER_LAUNCHERS]


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, Path], list[Arrow]]:
    modules = module_files(ROOT, project_packages(ROOT))
    return modules, arrows(modules)


def test_every_product_package_is_layered(project):
    modules, _ = project
    assert {"pco_pipeline", "pco_sandbox", "pco_reference"} <= set(project_packages(ROOT))
    assert len(modules) > 100  # the walk found the source, not an empty tree
    unplaced = sorted({component(module) for module in modules} - set(LAYERS))
    assert not unplaced, f"components in no layer (add each to LAYERS with what it may import): {unplaced}"


def test_no_import_circle(project):
    modules, found = project
    circles = import_circles(modules, found)
    assert not circles, "modules importing each other (round a loop):\n" + "\n".join(
        " <-> ".join(circle) for circle in circles)


def test_no_arrow_against_the_layers(project):
    modules, found = project
    violations = layer_violations(modules, found)
    new = [f"{arrow}: {rule}" for arrow, rule in violations if (arrow.importer, arrow.imported) not in KNOWN_VIOLATIONS]
    new += [f"{arrow}: Dagster only in defs/, runs/, definitions.py and the commands that launch runs"
            for arrow in dagster_violations(found)]
    assert not new, "imports the layers forbid:\n" + "\n".join(new)
    fixed = sorted(set(KNOWN_VIOLATIONS) - {(arrow.importer, arrow.imported) for arrow, _ in violations})
    assert not fixed, f"fixed, so delete from KNOWN_VIOLATIONS (a fixed rule must stay fixed): {fixed}"


# --- the checker itself, on a made-up tree: each rule catches what it is for ----------------------

def _tree(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return module_files(tmp_path, project_packages(tmp_path))


def test_checker_finds_a_circle_hidden_in_type_checking_and_function_imports(tmp_path):
    modules = _tree(tmp_path, {
        "pco_sandbox/__init__.py": "from pco_sandbox.core import Sandbox\n",
        "pco_sandbox/core.py": "from pco_sandbox.app import App\nclass Sandbox: ...\n",
        "pco_sandbox/app.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pco_sandbox.core import Sandbox\n",
        "pco_sandbox/store.py": "def later():\n    from . import persistence\n",
        "pco_sandbox/persistence.py": "from .store import later\n",
        "pco_sandbox/clock.py": "import pco_sandbox.store\n",
    })
    assert import_circles(modules, arrows(modules)) == [
        ["pco_sandbox.app", "pco_sandbox.core"], ["pco_sandbox.persistence", "pco_sandbox.store"]]


def test_checker_finds_upward_arrows_and_misplaced_dagster(tmp_path):
    modules = _tree(tmp_path, {
        "pco_pipeline/__init__.py": "",
        "pco_pipeline/sync/__init__.py": "",
        "pco_pipeline/sync/load.py": "import dagster as dg\nfrom pco_pipeline.defs import assets\n",
        "pco_pipeline/defs/__init__.py": "",
        "pco_pipeline/defs/assets.py": "import dagster\nfrom pco_pipeline.sync import load\n",
        "pco_pipeline/commands/__init__.py": "",
        "pco_pipeline/commands/api.py": "from pco_sandbox import core\n",
        "pco_pipeline/commands/sandbox.py": "from pco_sandbox.core import Sandbox\n",
        "pco_pipeline/demo_data/__init__.py": "from pco_sandbox.store import Store\nfrom pco_sandbox.seed import x\n",
        "pco_sandbox/__init__.py": "",
        "pco_sandbox/core.py": "from pco_pipeline.sync.normalize import normalize_email\n",
        "pco_sandbox/store.py": "",
        "pco_sandbox/seed.py": "x = 1\n",
        "newpackage/__init__.py": "import pco_reference\n",
        "pco_reference/__init__.py": "",
    })
    found = arrows(modules)
    assert sorted((arrow.importer, arrow.imported) for arrow, _ in layer_violations(modules, found)) == [
        ("newpackage", "pco_reference"),                        # a package in no layer
        ("pco_pipeline.commands.api", "pco_sandbox.core"),      # not a command that starts the sandbox
        ("pco_pipeline.demo_data", "pco_sandbox.store"),        # the demo data reads only pco_sandbox.seed
        ("pco_pipeline.sync.load", "pco_pipeline.defs.assets"),  # sync/ below defs/
        ("pco_sandbox.core", "pco_pipeline.sync"),               # the sandbox stands alone
    ]
    assert [arrow.importer for arrow in dagster_violations(found)] == ["pco_pipeline.sync.load"]
