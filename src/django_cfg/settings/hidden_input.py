"""Validation errors that never carry the value that failed.

    class DatabaseConfig(BaseModel):
        _hide_input = hidden_input_validator()

pydantic's ``hide_input_in_errors`` only shortens ``str(error)``: ``errors()``, ``json()`` and the
error's ``input`` still hold the raw value, which for a settings model may be a password, a
database URL or a secret key. The validator this module makes wraps a model's whole validation and
re-raises its ``ValidationError`` with every ``input`` replaced by a placeholder naming only the
type (``<hidden str>``), keeping each error's type, location, message and context. Nested models
are covered too: the outer model re-raises what the inner one raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["hidden_input_validator", "hide_inputs"]

_PLACEHOLDER = "<hidden {}>"
_Error = TypeVar("_Error", bound=ValidationError)


def _placeholder(value: Any) -> str:
    if isinstance(value, str) and value.startswith("<hidden ") and value.endswith(">"):
        return value  # already hidden by a nested model
    return _PLACEHOLDER.format(type(value).__name__)


def hide_inputs(
    error: ValidationError,
    loc_prefix: Sequence[str | int] = (),
    error_class: type[_Error] = ValidationError,  # type: ignore[assignment]
) -> _Error:
    """``error`` with every input replaced by ``<hidden TYPE>`` (and ``loc_prefix`` prepended),
    as an ``error_class`` (a ``ValidationError`` subclass)."""
    details: list[InitErrorDetails] = []
    for line in error.errors(include_url=False):
        detail: InitErrorDetails = {
            "type": line["type"],
            "loc": (*loc_prefix, *line["loc"]),
            "input": _placeholder(line["input"]),
        }
        if "ctx" in line:
            detail["ctx"] = line["ctx"]
        details.append(detail)
    try:
        return error_class.from_exception_data(error.title, details, hide_input=True)
    except KeyError:
        # An error type pydantic does not know (a PydanticCustomError raised by a validator):
        # keep its type and rendered message, which never holds the input.
        custom: list[InitErrorDetails] = [
            {
                "type": PydanticCustomError(line["type"], line["msg"]),
                "loc": detail["loc"],
                "input": detail["input"],
            }
            for line, detail in zip(error.errors(include_url=False), details, strict=True)
        ]
        return error_class.from_exception_data(error.title, custom, hide_input=True)


def _hide_validation_inputs(cls: type[Any], data: Any, handler: Any) -> Any:
    try:
        return handler(data)
    except ValidationError as error:
        raise hide_inputs(error) from None


def hidden_input_validator() -> Any:
    """A wrap model validator for a class body: its ``ValidationError``s hold no input."""
    return model_validator(mode="wrap")(classmethod(_hide_validation_inputs))  # type: ignore[arg-type]
