"""The layers, from the bottom: dockwright's base (model, schema, plans) < dockwright/facts <
dockwright's run modules (preflight, ...) < operations < deploy.py. No module imports a layer
above its own, and the facts live in one place."""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def fact_classes(path: pathlib.Path) -> list[str]:
    return [node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "FactBase" for b in node.bases)]


def test_nothing_under_dockwright_imports_the_operations():
    offenders = {str(p.relative_to(REPO)): sorted(m for m in imports(p) if m.split(".")[0] == "operations")
                 for p in (REPO / "dockwright").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_facts_and_plans_import_no_operation_nor_run_module():
    above = ("operations", "dockwright.preflight", "dockwright.plumbing", "dockwright.diagnosis")
    for layer in ("facts", "plans"):
        for p in (REPO / "dockwright" / layer).rglob("*.py"):
            assert not [m for m in imports(p) if m.startswith(above)], p
            text = p.read_text()
            assert "from ..preflight" not in text and "from .. import preflight" not in text, p


def test_the_operations_define_no_fact_of_their_own():
    # Every fact of the deploy is in dockwright/facts (diagnose's one read is its own concern).
    assert {str(p.relative_to(REPO)): fact_classes(p) for p in (REPO / "operations").glob("*.py")
            if fact_classes(p)} == {}


def test_pyinfra_internals_are_used_in_one_module():
    # pyinfra_cli and the context proxies' private unwrapping are named, with the reason, in
    # dockwright/pyinfra_internals.py; everything else uses pyinfra's API.
    allowed = {REPO / "dockwright" / "pyinfra_internals.py"}
    found = {}
    for top in ("dockwright", "operations", "bench", "lab"):
        for p in (REPO / top).rglob("*.py"):
            if p in allowed:
                continue
            text = p.read_text()
            hits = [m for m in imports(p) if m.startswith("pyinfra_cli")]
            hits += [w for w in ("_get_module", "is_cli") if w in text]
            if hits:
                found[str(p.relative_to(REPO))] = hits
    for p in (REPO / "deploy.py", REPO / "drift.py", REPO / "diagnose.py"):
        if [m for m in imports(p) if m.startswith("pyinfra_cli")]:
            found[p.name] = ["pyinfra_cli"]
    assert found == {}
