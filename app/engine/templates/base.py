"""The template shape shared by every function template, and its compiled bytecode."""

from dataclasses import dataclass, field
from typing import Any

from app.hog.compiler import compile_program

InputSchema = dict[str, Any]

# Host functions our function steps provide on top of the defaults the compiler knows (`fetch`...).
TEMPLATE_HOST_FUNCTIONS = ("sendEmail", "sendPushNotification")


@dataclass(frozen=True)
class FunctionTemplate:
    id: str
    type: str
    name: str
    description: str
    inputs_schema: list[InputSchema]
    hog: str = ""
    icon_url: str | None = None
    category: list[str] = field(default_factory=list)
    status: str = "stable"
    free: bool = True

    def schema_for(self, key: str) -> InputSchema | None:
        return next((item for item in self.inputs_schema if item["key"] == key), None)


_BYTECODE: dict[str, list[Any]] = {}


def compiled_bytecode(template: FunctionTemplate) -> list[Any] | None:
    """The template's bytecode if it was compiled already, else None."""
    return _BYTECODE.get(template.id)


def template_bytecode(template: FunctionTemplate) -> list[Any]:
    """The template's Hog compiled once per process (templates are constants, compiling costs ms)."""
    cached = _BYTECODE.get(template.id)
    if cached is None:
        cached = compile_program(template.hog, functions=TEMPLATE_HOST_FUNCTIONS)
        _BYTECODE[template.id] = cached
    return cached
