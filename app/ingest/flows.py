"""A team's active event-triggered flows, cached per API process and indexed by event name.

1. Loading reads the team's active event flows once; the entry is reused until this process writes a
   flow of that team (any ORM flush or bulk statement on `hog_flows`, app/db/invalidation.py), which
   drops it at once (with Redis, a save in another API process too), or until `max_age_seconds`
   (`HOGFLOWS_EVENT_FLOW_CACHE_SECONDS`) have passed, which bounds staleness when that message is lost.
   No query runs per request on a hit.
2. Each flow's trigger filters name the events it can match: `filters.events[].id` (an entry with a
   null id, or filters without events or actions, match every event; so does any `actions` entry,
   whose steps we do not look into). `FlowIndex.for_event(name)` gives the flows naming `name` plus
   the any-event flows, in the team's flow order, so an event is evaluated only against those.
   Everything else in the filters is ANDed with that choice of events, so skipping the others
   changes no result.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from app.db.invalidation import ChangeStamps, watch
from app.db.models import HogFlow
from app.db.repositories.ingest import IngestRepository
from app.engine.invocation import default_variables


@dataclass(frozen=True)
class EventFlow:
    """What the trigger pipeline needs from a flow."""

    id: UUID
    team_id: int
    filters: dict[str, Any]
    masking: dict[str, Any] | None
    default_variables: dict[str, Any]
    # Event names the trigger can match; None = any event.
    event_names: frozenset[str] | None = None
    order: int = 0
    version: int | None = None

    @cached_property
    def source_id(self) -> str:  # every metric of every group names it: made once
        return str(self.id)


FLOWS = ChangeStamps("flows")
watch((HogFlow,), FLOWS, key_of=lambda flow: flow.team_id)


def trigger_event_names(filters: dict[str, Any]) -> frozenset[str] | None:
    """The event names a trigger's filters can match, or None when they can match any event.

    Mirrors `build_expression` (app/filters/expression.py): the `events` and `actions` lists' entries
    become OR-ed branches; only an entry of type `events` with a string id is `event = id`.
    """
    raw_events, raw_actions = filters.get("events"), filters.get("actions")
    entries = [
        entry for raw in (raw_events, raw_actions) if isinstance(raw, list) for entry in raw if isinstance(entry, dict)
    ]
    if not entries:
        return None
    names = set()
    for entry in entries:
        name = entry.get("id")
        if entry.get("type") != "events" or not isinstance(name, str):
            return None
        names.add(name)
    return frozenset(names)


def event_flow(flow: HogFlow, order: int = 0) -> EventFlow:
    trigger = flow.trigger if isinstance(flow.trigger, dict) else {}
    filters = trigger.get("filters")
    masking = flow.trigger_masking if isinstance(flow.trigger_masking, dict) else None
    return EventFlow(
        id=flow.id,
        team_id=flow.team_id,
        filters=filters if isinstance(filters, dict) else {},
        masking=masking if masking and masking.get("bytecode") else None,
        default_variables=default_variables(flow.variables),
        event_names=trigger_event_names(filters if isinstance(filters, dict) else {}),
        order=order,
        version=flow.version,
    )


class FlowIndex:
    """A team's active event flows by the event names they name."""

    def __init__(self, flows: list[EventFlow]) -> None:
        self.flows = flows
        self.any_event = [flow for flow in flows if flow.event_names is None]
        self._named: dict[str, list[EventFlow]] = {}
        for flow in flows:
            for name in flow.event_names or ():
                self._named.setdefault(name, []).append(flow)
        self._merged: dict[str, list[EventFlow]] = {}

    def __bool__(self) -> bool:
        return bool(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def for_event(self, name: str) -> list[EventFlow]:
        """The flows an event of this name may match, in the team's flow order."""
        named = self._named.get(name)
        if not named:
            return self.any_event
        if not self.any_event:
            return named
        merged = self._merged.get(name)
        if merged is None:
            merged = sorted([*named, *self.any_event], key=lambda flow: flow.order)
            if len(self._merged) < 10_000:
                self._merged[name] = merged
        return merged


@dataclass
class _Entry:
    stamp: tuple[int, int]
    loaded_at: float
    index: FlowIndex


class EventFlowCache:
    def __init__(
        self, max_age_seconds: float, *, max_teams: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self.max_teams = max_teams
        self.clock = clock
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    async def get(self, repo: IngestRepository, team_id: int) -> FlowIndex:
        now = self.clock()
        stamp = FLOWS.stamp(team_id)
        entry = self._entries.get(team_id)
        if entry is not None and entry.stamp == stamp and now - entry.loaded_at < self.max_age_seconds:
            self._entries.move_to_end(team_id)
            return entry.index
        # The stamp was taken before the read: a save racing it moves the stamp and the next request reloads.
        flows = [event_flow(flow, order) for order, flow in enumerate(await repo.active_event_flows(team_id))]
        index = FlowIndex(flows)
        self._entries[team_id] = _Entry(stamp, now, index)
        self._entries.move_to_end(team_id)
        while len(self._entries) > self.max_teams:
            self._entries.popitem(last=False)
        return index
