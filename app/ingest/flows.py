"""A team's active event-triggered flows, cached per API process and checked on every request.

Every request reads a cheap stamp of the team's flows (count and latest `updated_at`): saving a flow
moves `updated_at`, creating or deleting one changes the count, so a flow activated a moment ago is
seen by the very next event. `max_age_seconds` bounds staleness in the unlikely case a save lands
with an older `updated_at` (clock skew between processes).
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.db.models import HogFlow
from app.db.repositories.ingest import FlowsStamp, IngestRepository
from app.engine.invocation import default_variables


@dataclass(frozen=True)
class EventFlow:
    """What the trigger pipeline needs from a flow."""

    id: UUID
    team_id: int
    filters: dict[str, Any]
    masking: dict[str, Any] | None
    default_variables: dict[str, Any]

    @property
    def source_id(self) -> str:
        return str(self.id)


def event_flow(flow: HogFlow) -> EventFlow:
    trigger = flow.trigger if isinstance(flow.trigger, dict) else {}
    filters = trigger.get("filters")
    masking = flow.trigger_masking if isinstance(flow.trigger_masking, dict) else None
    return EventFlow(
        id=flow.id,
        team_id=flow.team_id,
        filters=filters if isinstance(filters, dict) else {},
        masking=masking if masking and masking.get("bytecode") else None,
        default_variables=default_variables(flow.variables),
    )


@dataclass
class _Entry:
    stamp: FlowsStamp
    loaded_at: float
    flows: list[EventFlow]


class EventFlowCache:
    def __init__(
        self, max_age_seconds: float, *, max_teams: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self.max_teams = max_teams
        self.clock = clock
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    async def get(self, repo: IngestRepository, team_id: int) -> list[EventFlow]:
        stamp = await repo.flows_stamp(team_id)
        now = self.clock()
        entry = self._entries.get(team_id)
        if entry is not None and entry.stamp == stamp and now - entry.loaded_at < self.max_age_seconds:
            self._entries.move_to_end(team_id)
            return entry.flows
        # Read after the stamp: a change in between makes the next request's stamp differ and reload.
        flows = [event_flow(flow) for flow in await repo.active_event_flows(team_id)]
        self._entries[team_id] = _Entry(stamp, now, flows)
        self._entries.move_to_end(team_id)
        while len(self._entries) > self.max_teams:
            self._entries.popitem(last=False)
        return flows
