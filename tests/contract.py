"""The reports' contract: every JSON report the tests produce is checked against its JSON Schema
(docs/schema/<kind>-report.json), with the jsonschema library."""

import json
from functools import cache
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schema"


@cache
def _validator(kind: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    docs = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (f"https://dockwright.invalid/schema/{name}", Resource.from_contents(doc)) for name, doc in docs.items())
    schema = docs[f"{kind}-report.json"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def check(report: dict) -> dict:
    """report, once it holds to its kind's schema (an AssertionError listing every violation)."""
    errors = sorted(_validator(report["kind"]).iter_errors(report), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    return report
