"""`bulk_delete` (api.md §8.2): delete the team's archived flows among the given ids.

The count mirrors PostHog's, which returns Django's delete total: the flows plus the rows Django
cascades to, i.e. their schedules, batch jobs and revisions. Runs, steps, logs and metrics go with the flow
too but are not counted (PostHog keeps those in the executor's stores, outside that total).
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.hog_flow import HogFlowRepository, HogFlowRevisionRepository
from app.db.repositories.schedules import ScheduleRepository
from app.errors import RawError

IDS_REQUIRED = "A non-empty list of 'ids' is required"
INVALID_IDS = "One or more IDs are not valid UUIDs"


def parse_ids(body: Any) -> list[uuid.UUID]:
    ids = body.get("ids") if isinstance(body, dict) else None
    if not ids or not isinstance(ids, list):
        raise RawError({"error": IDS_REQUIRED})
    try:
        return [uuid.UUID(str(value)) for value in ids]
    except ValueError:
        raise RawError({"error": INVALID_IDS}) from None


async def bulk_delete(session: AsyncSession, team_id: int, body: Any) -> int:
    flow_ids = parse_ids(body)
    schedules = await ScheduleRepository(session).count_for_flows(team_id, flow_ids, "archived")
    jobs = await BatchJobRepository(session).count_for_flows(team_id, flow_ids, "archived")
    revisions = await HogFlowRevisionRepository(session).count_for_flows(team_id, flow_ids, "archived")
    flows = await HogFlowRepository(session).delete_archived(team_id, flow_ids)
    return flows + schedules + jobs + revisions if flows else 0
