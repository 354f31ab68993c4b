"""`/hog_function_templates/`: the function templates flows can use (PostHog's shape, read-only)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.api.deps import AuthorizedTeam, team_with_scope
from app.api.errors import NotFound
from app.api.hog_flows import ERROR_RESPONSES
from app.api.pagination import Pagination
from app.engine.templates import TEMPLATES
from app.schemas.function_templates import HogFunctionTemplate, HogFunctionTemplatePage

router = APIRouter(prefix="/hog_function_templates", tags=["hog_function_templates"])

TemplatesReader = Annotated[AuthorizedTeam, Depends(team_with_scope("hog_function:read"))]


@router.get("/", response_model=HogFunctionTemplatePage, responses=ERROR_RESPONSES, summary="List function templates")
async def list_templates(
    ctx: TemplatesReader,
    page: Pagination,
    type: Annotated[str | None, Query(description="Template type; `destination` when neither filter is given.")] = None,
    types: Annotated[str | None, Query(description="Comma-separated template types.")] = None,
) -> dict[str, Any]:
    """Templates of the given type(s), as PostHog lists them (destinations by default)."""
    if type is not None:
        wanted = {type}
    elif types is not None:
        wanted = {item.strip() for item in types.split(",") if item.strip()}
    else:
        wanted = {"destination"}
    matching = [HogFunctionTemplate.of(t) for t in TEMPLATES.values() if t.type in wanted]
    next_url, previous_url = page.links(len(matching))
    results = matching[page.offset : page.offset + page.limit]
    return {"count": len(matching), "next": next_url, "previous": previous_url, "results": results}


@router.get(
    "/{template_id}/", response_model=HogFunctionTemplate, responses=ERROR_RESPONSES, summary="Get a function template"
)
async def retrieve_template(ctx: TemplatesReader, template_id: str) -> HogFunctionTemplate:
    """One template by id, e.g. `template-webhook`."""
    template = TEMPLATES.get(template_id)
    if template is None:
        raise NotFound()
    return HogFunctionTemplate.of(template)
