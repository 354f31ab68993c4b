"""Operating on a flow's runs: cancel, rerun, results, and the idempotent "run now" (PostHog's shapes).

1. Cancel (`invocations/cancel`): exactly one of `invocation_ids` or `all`. Parked runs (queued or
   waiting) end at once with their log line and metric; runs a worker holds are flagged and end at
   their next step boundary. At most `MAX_COUNT` runs per call: `remaining`/`done` say whether to
   call again. Per id: `requested`, `already_finished`, `not_found` or `unmarked` (it moved between
   parked and running while we looked; retry).
2. Rerun (`rerun`): selects finished runs created in `[window_start, window_end)` (30 days at most)
   by status (default failed), error kind, error text (case-insensitive), reruns so far
   (`max_attempts`) and ids, up to `max_count` (10,000). A failed run restarts at the step that
   failed, a succeeded or canceled one from its start, all with their state and variables. Failed
   sends are forgotten so they go out again; completed ones stay in the send ledger, so a
   restarted step replays them instead of sending twice. Differences from
   PostHog: the selection happens in the request, so `queued_count`/`skipped_count` are real
   numbers (PostHog answers 0 and selects in a background job); the restarted runs execute in the
   worker pool, tagged with `rerun_job_id`.
3. Results (`invocation_results`, `invocation_results/{id}`, `invocation_results_count`): our runs
   table in PostHog's row shape, a bare list newest first (`limit` 1-500, no pagination). Statuses
   are PostHog's: `succeeded`, `failed`, `canceled`, `running` (queued, running and waiting runs);
   an unknown status name matches nothing, as in PostHog. `attempts` counts reruns (0 for a run
   never rerun). `scheduled_at` is when the run was created, `started_at` its first pickup (PostHog
   writes the start of the latest attempt); `invocation_globals` is the run's state without
   `inputs`, as PostHog stores it for flows. An unknown id is a 404 "Invocation not found.".
4. Run now (`run`): an active flow with a `schedule` (PostHog) or `manual` (ours) trigger starts a
   run and answers `{status: "queued", invocation_id}`; with an `Idempotency-Key` the same key
   starts one run per flow, and a repeat answers the same body. PostHog keeps keys for a while in a
   cache and answers 409 while the first call is in flight; we keep them on the run, for as long as
   the run exists, and concurrent calls with one key meet at a unique index (no 409 is needed).
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowRun, RunStatus
from app.db.repositories.observability import ObservabilityRepository
from app.db.repositories.run_control import RunControlRepository
from app.db.repositories.runs import RunRepository
from app.engine.cancel import cancel_records
from app.engine.invocation import default_variables, initial_state, to_millis
from app.errors import NotFound, ValidationError

MAX_COUNT = 10_000
RERUN_MAX_WINDOW = timedelta(days=30)
MAX_VARIABLES_BYTES = 5 * 1024
RUN_NOW_TRIGGERS = ("schedule", "manual")
RUN_NOW_EVENT = "$workflow_triggered"

STATUS_OF = {RunStatus.COMPLETED: "succeeded", RunStatus.FAILED: "failed", RunStatus.CANCELLED: "canceled"}
RUNS_OF = {
    "succeeded": (RunStatus.COMPLETED,),
    "success": (RunStatus.COMPLETED,),
    "failed": (RunStatus.FAILED,),
    "canceled": (RunStatus.CANCELLED,),
    "cancelled": (RunStatus.CANCELLED,),
    "running": (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING),
}


def result_status(status: str) -> str:
    return STATUS_OF.get(status, "running")


# PostHog's `classifyError` (hog-invocation-results service): status codes count only next to an HTTP word.
_HTTP_5XX = re.compile(r"\b(?:status(?:\s*code)?|http(?:[/ ]\d)?)\s*[:= ]?\s*5\d{2}\b")
_HTTP_4XX = re.compile(r"\b(?:status(?:\s*code)?|http(?:[/ ]\d)?)\s*[:= ]?\s*4\d{2}\b")
ERROR_MESSAGE_MAX = 4096


def error_kind(error: str | None) -> str:
    """A coarse, low-cardinality class of a run's error, as PostHog's producer assigns it."""
    if not error:
        return ""
    lowered = error.lower()
    if "timeout" in lowered or "timed out" in lowered:
        return "timeout"
    if _HTTP_5XX.search(lowered) or "server error" in lowered:
        return "http_5xx"
    if _HTTP_4XX.search(lowered):
        return "http_4xx"
    if "out of memory" in lowered or "oom" in lowered:
        return "oom"
    return "hog_error"


# -- cancel ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    marked: int
    remaining: int
    ids: list[dict[str, str]] | None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"marked": self.marked, "remaining": self.remaining, "done": self.remaining == 0}
        if self.ids is not None:
            body["ids"] = self.ids
        return body


def _uuid_list(raw: Any) -> list[UUID]:
    if not isinstance(raw, list):
        raise ValidationError(f'Expected a list of items but got type "{type(raw).__name__}".', attr="invocation_ids")
    if len(raw) > MAX_COUNT:
        raise ValidationError(f"Ensure this field has no more than {MAX_COUNT} elements.", attr="invocation_ids")
    ids = []
    for index, item in enumerate(raw):
        try:
            ids.append(UUID(str(item)))
        except ValueError:
            raise ValidationError("Must be a valid UUID.", attr=f"invocation_ids__{index}") from None
    return ids


async def cancel_runs(session: AsyncSession, flow: HogFlow, body: Any) -> CancelResult:
    body = body if isinstance(body, dict) else {}
    raw_ids, everything = body.get("invocation_ids"), body.get("all", False)
    if not isinstance(everything, bool):
        raise ValidationError("Must be a valid boolean.", attr="all")
    if (raw_ids is not None) == everything:
        raise ValidationError("Provide exactly one of 'invocation_ids' or 'all'.")
    ids = _uuid_list(raw_ids) if raw_ids is not None else None
    now = utcnow()
    runs = RunRepository(session)
    ended, flagged = await runs.cancel(flow.team_id, flow.id, ids, now, MAX_COUNT)
    records = [
        cancel_records(run.team_id, run.parent_run_id or str(run.hog_flow_id), str(run.id), run.current_action_id, now)
        for run in ended
    ]
    observability = ObservabilityRepository(session)
    await observability.add_logs([log for log, _ in records])
    await observability.add_metrics([metric for _, metric in records])
    marked = len(ended) + len(flagged)
    if ids is None:
        return CancelResult(marked, await runs.in_flight_unflagged(flow.team_id, flow.id), None)
    requested = {run.id for run in ended} | set(flagged)
    statuses = await runs.statuses(flow.team_id, flow.id, ids)
    outcomes = []
    for run_id in dict.fromkeys(ids):
        if run_id in requested:
            outcome = "requested"
        elif run_id not in statuses:
            outcome = "not_found"
        elif statuses[run_id] in RunStatus.FINISHED:
            outcome = "already_finished"
        elif statuses[run_id] == RunStatus.RUNNING:
            outcome = "requested"  # flagged by an earlier request, still on its way out
        else:
            outcome = "unmarked"
        outcomes.append({"id": str(run_id), "outcome": outcome})
    remaining = sum(1 for item in outcomes if item["outcome"] == "unmarked")
    return CancelResult(marked, remaining, outcomes)


# -- rerun ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RerunFilter:
    window_start: datetime
    window_end: datetime
    status: tuple[str, ...] = ("failed",)
    error_kind: tuple[str, ...] = ()
    error_message_contains: str | None = None
    max_attempts: int | None = None
    max_count: int = MAX_COUNT
    invocation_ids: tuple[UUID, ...] | None = None

    def check(self) -> None:
        if self.window_end <= self.window_start:
            raise ValidationError("'window_end' must be after 'window_start'.", attr="filter")
        if self.window_end - self.window_start > RERUN_MAX_WINDOW:
            raise ValidationError(
                f"Rerun window cannot exceed {RERUN_MAX_WINDOW.days} days (ClickHouse TTL on hog_invocation_results).",
                attr="filter",
            )

    def selects(self, run: HogFlowRun) -> bool:
        if self.error_kind and error_kind(run.error) not in self.error_kind:
            return False
        needle = (self.error_message_contains or "").lower()
        return not needle or needle in (run.error or "").lower()


@dataclass(frozen=True)
class RerunResult:
    rerun_job_id: str
    queued: list[UUID]
    skipped_count: int

    def body(self) -> dict[str, Any]:
        return {
            "rerun_job_id": self.rerun_job_id,
            "queued_count": len(self.queued),
            "skipped_count": self.skipped_count,
        }


async def rerun_runs(session: AsyncSession, flow: HogFlow, selection: RerunFilter) -> RerunResult:
    selection.check()
    if flow.status != "active":
        raise ValidationError("Workflow must be active to rerun invocations. Enable it first.", attr="status")
    statuses = sorted({status for name in selection.status for status in RUNS_OF.get(name, ())})
    control = RunControlRepository(session)
    candidates = await control.in_window(
        flow.team_id,
        flow.id,
        statuses,
        selection.window_start,
        selection.window_end,
        list(selection.invocation_ids) if selection.invocation_ids is not None else None,
        limit=MAX_COUNT,
    )
    matching = [run for run in candidates if selection.selects(run)][: selection.max_count]
    job_id = str(uuid.uuid4())
    now = utcnow()
    restart: list[HogFlowRun] = []
    skipped = 0
    for run in matching:
        in_flight = run.status not in RunStatus.FINISHED
        if in_flight or (selection.max_attempts is not None and reruns(run) >= selection.max_attempts):
            skipped += 1
            continue
        restart.append(run)
    for run in restart:
        _restart(run, job_id, now)
    await control.forget_failed_sends([run.id for run in restart])
    await session.flush()
    return RerunResult(job_id, [run.id for run in restart], skipped)


def _restart(run: HogFlowRun, job_id: str, now: datetime) -> None:
    """Back to queued: a failed run at the step that failed, a succeeded or canceled one at its start."""
    state = dict(run.state or {})
    current = state.get("currentAction")
    if run.status == RunStatus.FAILED and isinstance(current, dict) and current.get("id"):
        # The step's own bookkeeping (a paused function, retry counts) goes: it starts over.
        state["currentAction"] = {"id": current["id"], "startedAtTimestamp": to_millis(now)}
    else:
        state.pop("currentAction", None)
        state["actionStepCount"] = 0
    run.state = state
    run.status = RunStatus.QUEUED
    run.next_run_at = now
    run.error = None
    run.finished_at = None
    run.cancel_requested = False
    run.attempts = run.attempts + 1
    run.rerun_job_id = job_id
    run.current_action_id = (state.get("currentAction") or {}).get("id")
    run.updated_at = now


# -- run now --------------------------------------------------------------------------------------


async def run_now(
    session: AsyncSession, flow: HogFlow, variables: Any, idempotency_key: str | None
) -> tuple[HogFlowRun, bool]:
    """Start a run now; returns (run, created). A known `idempotency_key` returns its run instead."""
    if flow.status != "active":
        raise ValidationError("Workflow must be active to run. Enable it first.", attr="status")
    trigger_type = (flow.trigger or {}).get("type")
    if trigger_type not in RUN_NOW_TRIGGERS:
        raise ValidationError(
            f"Only workflows with a 'schedule' trigger can be run this way (this one has '{trigger_type}').",
            attr="trigger",
        )
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise ValidationError(
            f'Expected a dictionary of items but got type "{type(variables).__name__}".', attr="variables"
        )
    merged = {**default_variables(flow.variables), **variables}
    if len(json.dumps(merged, default=str)) > MAX_VARIABLES_BYTES:
        raise ValidationError("Total size of variable overrides must be less than 5KB", attr="variables")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise ValidationError("The Idempotency-Key header must be 1 to 200 characters.", attr="Idempotency-Key")
    runs = RunRepository(session)
    if idempotency_key is not None:
        existing = await runs.by_idempotency_key(flow.id, idempotency_key)
        if existing is not None:
            return existing, False
    now = utcnow()
    event = {
        "uuid": str(uuid.uuid4()),
        "event": RUN_NOW_EVENT,
        "distinct_id": "",
        "properties": {},
        "elements_chain": "",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
    }
    try:
        async with session.begin_nested():
            run = await runs.create(
                team_id=flow.team_id,
                hog_flow_id=flow.id,
                state=initial_state(event, default_variables(flow.variables), variables),
                now=now,
                is_manual=True,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # A concurrent request with the same key won the insert.
        if idempotency_key is None:
            raise
        existing = await runs.by_idempotency_key(flow.id, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return run, True


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsQuery:
    status: str | None = None
    distinct_id: str | None = None
    error_message_contains: str | None = None
    after: datetime | None = None
    before: datetime | None = None

    def filters(self) -> dict[str, Any]:
        statuses = None
        if self.status:
            # PostHog matches the names against stored statuses: an unknown name matches nothing.
            names = [name.strip() for name in self.status.split(",") if name.strip()]
            statuses = sorted({status for name in names for status in RUNS_OF.get(name, ())})
        return {
            "statuses": statuses,
            "distinct_id": self.distinct_id,
            "error_contains": self.error_message_contains,
            "after": self.after,
            "before": self.before,
        }


async def invocation_results(
    session: AsyncSession, flow: HogFlow, query: ResultsQuery, limit: int
) -> list[dict[str, Any]]:
    filters = query.filters()
    if filters["statuses"] == []:
        return []
    runs = await RunControlRepository(session).results(flow.team_id, flow.id, limit=limit, **filters)
    return [result_row(run) for run in runs]


async def invocation_results_count(session: AsyncSession, flow: HogFlow, query: ResultsQuery) -> int:
    filters = query.filters()
    if filters["statuses"] == []:
        return 0
    return await RunControlRepository(session).results_count(flow.team_id, flow.id, **filters)


async def invocation_result(session: AsyncSession, flow: HogFlow, raw_id: str) -> dict[str, Any]:
    try:
        run_id = UUID(raw_id)
    except ValueError:
        raise NotFound("Invocation not found.") from None
    run = await RunRepository(session).get(flow.team_id, flow.id, run_id)
    if run is None:
        raise NotFound("Invocation not found.")
    return {**result_row(run), "invocation_globals": _without_inputs(run.state or {})}


def reruns(run: HogFlowRun) -> int:
    """PostHog's `attempts`: how many times the run was rerun (0 for a run never rerun)."""
    return max(run.attempts - 1, 0)


def result_row(run: HogFlowRun) -> dict[str, Any]:
    """A run as a row of PostHog's `hog_invocation_results` (scheduled = created, started = first pickup)."""
    started_at = run.created_at if run.pickups else None
    duration = None
    if started_at is not None and run.finished_at is not None:
        duration = max(int((run.finished_at - started_at).total_seconds() * 1000), 0)
    return {
        "invocation_id": str(run.id),
        "status": result_status(run.status),
        "error_kind": error_kind(run.error),
        "error_message": (run.error or "")[:ERROR_MESSAGE_MAX],
        "distinct_id": run.distinct_id or "",
        "person_id": str(run.person_id) if run.person_id else "",
        "scheduled_at": run.created_at,
        "started_at": started_at,
        "finished_at": run.finished_at,
        "duration_ms": duration,
        "attempts": reruns(run),
        "is_retry": run.attempts > 1,
    }


def _without_inputs(value: Any) -> Any:
    """PostHog stores a flow run's state with every `inputs` removed: resolved inputs can hold secrets."""
    if isinstance(value, dict):
        return {key: _without_inputs(item) for key, item in value.items() if key != "inputs"}
    if isinstance(value, list):
        return [_without_inputs(item) for item in value]
    return value
