"""The layers, from the bottom: dockwright's base (model, schema, plans) < dockwright/facts <
dockwright/operations < dockwright/concerns (the registry: each concern's reads, checks and
operations) < preflight < dockwright/deploy.py < the checkout's deploy.py. No module imports a layer above its own (relative imports followed),
and the facts live in one place."""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def imports(path: pathlib.Path, top_level_only: bool = False) -> set[str]:
    """The modules path imports, relative imports resolved (``from .. import x`` in
    dockwright/facts/kernel.py is dockwright.x); with top_level_only, those its module body
    imports (not those imported inside a function, when it is called)."""
    me = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = me.removesuffix(".__init__") if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text())
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names}
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def module_of(name: str, known: set[str]) -> str:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def test_no_circle_among_the_modules():
    """Imports, those made inside functions too, form no circle. A package may import its own
    modules (which then register with it: dockwright.concerns), and dockwright's top module
    names its packaged deploy (imported when asked for)."""
    import graphlib
    paths = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (REPO / "dockwright").rglob("*.py") if "templates" not in p.parts}
    graph = graphlib.TopologicalSorter()
    for me, path in paths.items():
        for name in imports(path):
            dep = module_of(name, set(paths))
            if dep and dep != me and not (path.name == "__init__.py" and dep.startswith(me + ".")):
                graph.add(me, dep)
    graph.prepare()  # raises CycleError naming the circle


def test_no_module_imports_the_package_face():
    """dockwright/__init__.py stands above every module (it hands out the packaged deploy): a
    module that took a name from it would import upward. The deploy file `dockwright deploy`
    hands to pyinfra stands above it, as a user's deploy.py does."""
    face = (REPO / "dockwright" / "__init__.py", REPO / "dockwright" / "deploy_file.py")
    found = {str(p.relative_to(REPO)): "dockwright" for p in (REPO / "dockwright").rglob("*.py")
             if p not in face and "templates" not in p.parts and "dockwright" in imports(p)}
    assert found == {}


def fact_classes(path: pathlib.Path) -> list[str]:
    return [node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "FactBase" for b in node.bases)]


def test_only_the_concerns_import_the_operations_and_each_operation_module_is_applied_by_one():
    offenders = {str(p.relative_to(REPO)): sorted(m for m in imports(p) if m.startswith("dockwright.operations"))
                 for p in (REPO / "dockwright").rglob("*.py") if not {"operations", "concerns"} & set(p.parts)}
    assert {k: v for k, v in offenders.items() if v} == {}
    applied = {m for p in (REPO / "dockwright" / "concerns").glob("*.py") for m in imports(p)
               if m.startswith("dockwright.operations.")}
    assert applied == {f"dockwright.operations.{p.stem}" for p in (REPO / "dockwright" / "operations").glob("*.py")
                       if p.stem != "__init__"}
    # The checkout's top level reaches them only through the package (no second copy of a module).
    for p in [*REPO.glob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")]:
        assert not [m for m in imports(p) if m.split(".")[0] == "operations"], p


def test_facts_and_plans_import_no_operation_nor_run_module():
    above = ("dockwright.operations", "dockwright.preflight", "dockwright.outcomes", "dockwright.cli",
             "dockwright.metrics", "dockwright.coverage", "dockwright.fleet_data", "dockwright.verify",
             "dockwright.diagnosis", "dockwright.deploy")
    for p in (REPO / "dockwright" / "plans").rglob("*.py"):  # the model stands on the plans (conntrack's sizing)
        assert "dockwright.model" not in imports(p), p
    for layer in ("facts", "plans"):
        for p in (REPO / "dockwright" / layer).rglob("*.py"):
            assert not [m for m in imports(p) if m.startswith(above)], p
            text = p.read_text()
            assert "from ..preflight" not in text and "from .. import preflight" not in text, p


def test_the_operations_define_no_fact_of_their_own():
    # Every fact of the deploy is in dockwright/facts (diagnose's one read is its own concern).
    assert {str(p.relative_to(REPO)): fact_classes(p) for p in (REPO / "dockwright" / "operations").glob("*.py")
            if fact_classes(p)} == {}


def test_pyinfra_internals_are_used_in_one_module():
    # pyinfra_cli is named, with the reason, in dockwright/pyinfra_internals.py, and the context
    # proxies' private unwrapping in dockwright/pyinfra_context.py; everything else uses
    # pyinfra's API.
    allowed = {REPO / "dockwright" / "pyinfra_internals.py", REPO / "dockwright" / "pyinfra_context.py"}
    found = {}
    for top in ("dockwright", "bench", "lab"):
        for p in (REPO / top).rglob("*.py"):
            if p in allowed:
                continue
            text = p.read_text()
            hits = [m for m in imports(p) if m.startswith("pyinfra_cli")]
            hits += [w for w in ("_get_module", "is_cli", "ctx_state", "ctx_host") if w in text]
            if hits:
                found[str(p.relative_to(REPO))] = hits
    for p in (REPO / "deploy.py", REPO / "drift.py", REPO / "diagnose.py"):
        if [m for m in imports(p) if m.startswith("pyinfra_cli")]:
            found[p.name] = ["pyinfra_cli"]
    assert found == {}


def test_the_package_needs_nothing_of_the_checkout_at_import():
    """The bench distribution (replay) is imported inside the functions that record or replay,
    never when a module of the installed package loads (tests/package proves the install)."""
    found = {}
    for p in (REPO / "dockwright").rglob("*.py"):
        top = [n for n in ast.parse(p.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in top if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
        if bad := sorted(m for m in names if m.split(".")[0] in ("bench", "lab", "tests", "operations")):
            found[str(p.relative_to(REPO))] = bad
    assert found == {}


def test_host_paths_are_spelled_once_in_a_bottom_module():
    """The paths dockwright reads and writes on a host live in dockwright/host_paths.py, which
    imports nothing of dockwright's; the verification suite keeps its own spellings on purpose."""
    bottom = REPO / "dockwright" / "host_paths.py"
    assert not [m for m in imports(bottom) if m.startswith("dockwright")]
    import dockwright.host_paths as paths
    spelled = {v for k, v in vars(paths).items() if k.isupper() and isinstance(v, str)}
    for p in (REPO / "dockwright").rglob("*.py"):
        if p == bottom or "verify" in p.parts:
            continue
        text = p.read_text()
        assert not [s for s in spelled if f'"{s}"' in text or f"'{s}'" in text], p
