"""`POST /hog_flows/{id}/invocations/`: test one step of a flow without running it for real."""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from app.api.deps import AppSettings, DBSession, WriteTeam
from app.api.hog_flows import ERROR_RESPONSES
from app.schemas.invocations import InvocationRequest, InvocationResponse
from app.services.test_invocations import run_test_invocation

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])


@router.post(
    "/{flow_id}/invocations/",
    response_model=InvocationResponse,
    responses=ERROR_RESPONSES,
    summary="Test a flow step",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InvocationRequest.model_json_schema()}},
        }
    },
)
async def invoke_hog_flow(
    session: DBSession,
    settings: AppSettings,
    ctx: WriteTeam,
    flow_id: str,
    # Parsed by the service: PostHog answers this endpoint's validation errors in raw DRF form.
    body: Annotated[Any, Body(include_in_schema=False)] = None,
) -> InvocationResponse:
    """Run one step with the given globals (`flow_id` may be `new` for an unsaved flow). Nothing is stored."""
    return await run_test_invocation(session, settings, ctx.team, flow_id, body)
