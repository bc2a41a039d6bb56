"""Renders files from the package's templates/ (jinja2, strict: an undefined name is an error),
found through the package itself wherever it is installed."""

from functools import lru_cache
from importlib import resources

import jinja2

TEMPLATES = resources.files(__package__) / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    return _env().get_template(template).render(**context)


@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                              undefined=jinja2.StrictUndefined, autoescape=True)


def render_html(template: str, **context) -> str:
    """A page from templates/, every value escaped unless the template says otherwise."""
    return _html_env().get_template(template).render(**context)
