"""Renders files from templates/ (jinja2, strict: an undefined name is an error)."""

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    return _env().get_template(template).render(**context)


@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              autoescape=True)


def render_html(template: str, **context) -> str:
    """A page from templates/, every value escaped unless the template says otherwise."""
    return _html_env().get_template(template).render(**context)
