"""What a parked run waits for, and what woke it (Decision 8: waiting runs are indexed, not polled).

A pickup that parks a run on `wait_until_condition` returns `WaitRegistration`s; the worker stores them
in an indexed table next to the run. The capture pipeline looks each batch of events up there: an event
of the right team, person and name that passes the entry's filters (and its correlation) marks the row
matched and wakes the run; a change to the person wakes runs that wait on a property condition. The
next pickup sees the matched rows as `Invocation.woken_by`.

Conversion goals use the same table, registered on the run's first pickup: by event
(`conversion.events`), and by person properties (`conversion.filters`) as a registration that a change
to the person wakes, like a condition wait. A run parked on a delay or a wait so wakes and exits at
once when its person converts. Person-only filters are stored on the row, so the pipeline wakes a run
only for a change that makes them match.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engine.graph import FlowSnapshot
from app.hog import Limits
from app.hog.runtime import execute

EVENT = "event"
CONDITION = "condition"
CONVERSION = "conversion"
STEP_KINDS = (EVENT, CONDITION)
# A correlation is a property path in practice; a client's slow expression fails (correlates nothing).
CORRELATION_LIMITS = Limits(timeout_s=0.1)
CONVERSION_EXITS = ("exit_on_conversion", "exit_on_trigger_not_matched_or_conversion")


@dataclass(frozen=True)
class WaitRegistration:
    kind: str  # event | condition | conversion
    event_name: str | None  # None for a condition: any change to the person wakes it
    filters: dict[str, Any] | None = None  # compiled filters (with `bytecode`) the event must pass
    correlation: list[Any] | None = None  # bytecode evaluated on the waking event...
    correlation_value: str | None = None  # ...whose JSON must equal this (our extension)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Wake:
    """A registration that an event matched, as the next pickup sees it."""

    kind: str
    event: dict[str, Any]


def event_names(filters: Any) -> list[str]:
    """The event names an events entry names (`filters.events[].id`, else `.name`)."""
    events = filters.get("events") if isinstance(filters, dict) else None
    names: list[str] = []
    for item in events if isinstance(events, list) else []:
        name = (item.get("id") or item.get("name")) if isinstance(item, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def registrations_for(
    kind: str, entries: Any, *, correlation: tuple[list[Any], str] | None = None, expires_at: datetime | None = None
) -> list[WaitRegistration]:
    """One registration per event name of each entry (`[{filters: {events: [...]}}]`)."""
    found: list[WaitRegistration] = []
    for entry in entries if isinstance(entries, list) else []:
        filters = entry.get("filters") if isinstance(entry, dict) else None
        for name in event_names(filters):
            found.append(
                WaitRegistration(
                    kind=kind,
                    event_name=name,
                    filters=filters if isinstance(filters, dict) else None,
                    correlation=correlation[0] if correlation else None,
                    correlation_value=correlation[1] if correlation else None,
                    expires_at=expires_at,
                )
            )
    return found


def person_only(filters: Any) -> dict[str, Any] | None:
    """Compiled filters that read nothing but person properties, so the capture pipeline can check them
    against a changed person before waking a run; None when they read more (the run then wakes on any
    change to its person and checks at its pickup)."""
    if not isinstance(filters, dict) or not filters.get("bytecode"):
        return None
    if filters.get("events") or filters.get("actions") or filters.get("filter_test_accounts"):
        return None
    properties = filters.get("properties")
    if not isinstance(properties, list) or not properties:
        return None
    if not all(isinstance(item, dict) and item.get("type") == "person" for item in properties):
        return None
    return {"bytecode": filters["bytecode"], "properties": properties}


def conversion_registrations(conversion: Any, expires_at: datetime | None) -> list[WaitRegistration]:
    """A conversion goal's events, and for its property filters a registration that any change to the
    person wakes (the pickup's early-exit check then decides, as for a condition wait)."""
    conversion = conversion if isinstance(conversion, dict) else {}
    found = registrations_for(CONVERSION, conversion.get("events"), expires_at=expires_at)
    if conversion.get("filters") and conversion.get("bytecode"):
        compiled = {"bytecode": conversion["bytecode"], "properties": conversion["filters"]}
        found.append(
            WaitRegistration(kind=CONVERSION, event_name=None, filters=person_only(compiled), expires_at=expires_at)
        )
    return found


def correlation_key(bytecode: Any, globals: dict[str, Any], limits: Limits | None = None) -> str | None:
    """The JSON of what a correlation expression yields, or None when it yields null or fails."""
    if not isinstance(bytecode, list) or not bytecode:
        return None
    try:
        outcome = execute(bytecode, dict(globals), limits=limits or CORRELATION_LIMITS)
    except Exception:  # a broken expression correlates nothing, it never breaks a step or an ingest
        return None
    if not outcome.finished or outcome.result is None:
        return None
    return json.dumps(outcome.result, sort_keys=True, default=str)


def may_be_registered(state: dict[str, Any], flow: FlowSnapshot | None) -> bool:
    """Whether a run can have registrations: it is parked on a wait, or its flow exits on a conversion
    (by event or by person properties). Other runs skip every query about them (a pickup stays two
    short transactions)."""
    current = state.get("currentAction")
    if isinstance(current, dict) and current.get("waitingForEvent") is True:
        return True
    if flow is None or flow.exit_condition not in CONVERSION_EXITS:
        return False
    conversion = flow.conversion or {}
    return bool(conversion.get("events") or (conversion.get("filters") and conversion.get("bytecode")))
