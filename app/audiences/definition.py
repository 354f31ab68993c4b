"""An audience: the persons of a team that a batch trigger's property filters select.

The filters are compiled the way a trigger's are (`app.filters`), against the globals a batch run
starts with: a synthetic `$batch_hog_flow_invocation` event (no properties) and the person. Every
person is judged by that bytecode on the VM; `pushdown` translates the same expression to SQL so
PostgreSQL can answer most of it (see `app.audiences.pushdown`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from app.audiences.pushdown import Pushdown, build_pushdown
from app.filters import FiltersCompileError, build_filter_globals, build_filters_expression, compile_expression_ast
from app.filters.ast import walk
from app.filters.evaluate import run_filter_bytecode
from app.hog import Limits
from app.hog.budget import bounded

# One person's verdict is a small filter: a slow one (a heavy `hogql` property) must not hold a page.
PERSON_LIMITS = Limits(timeout_s=0.25)

BATCH_EVENT = "$batch_hog_flow_invocation"
# The parts of a filters object an audience uses: person (and hogql) properties, test accounts.
AUDIENCE_KEYS = ("properties", "filter_test_accounts")


def batch_event(distinct_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The event a batch run starts from (PostHog: an empty event carrying no properties)."""
    moment = now or datetime.now(UTC)
    return {
        "uuid": str(uuid.uuid4()),
        "event": BATCH_EVENT,
        "distinct_id": distinct_id,
        "properties": {},
        "elements_chain": "",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
    }


def audience_filters(trigger_filters: Any, overrides: Any = None) -> dict[str, Any]:
    """The trigger's audience filters with a batch job's overrides (`properties`, `filter_test_accounts`)."""
    base = trigger_filters if isinstance(trigger_filters, Mapping) else {}
    extra = overrides if isinstance(overrides, Mapping) else {}
    merged = {key: base[key] for key in AUDIENCE_KEYS if key in base}
    merged.update({key: extra[key] for key in AUDIENCE_KEYS if key in extra})
    return merged


@dataclass(frozen=True)
class TeamContext:
    timezone: str = "UTC"
    test_account_filters: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Audience:
    filters: dict[str, Any]
    expression: dict[str, Any]
    bytecode: list[Any]
    # The filter globals every person shares (everything but the person and the event's ids).
    constants: dict[str, Any]

    @property
    def uses_distinct_id(self) -> bool:
        """Whether the filters read the person's distinct id (then the VM needs it)."""
        for node in walk(self.expression):
            chain = node.get("chain") or [] if node.get("node") == "Field" else []
            if chain[:1] in (["distinct_id"], ["pdi"]) or chain[:2] == ["person", "pdi"]:
                return True
        return False

    def matches(self, person_id: Any, properties: Mapping[str, Any] | None, distinct_id: str | None = None) -> bool:
        """The VM's verdict for one person."""
        person = {"id": str(person_id), "properties": dict(properties or {})}
        globals_ = build_filter_globals(batch_event(distinct_id or ""), person)
        return run_filter_bytecode(self.bytecode, globals_, limits=bounded(PERSON_LIMITS)).matched

    def count_matches(self, candidates: Iterable[Any]) -> int:
        """How many of `candidates` (with `id`, `properties`, `distinct_id`) match: CPU work for a thread."""
        return sum(1 for c in candidates if self.matches(c.id, c.properties, c.distinct_id))

    def matching(self, candidates: Iterable[Any]) -> list[Any]:
        """The candidates that match, asking the VM only about those SQL left undecided (`needs_vm`)."""
        return [c for c in candidates if not c.needs_vm or self.matches(c.id, c.properties, c.distinct_id)]

    def pushdown(self, properties_column: ColumnElement[Any]) -> Pushdown:
        return build_pushdown(self.expression, properties_column, self.constants)


def build_audience(filters: Mapping[str, Any], team: TeamContext, now: datetime | None = None) -> Audience:
    """Compile audience filters; raises `FiltersCompileError` with the reason."""
    if not isinstance(filters, Mapping):
        raise FiltersCompileError("Filters must be an object")
    kept = {key: filters[key] for key in AUDIENCE_KEYS if key in filters}
    properties = kept.get("properties")
    if properties is not None and not isinstance(properties, (list, Mapping)):
        raise FiltersCompileError("Properties must be an array.")
    expression = build_filters_expression(
        kept, test_account_filters=list(team.test_account_filters), timezone=team.timezone, now=now
    )
    bytecode = compile_expression_ast(expression)
    shared = build_filter_globals(batch_event(""), None)
    constants = {key: value for key, value in shared.items() if key not in ("uuid", "timestamp", "distinct_id")}
    return Audience(filters=kept, expression=expression, bytecode=bytecode, constants=constants)
