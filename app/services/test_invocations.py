"""Test invocations: one step of a flow (saved, unsaved or overridden) with given globals.

Nothing is stored: no run, no logs, no metrics. Mirrors PostHog's `POST .../invocations/`.
Function steps either get mocked async functions (`mock_async_functions`, the default: nothing is
sent, each call is logged) or really send, without send records.
"""

import uuid
from dataclasses import replace
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.crypto import SecretBox
from app.db.models import HogFlow, Team
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.integrations import IntegrationRepository
from app.engine.executor import ExecutorOptions, execute_single_step
from app.engine.functions import FunctionStepRunner, MockedCalls
from app.engine.graph import FlowSnapshot
from app.engine.invocation import Invocation, default_variables, initial_state, to_millis
from app.errors import RawError, ValidationError, drf_error_from_pydantic
from app.schemas.hog_flow import HogFlowCreate
from app.schemas.invocations import InvocationLog, InvocationRequest, InvocationResponse
from app.services.hog_flows import validated_configuration
from app.worker.function_steps import real_calls, retry_policy
from app.worker.processor import flow_snapshot

# PostHog's test invocations allow five async calls in the one step they run (real runs: one per pickup).
TEST_MAX_ASYNC_CALLS = 5


def _nest(path: list[str | int], message: str) -> Any:
    """DRF's raw error layout for a path: `{"actions": [{}, {"name": ["msg"]}]}`."""
    if not path:
        return [message]
    head, rest = path[0], path[1:]
    if isinstance(head, int) or (isinstance(head, str) and head.isdigit()):
        index = int(head)
        return [{} for _ in range(index)] + [_nest(rest, message)]
    return {str(head): _nest(rest, message)}


def raw_validation_error(path: list[str | int], message: str) -> RawError:
    return RawError(_nest(path, message), status_code=400)


def _raw_from_pydantic(error: PydanticValidationError, prefix: list[str | int]) -> RawError:
    first = error.errors()[0]
    return raw_validation_error([*prefix, *first["loc"]], drf_error_from_pydantic(dict(first))[1])


def parse_request(body: Any) -> InvocationRequest:
    try:
        return InvocationRequest.model_validate(body)
    except PydanticValidationError as error:
        raise _raw_from_pydantic(error, []) from error


async def _flow_for(session: AsyncSession, team: Team, flow_id: str) -> HogFlow | None:
    """PostHog swallows a bad or unknown id and treats the flow as new."""
    try:
        parsed = uuid.UUID(flow_id)
    except ValueError:
        return None
    return await HogFlowRepository(session).get(team.id, parsed)


def _snapshot(team: Team, flow: HogFlow | None, configuration: dict[str, Any] | None) -> FlowSnapshot:
    base = (
        flow_snapshot(flow)
        if flow is not None
        else FlowSnapshot(
            id="new",
            team_id=team.id,
            status="draft",
            actions=[],
            edges=[],
            trigger={},
            conversion=None,
            exit_condition="exit_on_conversion",
            variables=[],
        )
    )
    if not configuration:
        return base
    edges = configuration.get("edges", base.edges)
    return replace(
        base,
        actions=configuration.get("actions", base.actions),
        edges=edges if isinstance(edges, list) else [],
        trigger=configuration.get("trigger", base.trigger),
        conversion=configuration.get("conversion", base.conversion),
        exit_condition=configuration.get("exit_condition") or base.exit_condition,
        variables=configuration.get("variables", base.variables),
    )


async def run_test_invocation(
    session: AsyncSession, settings: Settings, team: Team, flow_id: str, body: Any
) -> InvocationResponse:
    request = parse_request(body)
    if request.invocation_id is not None:
        try:
            uuid.UUID(request.invocation_id)
        except ValueError:
            raise RawError({"status": "error", "message": "Invalid invocation ID"}, status_code=400) from None
    box = SecretBox.from_setting(settings.secret_key)
    flow = await _flow_for(session, team, flow_id)
    configuration = None
    if request.use_draft:
        # The draft was validated when it was staged; test it as it would go live.
        if flow is None or flow.draft is None:
            raise raw_validation_error(["use_draft"], "This workflow has no draft to test.")
        configuration = dict(flow.draft)
    elif request.configuration is not None:
        try:
            payload = HogFlowCreate.model_validate(request.configuration)
            configuration = await validated_configuration(payload, team, box)
        except PydanticValidationError as error:
            raise _raw_from_pydantic(error, ["configuration"]) from error
        except ValidationError as error:
            path: list[str | int] = ["configuration", *(error.attr or "non_field_errors").split("__")]
            raise raw_validation_error(path, error.detail) from error
    globals_ = request.globals or {}
    event = globals_.get("event")
    if not isinstance(event, dict):
        raise RawError({"status": "error", "message": "Missing event"}, status_code=400)
    snapshot = _snapshot(team, flow, configuration)
    state = initial_state(event, default_variables(snapshot.variables), globals_.get("variables"))
    options = ExecutorOptions()
    mocks = MockedCalls(clock=options.clock) if request.mock_async_functions else None
    options.run_function = runner = FunctionStepRunner(
        calls=mocks or real_calls(settings),
        integrations=IntegrationRepository(session, box),
        max_calls_per_pickup=TEST_MAX_ASYNC_CALLS,
        retry=retry_policy(settings),
        site_url=settings.site_url,
        box=box,
    )
    if request.current_action_id:
        state["currentAction"] = {"id": request.current_action_id, "startedAtTimestamp": to_millis(options.clock())}
    invocation = Invocation(
        id=str(uuid.uuid4()),
        flow=replace(snapshot, status="active"),
        state=state,
        person=globals_.get("person"),
        groups=globals_.get("groups") or {},
    )
    if request.current_action_id and not snapshot.has_action(request.current_action_id):
        return InvocationResponse(
            nextActionId=request.current_action_id,
            status="error",
            errors=[f"Action {request.current_action_id} not found"],
            logs=[],
            variables=state["variables"],
        )
    step = await execute_single_step(invocation, options)
    # PostHog lists the mocked calls after the step's own logs.
    logs = [*step.logs, *(mocks.logs if mocks else [])]
    response = InvocationResponse(
        nextActionId=step.next_action_id,
        status="error" if step.error else "success",
        errors=[step.error] if step.error else [],
        logs=[InvocationLog(level=log.level, timestamp=log.timestamp, message=log.message) for log in logs],
        variables=step.variables,
        execResult=step.exec_result,
    )
    if not runner.secrets_seen:
        return response
    # Mocked calls print their arguments (an integration's token in an Authorization header, say), and a
    # template may echo an input in its result: nothing of a secret leaves in the answer.
    return InvocationResponse.model_validate(runner.redact(response.model_dump(mode="json")))
