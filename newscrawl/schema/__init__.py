"""The JSON Schema of the JSONL contract, and validators for output lines.

``first_error`` runs on every item in the crawl (fastjsonschema compiles the schema
to Python, about 20x faster than jsonschema here); ``validation_errors`` lists
every error with the reference validator (jsonschema) and serves the tests.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def article_schema() -> dict[str, Any]:
    text = (
        resources.files(__package__).joinpath("article.schema.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _compiled() -> Any:
    import fastjsonschema  # noqa: PLC0415

    return fastjsonschema.compile(article_schema())


def first_error(item: dict[str, Any]) -> str | None:
    """The first way ``item`` breaks the schema, or ``None`` when it is valid."""
    import fastjsonschema  # noqa: PLC0415

    try:
        _compiled()(item)
    except fastjsonschema.JsonSchemaValueException as exc:
        return str(exc.message)
    return None


#: Fields an exported article must have, non-empty.
REQUIRED = ("url", "title", "body")


def drop_reason(item: dict[str, Any]) -> tuple[str, str] | None:
    """``(reason, detail)`` when ``item`` must not be exported, else ``None``.

    >>> drop_reason({"url": "https://example.org/a", "title": "T"})
    ('missing_body', '')
    """
    for field in REQUIRED:
        if not item.get(field):
            return f"missing_{field}", ""
    error = first_error(item)
    return ("schema_invalid", error) if error else None


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    return Draft202012Validator(article_schema())


def validation_errors(item: dict[str, Any]) -> list[str]:
    """Messages for every way ``item`` breaks the schema (empty when it is valid)."""
    validator = _validator()
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<item>'}: {e.message}"
        for e in sorted(
            validator.iter_errors(item), key=lambda e: list(e.absolute_path)
        )
    ]
