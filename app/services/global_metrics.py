"""`metrics/global`: succeeded and failed invocations per flow of the team over a window.

As PostHog's `hog_flows/metrics/global`: a bare list of `{workflow_id, succeeded, failed}`, the
most-failing flows first, only flows that still exist. A batch job's runs count for its flow.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.observability import ObservabilityRepository

NAMES = ("succeeded", "failed")


@dataclass(frozen=True)
class FlowTotals:
    workflow_id: str
    succeeded: int
    failed: int


async def global_totals(
    session: AsyncSession, team_id: int, after: datetime, before: datetime | None
) -> list[FlowTotals]:
    by_source = await ObservabilityRepository(session).totals_by_source(team_id, NAMES, after, before)
    flows = await HogFlowRepository(session).ids(team_id)
    jobs = await BatchJobRepository(session).flows_of_jobs(team_id)
    per_flow: dict[str, dict[str, int]] = {}
    for source_id, counts in by_source.items():
        flow_id = source_id if source_id in flows else jobs.get(source_id)
        if flow_id is None or flow_id not in flows:
            continue  # metrics of deleted flows
        totals = per_flow.setdefault(flow_id, {})
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    rows = [
        FlowTotals(flow_id, totals.get("succeeded", 0), totals.get("failed", 0)) for flow_id, totals in per_flow.items()
    ]
    # The most-failing flows first (PostHog's triage order); ties by id keep the answer stable.
    rows.sort(key=lambda row: (-row.failed, row.workflow_id))
    return rows
