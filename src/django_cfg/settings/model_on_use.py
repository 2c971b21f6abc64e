"""A field whose pydantic model is imported when a value is first validated, not when the class
that declares it is defined (issue 23: most projects set no tenants, caches or e-mail, and
defining those models cost every startup ~20M instructions).

    if TYPE_CHECKING:
        from django_cfg.settings.tenants import TenantsConfig
    else:
        TenantsConfig = ModelOnUse["django_cfg.settings.tenants.TenantsConfig"]

    class DjangoConfig(BaseModel):
        tenants: TenantsConfig | None = None

A value of the model passes as it is; anything else is validated by the model, and its errors
keep their place (``tenants.apps.0``) as if the model were declared directly. Dumps are the
model's serializer's (a subclass's extra fields are left out, as pydantic does for a declared
model type); the JSON schema has the model's fields, written out rather than in ``$defs``. Not
passed on to the model: ``model_validate``'s ``from_attributes`` and ``strict``.
"""

from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

from pydantic_core import CoreSchema, core_schema

if TYPE_CHECKING:  # pydantic.json_schema is imported only where a JSON schema is made
    from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core.core_schema import SerializationInfo

__all__ = ["ModelOnUse"]


class _OnUse:
    def __init__(self, dotted_path: str) -> None:
        self.dotted_path = dotted_path

    def __repr__(self) -> str:  # the model's name, as in an annotation's text
        return self.dotted_path.rpartition(".")[2]

    @cached_property
    def model(self) -> "type[BaseModel]":
        module, _, name = self.dotted_path.rpartition(".")
        model: type[BaseModel] = getattr(import_module(module), name)
        return model

    def validate(self, value: Any) -> "BaseModel":
        return self.model.model_validate(value)

    def serialize(self, value: Any, info: "SerializationInfo") -> Any:
        nested: Any = info  # include / exclude: the filters below this field
        return self.model.__pydantic_serializer__.to_python(
            value,
            mode=info.mode,
            include=nested.include,
            exclude=nested.exclude,
            context=info.context,
            by_alias=info.by_alias,
            exclude_unset=info.exclude_unset,
            exclude_defaults=info.exclude_defaults,
            exclude_none=info.exclude_none,
            round_trip=info.round_trip,
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: "GetCoreSchemaHandler"
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.serialize, info_arg=True
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: "GetJsonSchemaHandler"
    ) -> "JsonSchemaValue":
        self.model.model_rebuild()  # a deferred model's schema is built here, as validate would
        return handler(self.model.__pydantic_core_schema__)


class ModelOnUse:
    """``ModelOnUse["package.module.Model"]``: a field of that model, imported at first use."""

    def __class_getitem__(cls, dotted_path: str) -> Any:
        return Annotated[object, _OnUse(dotted_path)]
