"""The house rules of the code: small modules, a test file for each, imports that only point down the data flow
(audio -> features -> model -> scoring -> rank/train -> apps -> cli), no cycles, and a module table that is true."""

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pers_rec"

#: The wings: each a sub-package of modules that belong together, with a lazy face (``pers_rec.lazy``).
WINGS = ("audio", "players", "model", "learn", "library", "radio")
#: The faces over the library: the command line and the web app.
FACES = ("cli", "web")

#: Each module's layer in the data flow; a module may import only from its own layer or below.
LAYERS = {
    "errors": 0, "config": 0, "fileio": 0, "progress": 0, "device": 0, "plots": 0, "lazy": 0,
    "players.judgements": 0, "audio.tags": 0, "audio.compact": 0,
    "audio.decode": 1, "audio.scan": 1, "players.playlists": 1, "players.subsonic": 1, "players.mpd_player": 1,
    "players.transport": 1,
    "audio.features": 2, "audio.augment": 2, "audio.extract": 2, "audio.cache": 2, "audio.cache_file": 2,
    "players.signals": 2,
    "model.networks": 3, "model.runtime": 3, "model.archive": 3, "model.teacher": 3, "model.baseline": 3,
    "model.report": 3, "model.checkpoint": 3, "players.sync": 3,
    "model.scoring": 4, "learn.dataset": 4,
    "library.rank": 5, "learn.train": 5, "learn.pretrain": 5, "learn.distill": 5, "library.embed": 5,
    "library.filters": 6, "library.maps": 6, "learn.genre": 6, "library.sequence": 6, "library.active": 6,
    "library.distributed": 6, "library.encoders": 6, "library.workflows": 6, "library.retrain": 6, "radio.picker": 6,
    "radio.mpd_radio": 6, "radio.subsonic_radio": 6,
    "cli": 7, "web": 7,
}


@functools.cache
def modules() -> dict[str, Path]:
    """Every module by its dotted name under ``pers_rec``: the ground floor (``config``), the wings'
    (``audio.features``) and the faces' (``cli.rank``, ``cli.__init__``); a wing's ``__init__`` is its face, checked
    on its own."""
    out = {p.stem: p for p in PKG.glob("*.py") if p.stem != "__init__"}
    for wing in WINGS:
        out.update({f"{wing}.{p.stem}": p for p in (PKG / wing).glob("*.py") if p.stem != "__init__"})
    for face in FACES:
        out.update({f"{face}.{p.stem}": p for p in (PKG / face).glob("*.py")})
    return out


def imports(path: Path, name: str, unresolved: list | None = None) -> set[str]:
    """The pers_rec modules ``path`` imports, anywhere in it (lazy imports inside functions included), by their
    dotted names (a face's modules as ``cli.x``; a wing imported whole as its modules named). An import that names
    no module of pers_rec (a module moved away) goes to ``unresolved``."""
    known = modules()
    packages = {"", *WINGS, *FACES}
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            mod = base + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pers_rec."):
            mod = node.module.split(".")[1:]
        else:
            continue
        dotted = ".".join(mod)
        if dotted in known:
            found.add(dotted)
        elif dotted in packages:  # a package: the names are its modules
            names = {f"{dotted}.{a.name}" if dotted else a.name for a in node.names}
            found |= names & set(known)
            other = names - set(known)  # a face's own names live in its __init__; a wing's face has only modules
            if other and dotted in FACES:
                found.add(f"{dotted}.__init__")
            elif other and unresolved is not None:
                unresolved += [f"{name}: from pers_rec.{dotted} import {n}" for n in sorted(other) if dotted]
        elif unresolved is not None:
            unresolved.append(f"{name}: from {dotted} import ...")
    return found


def layer(name: str) -> int:
    return LAYERS[name] if name in LAYERS else LAYERS[name.split(".")[0]]


def test_every_module_has_a_layer_and_a_test_file():
    leaves = {}
    for name in modules():
        if name.split(".")[0] in FACES:
            continue
        assert name in LAYERS, f"pers_rec/{name.replace('.', '/')}.py has no layer in tests/test_layout.py"
        leaf = name.split(".")[-1]
        assert leaf not in leaves, f"two modules named {leaf}: {leaves[leaf]} and {name} (tests/test_{leaf}.py)"
        leaves[leaf] = name
        assert (ROOT / "tests" / f"test_{leaf}.py").exists(), f"no tests/test_{leaf}.py for pers_rec/{name}"


def test_every_import_of_pers_rec_names_a_module_that_is_there():
    """A lazy import inside a function fails only when it runs: a module moved to another wing must leave no import
    of its old place behind."""
    unresolved = []
    for name, path in modules().items():
        imports(path, name, unresolved)
    assert unresolved == []


def test_each_wing_is_a_docstring_and_a_lazy_face():
    """A wing's ``__init__`` says what the wing is for and lists its modules, which load on first use only."""
    import importlib
    import subprocess
    import sys

    for wing in WINGS:
        init = PKG / wing / "__init__.py"
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree) and len(ast.get_docstring(tree)) > 80, f"{init}: say what the wing is for"
        assert [type(n).__name__ for n in tree.body] == ["Expr", "ImportFrom", "Assign"], init
        face = importlib.import_module(f"pers_rec.{wing}")
        assert sorted(face.__all__) == sorted(p.stem for p in (PKG / wing).glob("*.py") if p.stem != "__init__")
        assert sorted(dir(face)) == sorted(face.__all__)
        with pytest.raises(AttributeError, match="its modules"):
            face.no_such_module  # noqa: B018
    code = ("import sys, pers_rec.audio, pers_rec.model, pers_rec.library; "
            "print(sorted(m for m in sys.modules if m.startswith('pers_rec.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['pers_rec.audio', 'pers_rec.lazy', 'pers_rec.library', 'pers_rec.model']"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_350_lines(name):
    assert len(modules()[name].read_text().splitlines()) <= 350


def test_imports_point_down_the_data_flow():
    upward = [f"{name} imports {dep}" for name, path in modules().items() for dep in imports(path, name)
              if layer(dep) > layer(name)]
    assert upward == []


def test_wings_import_only_the_ground_floor_and_the_wings_before_them():
    """The wings in data-flow order (:data:`WINGS`): audio, players, model, learn, library, radio. A wing uses the
    ground floor, itself and the wings before it, so the wings, like the modules, form no cycle."""
    rank = {w: i for i, w in enumerate(WINGS)}

    def wing(n):
        return n.split(".")[0] if n.split(".")[0] in rank else None

    backwards = [f"{name} imports {dep}" for name, path in modules().items() if wing(name)
                 for dep in imports(path, name) if dep.split(".")[0] in FACES or
                 (wing(dep) is not None and rank[wing(dep)] > rank[wing(name)])]
    ground = [f"{name} imports {dep}" for name, path in modules().items() if "." not in name
              for dep in imports(path, name) if "." in dep]
    assert backwards == [] and ground == []


def test_the_web_app_and_the_command_line_never_import_each_other():
    """Both are faces over the library: what one needs from the other belongs in the library. The crossings are
    the commands that start a web face: ``pers-rec serve`` (the web app) and ``pers-rec radio`` (its Subsonic
    relay)."""
    crossing = [f"{name} imports {dep}" for name, path in modules().items() for dep in imports(path, name)
                if {name.split(".")[0], dep.split(".")[0]} == {"cli", "web"} and name not in ("cli.serve", "cli.radio")]
    assert crossing == []


def test_commands_import_no_other_command():
    """A command module may use ``cli.common`` and the library; what two commands share belongs there."""
    shared = {"cli.common", "cli.embedding", "cli.__init__"}
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
    want |= {f"{wing}/__init__" for wing in WINGS}
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
