"""The house rules of the code: small modules, a test file for each, imports that only point down the data flow
(audio -> features -> model -> scoring -> rank/train -> apps -> cli), no cycles, and a module table that is true."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pers_rec"

#: Each module's layer in the data flow; a module may import only from its own layer or below.
LAYERS = {
    "errors": 0, "config": 0, "fileio": 0, "judgements": 0, "progress": 0, "device": 0, "tags": 0, "plots": 0, "compact": 0,
    "audio": 1, "scan": 1, "playlists": 1, "subsonic": 1, "mpd_player": 1, "transport": 1, "players": 3,
    "features": 2, "augment": 2, "extract": 2, "cache": 2, "cache_file": 2, "signals": 2,
    "model": 3, "runtime": 3, "archive": 3, "teacher": 3, "baseline": 3, "report": 3, "checkpoint": 3,
    "scoring": 4, "dataset": 4,
    "rank": 5, "train": 5, "pretrain": 5, "distill": 5, "embed": 5,
    "filters": 6, "maps": 6, "genre": 6, "sequence": 6, "active": 6, "distributed": 6, "encoders": 6, "workflows": 6, "retrain": 6, "radio": 6, "mpd_radio": 6, "subsonic_radio": 6,
    "cli": 7, "web": 7,
}


def modules() -> dict[str, Path]:
    out = {p.stem: p for p in PKG.glob("*.py") if p.stem != "__init__"}
    for sub in ("cli", "web"):
        out.update({f"{sub}.{p.stem}": p for p in (PKG / sub).glob("*.py")})
    return out


def imports(path: Path, name: str) -> set[str]:
    """The pers_rec modules ``path`` imports, anywhere in it (lazy imports inside functions included)."""
    package = name.rsplit(".", 1)[0] if "." in name else ""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
            base = [b for b in base if b]
            mod = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{mod}.{a.name}" if mod else a.name for a in node.names] if not node.module else [mod]
            for t in targets:
                top = t.split(".")[0]
                found.add(t if top in ("cli", "web") else top)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pers_rec."):
            found.add(node.module.split(".")[1])
    return {f for f in found if f.split(".")[0] in LAYERS}


def layer(name: str) -> int:
    return LAYERS[name.split(".")[0]]


def test_every_module_has_a_layer_and_a_test_file():
    for name in modules():
        assert name.split(".")[0] in LAYERS, f"pers_rec/{name}.py has no layer in tests/test_layout.py"
        if "." not in name:
            assert (ROOT / "tests" / f"test_{name}.py").exists(), f"no tests/test_{name}.py"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_350_lines(name):
    assert len(modules()[name].read_text().splitlines()) <= 350


def test_imports_point_down_the_data_flow():
    upward = [f"{name} imports {dep}" for name, path in modules().items() for dep in imports(path, name)
              if layer(dep) > layer(name)]
    assert upward == []


def test_the_web_app_and_the_command_line_never_import_each_other():
    """Both are faces over the library: what one needs from the other belongs in the library. The crossings are
    the commands that start a web face: ``pers-rec serve`` (the web app) and ``pers-rec radio`` (its Subsonic
    relay)."""
    crossing = [f"{name} imports {dep}" for name, path in modules().items() for dep in imports(path, name)
                if {name.split(".")[0], dep.split(".")[0]} == {"cli", "web"} and name not in ("cli.serve", "cli.radio")]
    assert crossing == []


def test_commands_import_no_other_command():
    """A command module may use ``cli.common`` and the library; what two commands share belongs there."""
    shared = {"cli.common", "cli.embedding", "cli.main"}
    # the demo is a command of its own module, registered by misc's parser
    pending = {"cli.misc imports cli.demo"}
    crossing = {f"{name} imports {dep}" for name, path in modules().items()
                if name.startswith("cli.") and name != "cli.__init__"
                for dep in imports(path, name) if dep.startswith("cli.") and dep not in shared and dep != name}
    assert crossing - pending == set()


def test_no_import_cycle():
    graph = {name: {d for d in imports(path, name) if d in modules() and d != name} for name, path in modules().items()}
    seen, stack = set(), []

    def visit(n):
        if n in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
        if n in seen:
            return
        stack.append(n)
        for d in graph[n]:
            visit(d)
        stack.pop()
        seen.add(n)

    for n in graph:
        visit(n)


def test_the_module_table_in_docs_names_every_module():
    text = (ROOT / "docs" / "design.md").read_text()
    listed = set(re.findall(r"^\| `pers_rec/([\w/]+)\.py` \|", text, re.M))
    want = {n.replace(".", "/") for n in modules() if not n.startswith("cli.")} | {"cli/__init__"}
    assert listed == want, f"missing: {sorted(want - listed)}; stale: {sorted(listed - want)}"


def test_no_module_reaches_into_another_modules_private_names():
    """A name with a leading underscore belongs to its module: another module that needs it needs a public name."""
    found = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("pers_rec")):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{name} imports {a.name} from {node.module or '.'}")
                    if not node.module or node.level:  # `from . import x as Y`: Y is a pers_rec module
                        aliases.add(a.asname or a.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__"):
                found.append(f"{name} uses {node.value.id}.{node.attr}")
    assert found == []


def test_library_modules_are_imported_by_their_names_not_short_aliases():
    """``T`` once meant train, teacher and tags: a pers_rec module is imported by its name, by the names used from
    it, or under a descriptive name where its own is taken (never one or two letters)."""
    short = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("pers_rec")):
                short += [f"{name}: {a.name} as {a.asname}" for a in node.names if a.asname and len(a.asname) <= 2]
    assert short == []
