"""`{p}/activity_log/`: who created, changed or deleted the team's flows (PostHog's activity log)."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.api.deps import AuthorizedTeam, DBSession, team_with_scope
from app.api.hog_flows import ERROR_RESPONSES
from app.schemas.hog_flow import DRFDateTime
from app.schemas.users import UserBasic
from app.services import activity_log as service

router = APIRouter(tags=["activity log"])

ActivityTeam = Annotated[AuthorizedTeam, Depends(team_with_scope("activity_log:read"))]


class ActivityEntry(BaseModel):
    model_config = {"from_attributes": True}

    id: UUID
    user: UserBasic | None = Field(description="Who did it; null for the system or a deleted user.")
    unread: bool = False
    is_staff: bool = False
    is_system: bool = False
    activity: str = Field(description="`created`, `updated` or `deleted`.")
    item_id: str
    scope: str = Field(description="`HogFlow`.")
    detail: dict[str, Any] = Field(
        description="`{id, changes: [{type, action, field, before, after}] | null, merge, trigger, name, short_id, "
        "type, context}`."
    )
    created_at: DRFDateTime


class ActivityPageOut(BaseModel):
    next: str | None
    previous: str | None = Field(description="Always null: page on with `next`.")
    results: list[ActivityEntry]


@router.get("/activity_log/", response_model=ActivityPageOut, responses=ERROR_RESPONSES, summary="Activity log")
async def activity_log(
    request: Request,
    session: DBSession,
    ctx: ActivityTeam,
    scope: Annotated[str | None, Query(description="e.g. `HogFlow`.")] = None,
    item_id: Annotated[str | None, Query(description="The id of one item (a flow id).")] = None,
    user: Annotated[int | None, Query(description="Only entries by this user id.")] = None,
    cursor: Annotated[str | None, Query(description="From a previous answer's `next`.")] = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The team's activity, newest first, 100 entries a page (PostHog's cursor pagination)."""
    page = await service.read_page(
        session, ctx.team.id, scope=scope, item_id=item_id, user_id=user, cursor=cursor, page_size=page_size
    )
    results = [
        {
            "id": entry.id,
            "user": author,
            "activity": entry.activity,
            "item_id": entry.item_id,
            "scope": entry.scope,
            "detail": entry.detail,
            "created_at": entry.created_at,
        }
        for entry, author in page.entries
    ]
    next_url = str(request.url.include_query_params(cursor=page.next_cursor)) if page.next_cursor else None
    return {"next": next_url, "previous": None, "results": results}
