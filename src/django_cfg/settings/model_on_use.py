"""A field whose pydantic model is imported when a value is first validated, not when the class
that declares it is defined (issue 23: most projects set no tenants, caches or e-mail, and
defining those models cost every startup ~20M instructions).

    class DjangoConfig(BaseModel):
        if TYPE_CHECKING:
            tenants: TenantsConfig | None = None
        else:
            tenants: ModelOnUse["django_cfg.settings.tenants.TenantsConfig"] | None = None

A value of the model passes as it is; anything else is validated by the model, and its errors
keep their place (``tenants.apps.0``) as if the model were declared directly. The JSON schema is
the model's.
"""

from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

from pydantic_core import CoreSchema, core_schema

if TYPE_CHECKING:  # pydantic.json_schema is imported only where a JSON schema is made
    from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

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

    def __get_pydantic_core_schema__(
        self, source: Any, handler: "GetCoreSchemaHandler"
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: "GetJsonSchemaHandler"
    ) -> "JsonSchemaValue":
        self.model.model_rebuild()  # a deferred model's schema is built here, as validate would
        return handler(self.model.__pydantic_core_schema__)


class ModelOnUse:
    """``ModelOnUse["package.module.Model"]``: a field of that model, imported at first use."""

    def __class_getitem__(cls, dotted_path: str) -> Any:
        return Annotated[object, _OnUse(dotted_path)]
