"""The function-step runner of real runs: real HTTP and SMTP, send records and integrations in the database.

A send record is claimed by one statement committed on its own (autocommit on PostgreSQL), apart from the
pickup's transactions: the pending row must be durable before the request leaves, or a crash could lose
it and a retried pickup would send again. Its completion is deferred, inside a pickup, to the pickup's
result transaction (`deferred_completions`): a crash in between leaves it pending, which a retried
pickup treats as "may have been sent" and does not send again.
"""

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import SecretBox
from app.db.asyncpg_direct import driver_connection, session_driver_connection
from app.db.models import HogFlowSend
from app.db.repositories.integrations import IntegrationRepository
from app.db.repositories.sends import DONE, SendRepository, claim_many_pg, complete_many_pg
from app.db.repositories.tenancy import TenancyRepository
from app.db.session import session_scope
from app.engine.functions import (
    CallOutcome,
    FetchSettings,
    FunctionStepRunner,
    HttpFetcher,
    IntegrationConfig,
    RealCalls,
    RetryPolicy,
    SendClaim,
    SendKey,
    SmtpEmailSender,
    SmtpSettings,
)
from app.ingest.errors import CaptureError
from app.ingest.events import normalize_event
from app.ingest.pipeline import IngestServices, ingest_events
from app.ingest.services import ingest_services
from app.worker.coalesce import Coalescer
from app.worker.scheduling import Scheduler, schedule_runs

logger = structlog.get_logger(__name__)

_deferred: ContextVar[list[tuple[SendKey, CallOutcome]] | None] = ContextVar("deferred_send_completions", default=None)


@contextmanager
def deferred_completions() -> Iterator[list[tuple[SendKey, CallOutcome]]]:
    """Collect the send completions of the code run inside, for the caller to store in its own transaction."""
    pending: list[tuple[SendKey, CallOutcome]] = []
    token = _deferred.set(pending)
    try:
        yield pending
    finally:
        _deferred.reset(token)


def completion_items(completions: list[tuple[SendKey, CallOutcome]]) -> list[dict[str, Any]]:
    """Send completions as `complete_many`'s items."""
    return [
        {
            "run_id": UUID(key.run_id),
            "action_id": key.action_id,
            "attempt": key.attempt,
            "call_index": key.call_index,
            "response": outcome.to_json(),
        }
        for key, outcome in completions
    ]


async def store_completions(session: AsyncSession, completions: list[tuple[SendKey, CallOutcome]]) -> None:
    """Mark sends done, all in one statement."""
    if not completions:
        return
    items = completion_items(completions)
    if session.get_bind().dialect.name == "postgresql":
        await complete_many_pg(await session_driver_connection(session), items, datetime.now(UTC))
    else:
        await SendRepository(session).complete_many(items, datetime.now(UTC))


class DatabaseSendLedger:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        # Claims of concurrent pickups share one INSERT; each call is its own key (see `_claim_many`).
        self._claims: Coalescer[tuple[SendKey, str, int], SendClaim] = Coalescer(self._claim_many)
        self._calls = itertools.count()

    async def claim(self, key: SendKey, kind: str) -> SendClaim:
        return await self._claims.get((key, kind, next(self._calls)))

    async def _claim_many(self, calls: Sequence[tuple[SendKey, str, int]]) -> dict[tuple[SendKey, str, int], SendClaim]:
        """Insert the pending rows of several sends in one statement, committed when it returns (the row is
        durable before any of the requests leaves). A key asked twice in one batch is new only once."""
        now = datetime.now(UTC)
        claims = list({(UUID(k.run_id), k.action_id, k.attempt, k.call_index): kind for k, kind, _ in calls}.items())
        rows = [(*key, kind) for key, kind in claims]
        engine: AsyncEngine = self.sessionmaker.kw["bind"]
        if engine.dialect.name == "postgresql":
            # One round-trip, committed when it returns: no BEGIN/COMMIT around a single INSERT.
            async with driver_connection(engine, transaction=False) as connection:
                existing = await claim_many_pg(connection, rows, now)
        else:
            async with session_scope(self.sessionmaker) as session:
                existing = await SendRepository(session).claim_many(rows, now)
        answers: dict[tuple[SendKey, str, int], SendClaim] = {}
        answered: set[tuple[UUID, str, int, int]] = set()
        for call in calls:
            key = call[0]
            row_key = (UUID(key.run_id), key.action_id, key.attempt, key.call_index)
            if row_key in answered:
                answers[call] = SendClaim("pending")
                continue
            answered.add(row_key)
            # A row neither inserted nor found was deleted meanwhile: do not risk a second send.
            answers[call] = _send_claim(existing[row_key]) if row_key in existing else SendClaim("pending")
        return answers

    async def complete(self, key: SendKey, outcome: CallOutcome) -> None:
        deferred = _deferred.get()
        if deferred is not None:
            deferred.append((key, outcome))
            return
        async with session_scope(self.sessionmaker) as session:
            await store_completions(session, [(key, outcome)])


def _send_claim(existing: HogFlowSend | None) -> SendClaim:
    if existing is None:
        return SendClaim("new")
    if existing.status == DONE and isinstance(existing.response, dict):
        return SendClaim("done", CallOutcome.from_json(existing.response))
    return SendClaim("pending")


class PipelineCapture:
    """`postHogCapture` in a run: the events go through the team's capture pipeline, like SDK events."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], services: IngestServices, scheduler: Scheduler
    ) -> None:
        self.sessionmaker = sessionmaker
        self.services = services
        self.scheduler = scheduler

    async def capture(self, team_id: int, events: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        incoming = []
        for raw in events:
            try:
                incoming.append(normalize_event(raw, sent_at=None, now=now))
            except CaptureError as error:
                logger.warning("app.worker.capture_refused", team_id=team_id, error=str(error))
        if not incoming:
            return
        async with session_scope(self.sessionmaker) as session:
            team = await TenancyRepository(session).get_team(team_id)
            if team is None:
                return
            run_ids = await ingest_events(session, team, incoming, self.services, now)
        await schedule_runs(self.scheduler, run_ids, now)


class DatabaseIntegrations:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self.sessionmaker = sessionmaker
        self.box = box

    async def resolve(self, team_id: int, integration_id: int) -> IntegrationConfig | None:
        async with session_scope(self.sessionmaker) as session:
            return await IntegrationRepository(session, self.box).resolve(team_id, integration_id)


def real_calls(settings: Settings) -> RealCalls:
    """HTTP and SMTP clients configured from the settings (shared by runs and test invocations)."""
    fetcher = HttpFetcher(
        FetchSettings(
            timeout_s=settings.fetch_timeout_seconds,
            max_response_bytes=settings.fetch_max_response_bytes,
            allow_private=settings.allow_private_fetch,
            url_overrides=dict(settings.fetch_url_overrides),
        )
    )
    email = SmtpEmailSender(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password,
            tls=settings.smtp_tls,
            default_from=settings.email_from,
        )
    )
    return RealCalls(fetcher=fetcher, email=email)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(base=timedelta(seconds=settings.fetch_retry_base_seconds))


def build_function_runner(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, scheduler: Scheduler | None = None
) -> FunctionStepRunner:
    capture = None
    if scheduler is not None:
        capture = PipelineCapture(sessionmaker, ingest_services(settings, scheduler), scheduler)
    box = SecretBox.from_setting(settings.secret_key)
    return FunctionStepRunner(
        capture=capture,
        calls=real_calls(settings),
        integrations=DatabaseIntegrations(sessionmaker, box),
        ledger=DatabaseSendLedger(sessionmaker),
        retry=retry_policy(settings),
        site_url=settings.site_url,
        box=box,
    )
