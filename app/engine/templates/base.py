"""The template shape shared by every function template."""

from dataclasses import dataclass, field
from typing import Any

InputSchema = dict[str, Any]


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

    def schema_for(self, key: str) -> InputSchema | None:
        return next((item for item in self.inputs_schema if item["key"] == key), None)
