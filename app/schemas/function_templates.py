"""Function templates as PostHog's `hog_function_templates` endpoint lists them."""

from typing import Any

from pydantic import BaseModel, Field

from app.engine.templates import FunctionTemplate


class HogFunctionTemplate(BaseModel):
    id: str
    name: str
    description: str
    type: str = Field(description="`destination`, `source_webhook`...")
    code: str = Field(description="The template's Hog program.")
    code_language: str = "hog"
    hog: str = Field(description="The template's Hog program (older name of `code`).")
    inputs_schema: list[dict[str, Any]]
    status: str
    category: list[str]
    free: bool
    icon_url: str | None
    filters: dict[str, Any] | None = None
    masking: dict[str, Any] | None = None
    mapping_templates: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, template: FunctionTemplate) -> "HogFunctionTemplate":
        return cls(
            id=template.id,
            name=template.name,
            description=template.description,
            type=template.type,
            code=template.hog,
            hog=template.hog,
            inputs_schema=template.inputs_schema,
            status=template.status,
            category=template.category,
            free=template.free,
            icon_url=template.icon_url,
        )


class HogFunctionTemplatePage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[HogFunctionTemplate]
