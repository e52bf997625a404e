"""The JSON Schema of the JSONL contract, and a validator for output lines."""

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
