"""The package's layout: rooms by role, imports pointing one way, no circle (read with `ast`).

Layers, highest first; a module may import its own subpackage and any lower layer:
cli > tools > run > policy > agents > models, replay, envs > common, config, errors.
"""

import ast
from pathlib import Path

import slac

PACKAGE = Path(slac.__file__).parent
LAYERS = {  # room -> layer
    "errors": 0, "config": 0, "common": 0,
    "models": 1, "replay": 1, "envs": 1,
    "agents": 2, "policy": 3, "run": 4, "tools": 5, "cli": 6, "__init__": 6,
}
ALLOWED_AT_LAYER_0 = {"config": {"errors"}, "common": {"errors"}, "errors": set()}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def imports_of(path: Path) -> set[str]:
    """Every slac module `path` imports, at any depth of the file (functions, TYPE_CHECKING blocks)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "slac"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "slac" and node.level == 0:
            for alias in node.names:  # `from slac.x import y`: y may be a module of its own
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if resolve(candidate) else node.module)
    return found


def resolve(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def test_every_room_is_known_and_the_top_has_at_most_a_dozen_entries():
    assert {room(m) for m in GRAPH} <= set(LAYERS)
    entries = [p for p in PACKAGE.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(p.name for p in entries)


def test_imports_point_down_the_layers():
    upward = []
    for module, targets in GRAPH.items():
        for target in targets:
            source, dest = room(module), room(target)
            if source == dest or dest == "__init__" and target != "slac":
                continue
            if LAYERS[dest] > LAYERS[source] or (LAYERS[dest] == LAYERS[source] and LAYERS[source] > 0):
                upward.append(f"{module} -> {target}")
            elif LAYERS[source] == 0 and dest not in ALLOWED_AT_LAYER_0[source]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_no_import_circle():
    modules = {m: {t for t in targets if t in GRAPH and t != m} for m, targets in GRAPH.items()}
    # A package's __init__ importing its own submodules is how a package exports; a submodule
    # importing its package's __init__ then is the usual re-export, not a circle of logic.
    for module, targets in modules.items():
        modules[module] = {t for t in targets if not module.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(modules[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module)


def test_the_layout_test_sees_an_upward_import_and_a_circle(tmp_path):
    """The checks above can fail: an agent importing the run, and two modules importing each other."""
    global GRAPH
    saved = GRAPH
    try:
        GRAPH = {**saved, "slac.agents.base": saved["slac.agents.base"] | {"slac.run.trainer"}}
        try:
            test_imports_point_down_the_layers()
        except AssertionError as error:
            assert "slac.agents.base -> slac.run.trainer" in str(error)
        else:
            raise AssertionError("an upward import went unseen")
        GRAPH = {**saved, "slac.models.nets": saved["slac.models.nets"] | {"slac.models.base"}}
        try:
            test_no_import_circle()
        except AssertionError as error:
            assert "import circle" in str(error)
        else:
            raise AssertionError("a circle went unseen")
    finally:
        GRAPH = saved


def test_the_models_the_config_names_are_the_models_there_are():
    from slac.config import MODELS as NAMES
    from slac.models import MODELS

    assert tuple(MODELS) == NAMES


def test_every_subpackage_docstring_names_each_of_its_modules():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        modules = sorted(p.name for p in init.parent.glob("*.py") if p.name != "__init__.py")
        missing = [name for name in modules if f"`{name}`" not in doc]
        assert not missing, f"{init.relative_to(PACKAGE.parent)} does not name {missing}"


def test_the_cli_docstring_names_every_command():
    import re

    from slac import cli

    assert all(re.search(rf"\b{name}\b", cli.__doc__) for name in cli.COMMANDS)


def test_no_module_reads_another_objects_private_attributes():
    """`obj._name` for a private attribute or method of a slac class only in the module that defines it
    (a library's own private attribute, e.g. Gymnasium's, is not slac's to keep)."""
    import re

    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "scripts").glob("*.py"), *(root / "benchmarks").glob("*.py")]
    sources = {path: path.read_text() for path in files if path.is_file()}
    defined = {path: set(re.findall(r"\bself\.(_[a-z]\w*)\s*(?::[^=\n]+)?=", text))
               | set(re.findall(r"^\s+def (_[a-z]\w*)\(", text, re.M)) for path, text in sources.items()}
    private = set().union(*defined.values())
    found = [f"{path.relative_to(root)}: {receiver}.{name}" for path, text in sources.items()
             for receiver, name in re.findall(r"\b(\w+)\.(_[a-z]\w*)\b", text)
             if name in private and receiver not in ("self", "cls") and name not in defined[path]]
    assert not found, found


def test_every_relative_link_in_the_readme_and_docs_resolves():
    import re

    root = PACKAGE.parent
    broken = []
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(root)} -> {target}")
    assert not broken, broken


def test_the_readme_and_docs_speak_of_the_project_not_of_how_it_was_built():
    import re

    root = PACKAGE.parent
    words = re.compile(r"\bissue (?:#?\d+|'s)|\bsessions?\b|working period|machine was lost|lost with (?:its|the) machine", re.I)
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    found = [f"{page.relative_to(root)}: {match.group(0)!r}" for page in pages for match in words.finditer(page.read_text())]
    assert not found, found
