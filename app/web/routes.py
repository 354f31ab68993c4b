"""The web page: server-rendered HTML over the same services and permission checks as the API.

Every page reads the session cookie, authenticates the key behind it with `authenticate_key_hash`
and authorizes the team with `authorize_team` (scope `hog_flow:read`, `hog_flow:write` to change a
status), exactly the API's checks. A domain error (`APIError`) on any page is rendered in the page
with the API's status code and message. A page asked with `?fragment=1` answers only the part that
`app.js` swaps in while polling.
"""

import json
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import (
    Authenticated,
    AuthorizedTeam,
    DBSession,
    authenticate_key_hash,
    authorize_team,
    parse_flow_id,
)
from app.crypto import SecretBox
from app.db.models import HogFlow as HogFlowModel
from app.db.models import HogFlowRun, HogFlowRunStep
from app.db.repositories.hog_flow import HogFlowListFilters, HogFlowRepository
from app.db.repositories.observability import LogQuery, MetricQuery, ObservabilityRepository
from app.db.repositories.runs import RunRepository
from app.db.repositories.tenancy import TenancyRepository
from app.errors import APIError, NotAuthenticated, PermissionDenied, RawError, ValidationError
from app.schemas.hog_flow import HogFlowStatus, HogFlowWrite
from app.services import batch_jobs as batch_service
from app.services import hog_flows as flow_service
from app.services import runs as run_service
from app.services.api_keys import hash_key
from app.services.metric_windows import TeamDates
from app.web.describe import summary
from app.web.layout import layout
from app.web.session import COOKIE_NAME, MAX_AGE_SECONDS, SessionCodec

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

READ, WRITE = "hog_flow:read", "hog_flow:write"
PERIODS = {"-24h": "24 hours", "-7d": "7 days", "-30d": "30 days", "-1y": "1 year"}
RUN_STATUSES = ("queued", "running", "waiting", "completed", "failed", "cancelled")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
LIST_LIMIT = 200
# Only our own script and stylesheet run, and no other site may frame the page (clickjacking on "Archive").
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _codec(request: Request) -> SessionCodec:
    return SessionCodec(request.app.state.settings.secret_key)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    cookie = request.cookies.get(COOKIE_NAME)
    signed_in = _codec(request).decode(cookie) is not None
    context.update(
        signed_in=signed_in,
        csrf=_codec(request).csrf_token(cookie) if signed_in and cookie else "",
        periods=PERIODS,
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _is_fragment(request: Request) -> bool:
    return request.query_params.get("fragment") == "1"


def _error_page(request: Request, status_code: int, detail: str, attr: str | None) -> HTMLResponse:
    if status_code == 401 and not _is_fragment(request):
        return render(request, "signin.html", status_code, error=detail)
    name = "_error.html" if _is_fragment(request) else "error.html"
    return render(request, name, status_code, code=status_code, detail=detail, attr=attr)


class WebRoute(APIRoute):
    """API errors become the page's error message instead of JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                response = await handler(request)
            except APIError as error:
                response = _error_page(request, error.status_code, error.detail, error.attr)
            except RawError as error:
                response = _error_page(request, error.status_code, json.dumps(error.body), None)
            response.headers.update(SECURITY_HEADERS)
            return response

        return render_errors


router = APIRouter(route_class=WebRoute, include_in_schema=False)


# Authentication and authorization (the API's functions, fed from the cookie)


async def _signed_in(request: Request, session: AsyncSession) -> Authenticated:
    key_hash = _codec(request).decode(request.cookies.get(COOKIE_NAME))
    if key_hash is None:
        raise NotAuthenticated()
    return await authenticate_key_hash(session, key_hash, "session cookie")


async def _team(request: Request, session: AsyncSession, team_id: str, scope: str = READ) -> AuthorizedTeam:
    return await authorize_team(session, await _signed_in(request, session), team_id, scope)


async def _flow(request: Request, session: AsyncSession, team_id: str, flow_id: str) -> tuple[AuthorizedTeam, Any]:
    ctx = await _team(request, session, team_id)
    return ctx, await flow_service.get_flow(session, ctx.team, parse_flow_id(flow_id))


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body).items()}


def _check_csrf(request: Request, form: dict[str, str]) -> None:
    if not _codec(request).csrf_valid(request.cookies.get(COOKIE_NAME), form.get("csrf")):
        raise PermissionDenied("The form expired or did not come from this page; reload and try again.")


# Sign in and out


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: DBSession) -> Response:
    if _codec(request).decode(request.cookies.get(COOKIE_NAME)) is None:
        return render(request, "signin.html")
    auth = await _signed_in(request, session)
    teams = []
    for team in await TenancyRepository(session).teams_of_member(auth.user.id):
        try:
            teams.append((await authorize_team(session, auth, str(team.id), READ)).team)
        except APIError:
            continue
    if len(teams) == 1:
        return RedirectResponse(f"/teams/{teams[0].id}/flows", status_code=303)
    return render(request, "teams.html", teams=teams, user=auth.user)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: DBSession) -> Response:
    key = (await _form(request)).get("api_key", "").strip()
    if not key:
        raise NotAuthenticated()
    auth = await authenticate_key_hash(session, hash_key(key), "body")
    response = RedirectResponse("/", status_code=303)
    secure = request.app.state.settings.site_url.startswith("https://")
    response.set_cookie(
        COOKIE_NAME,
        _codec(request).encode(auth.key.secure_value),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    _check_csrf(request, await _form(request))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response


# Flows


def _choice(value: str | None, choices: Sequence[str], attr: str) -> str | None:
    if not value:
        return None
    if value not in choices:
        raise ValidationError(f'Select a valid choice. "{value}" is not one of the available choices.', attr=attr)
    return value


@router.get("/teams/{team_id}/flows", response_class=HTMLResponse)
async def flows_page(
    request: Request, session: DBSession, team_id: str, status: str | None = None, search: str | None = None
) -> Response:
    ctx = await _team(request, session, team_id)
    filters = HogFlowListFilters(
        status=_choice(status, [s.value for s in HogFlowStatus], "status"), name_contains=search or None
    )
    count, flows = await HogFlowRepository(session).list(ctx.team.id, filters, limit=LIST_LIMIT, offset=0)
    week = await RunRepository(session).counts_since(
        ctx.team.id, [flow.id for flow in flows], datetime.now(UTC) - timedelta(days=7)
    )
    rows = [
        {
            "flow": flow,
            "trigger": summary({"type": "trigger", "config": flow.trigger or {}}),
            "runs": week.get(flow.id, (0, 0))[0],
            "failures": week.get(flow.id, (0, 0))[1],
        }
        for flow in flows
    ]
    return render(
        request,
        "flows.html",
        team=ctx.team,
        rows=rows,
        count=count,
        status=status or "",
        search=search or "",
        statuses=[s.value for s in HogFlowStatus],
    )


async def _step_counts(session: AsyncSession, ctx: AuthorizedTeam, flow: HogFlowModel, period: str) -> dict[str, Any]:
    """Per action over the period: runs that entered it (from the run traces, so runs waiting there
    count) and its succeeded, failed and filtered metrics. The trigger's `entered` is the runs started."""
    since = TeamDates.of(ctx.team).parse(period, "period")
    totals = await ObservabilityRepository(session).metric_totals_by_instance(
        MetricQuery(team_id=ctx.team.id, source_id=str(flow.id), after=since, names=["succeeded", "failed", "filtered"])
    )
    runs = RunRepository(session)
    entered = await runs.entered_by_action(ctx.team.id, flow.id, since)
    started = (await runs.counts_since(ctx.team.id, [flow.id], since)).get(flow.id, (0, 0))[0]
    counts: dict[str, dict[str, int]] = {}
    for action in flow.actions or []:
        if not isinstance(action, dict):
            continue
        action_id = str(action.get("id"))
        names = totals.get(action_id, {})
        counts[action_id] = {
            "entered": started if action.get("type") == "trigger" else entered.get(action_id, 0),
            "succeeded": started if action.get("type") == "trigger" else names.get("succeeded", 0),
            "failed": names.get("failed", 0),
            "filtered": names.get("filtered", 0),
        }
    return counts


def _period(raw: str | None) -> str:
    return raw or "-7d"


@router.get("/teams/{team_id}/flows/{flow_id}", response_class=HTMLResponse)
async def flow_page(
    request: Request, session: DBSession, team_id: str, flow_id: str, period: str | None = None
) -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    graph = layout(flow.actions or [], flow.edges or [])
    counts = await _step_counts(session, ctx, flow, _period(period))
    context = {"team": ctx.team, "flow": flow, "graph": graph, "counts": counts, "period": _period(period)}
    if _is_fragment(request):
        return render(request, "_graph.html", **context, path=None)
    trigger_action = next((a for a in flow.actions or [] if isinstance(a, dict) and a.get("type") == "trigger"), None)
    return render(
        request,
        "flow.html",
        **context,
        path=None,
        trigger_summary=summary({"type": "trigger", "config": flow.trigger or {}}),
        trigger_json=json.dumps(flow.trigger or (trigger_action or {}).get("config") or {}, indent=2),
        is_batch=(flow.trigger or {}).get("type") == "batch",
    )


@router.get("/teams/{team_id}/flows/{flow_id}/batch_jobs", response_class=HTMLResponse)
async def batch_jobs_fragment(request: Request, session: DBSession, team_id: str, flow_id: str) -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    jobs = await batch_service.list_batch_jobs(session, flow)
    progress = await RunRepository(session).progress_of_parents(ctx.team.id, [str(job["id"]) for job in jobs])
    rows = [{**job, "runs": progress.get(str(job["id"]), (0, 0))} for job in jobs[:20]]
    return render(request, "_batch_jobs.html", team=ctx.team, flow=flow, jobs=rows)


@router.get("/teams/{team_id}/flows/{flow_id}/status", response_class=HTMLResponse)
async def confirm_status(request: Request, session: DBSession, team_id: str, flow_id: str, to: str = "") -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    target = _choice(to, [HogFlowStatus.ACTIVE.value, HogFlowStatus.ARCHIVED.value], "status")
    return render(request, "confirm.html", team=ctx.team, flow=flow, to=target)


@router.post("/teams/{team_id}/flows/{flow_id}/status")
async def change_status(request: Request, session: DBSession, team_id: str, flow_id: str) -> Response:
    form = await _form(request)
    _check_csrf(request, form)
    ctx = await _team(request, session, team_id, WRITE)
    target = _choice(form.get("to"), [HogFlowStatus.ACTIVE.value, HogFlowStatus.ARCHIVED.value], "status")
    if target is None:
        raise ValidationError("This field is required.", attr="status")
    await flow_service.update_flow(
        session,
        ctx.team,
        ctx.user,
        parse_flow_id(flow_id),
        HogFlowWrite(status=HogFlowStatus(target)),
        SecretBox.from_setting(request.app.state.settings.secret_key),
    )
    return RedirectResponse(f"/teams/{ctx.team.id}/flows/{flow_id}", status_code=303)


# Runs


@router.get("/teams/{team_id}/flows/{flow_id}/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request,
    session: DBSession,
    team_id: str,
    flow_id: str,
    status: str | None = None,
    person: str | None = None,
) -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    count, runs = await RunRepository(session).list_for_flow(
        ctx.team.id,
        flow.id,
        status=_choice(status, RUN_STATUSES, "status"),
        distinct_id=person or None,
        limit=LIST_LIMIT,
        offset=0,
    )
    context = {"team": ctx.team, "flow": flow, "runs": runs, "count": count}
    if _is_fragment(request):
        return render(request, "_runs.html", **context)
    query = urlencode({k: v for k, v in {"status": status, "person": person, "fragment": "1"}.items() if v})
    return render(
        request, "runs.html", **context, status=status or "", person=person or "", statuses=RUN_STATUSES, query=query
    )


def _path(steps: Sequence[HogFlowRunStep], flow: HogFlowModel) -> dict[str, Any]:
    """The steps a run took, for highlighting: the order numbers per action and the edges followed."""
    order: dict[str, list[int]] = {}
    timing: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    trigger = next((a for a in flow.actions or [] if isinstance(a, dict) and a.get("type") == "trigger"), None)
    if trigger is not None and steps:
        edges.add((str(trigger.get("id")), steps[0].action_id))
    for number, step in enumerate(steps, start=1):
        order.setdefault(step.action_id, []).append(number)
        timing[step.action_id] = f"{step.outcome} {step.started_at:%H:%M:%S}, {_duration(step)}"
        if step.next_action_id:
            edges.add((step.action_id, step.next_action_id))
    return {"order": order, "timing": timing, "edges": edges, "trigger": str(trigger.get("id")) if trigger else None}


def _duration(step: HogFlowRunStep) -> str:
    millis = (step.finished_at - step.started_at).total_seconds() * 1000
    return f"{millis:.0f} ms" if millis < 10_000 else f"{millis / 1000:.1f} s"


@router.get("/teams/{team_id}/flows/{flow_id}/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, session: DBSession, team_id: str, flow_id: str, run_id: str) -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    run: HogFlowRun
    run, steps = await run_service.get_run(session, flow, parse_flow_id(run_id))
    logs = await ObservabilityRepository(session).list_logs(
        LogQuery(team_id=ctx.team.id, source_id=run.parent_run_id or str(flow.id), limit=500, instance_id=str(run.id))
    )
    names = {str(a.get("id")): str(a.get("name") or a.get("id")) for a in flow.actions or [] if isinstance(a, dict)}
    context = {
        "team": ctx.team,
        "flow": flow,
        "run": run,
        "steps": [(step, names.get(step.action_id, step.action_id), _duration(step)) for step in steps],
        "logs": logs,
        "graph": layout(flow.actions or [], flow.edges or []),
        "counts": {},
        "path": _path(steps, flow),
    }
    if _is_fragment(request):
        return render(request, "_run.html", **context)
    return render(request, "run.html", **context)


# Logs


@router.get("/teams/{team_id}/flows/{flow_id}/logs", response_class=HTMLResponse)
async def logs_page(
    request: Request,
    session: DBSession,
    team_id: str,
    flow_id: str,
    level: str | None = None,
    search: str | None = None,
) -> Response:
    ctx, flow = await _flow(request, session, team_id, flow_id)
    levels = [_choice(level.upper(), LOG_LEVELS, "level") or ""] if level else []
    logs = await ObservabilityRepository(session).list_logs(
        LogQuery(team_id=ctx.team.id, source_id=str(flow.id), limit=LIST_LIMIT, levels=levels, search=search or None)
    )
    context = {"team": ctx.team, "flow": flow, "logs": logs}
    if _is_fragment(request):
        return render(request, "_logs.html", **context)
    query = urlencode({k: v for k, v in {"level": level, "search": search, "fragment": "1"}.items() if v})
    return render(
        request,
        "logs.html",
        **context,
        level=(level or "").upper(),
        search=search or "",
        levels=LOG_LEVELS,
        query=query,
    )
