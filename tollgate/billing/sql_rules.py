"""The pipeline's SQL rules, for the few readers outside dbt that must apply the same ones.

A rule the pipeline evaluates in SQL lives in one dbt macro (``dbt_project/macros/``); a
reader that queries events itself (the billing API's daily usage) renders that macro here
rather than restating it. Only macros that use nothing but their arguments can be rendered.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

MACROS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"


def render_macro(file: str, name: str, *arguments: str) -> str:
    """The SQL ``{{ name(arguments...) }}`` expands to, ``arguments`` being SQL expressions."""
    template = _environment().from_string(
        (MACROS_DIR / file).read_text()
        + "{{ "
        + name
        + "("
        + ", ".join(repr(argument) for argument in arguments)
        + ") }}"
    )
    return template.render().strip()


@functools.cache
def _environment() -> jinja2.Environment:
    # SQL, not HTML: escaping would corrupt it.
    return jinja2.Environment(autoescape=False)  # noqa: S701
