"""Id-addressed edits of a flow's graph (`PATCH /hog_flows/{id}/graph`) and the structural check of the result.

PostHog's `graph_operations.py` and `graph_validation.py`, behaviour for behaviour:

1. Operations apply in order to copies of the stored actions and edges; the inputs are never changed.
   - `update_action {id, patch}`: deep-merge `patch` into the action; a `null` leaf deletes that key.
   - `add_action {action}`: append a new action; its `id` must be new.
   - `remove_action {id}`: edges into the action are re-pointed at its first outgoing target, then
     every edge touching it is dropped with the action (what the web builder does on delete).
   - `add_edge {edge}` / `remove_edge {edge}`: one edge; removing one that does not exist fails.
   - `replace_action_edges {id, edges}`: the action's outgoing edges become `edges`; incoming kept.
   An operation that cannot apply fails the whole list with `attr: "operations"`.
2. The result must be a sound graph (`validate_graph_structure`): PostHog's wiring rules, which live in
   `app/services/graph_validation.py` (unique action ids, exactly one trigger, edges between existing
   actions, branch edges inside the source's branch slots, `abort_action` known, a resolution edge on
   every wait), reported under `attr: "graph"`. Unreachable actions are only a warning.

Difference from PostHog: none in behaviour; the error `detail` is the first message (our error shape
carries one), where PostHog's body lists them all.
"""

from copy import deepcopy
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import ValidationError
from app.services.graph_validation import successors, unreachable_warning, wiring_problems

OperationKind = Literal[
    "update_action", "add_action", "remove_action", "add_edge", "remove_edge", "replace_action_edges"
]

_REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "update_action": ("id", "patch"),
    "add_action": ("action",),
    "remove_action": ("id",),
    "add_edge": ("edge",),
    "remove_edge": ("edge",),
    "replace_action_edges": ("id", "edges"),
}


class Edge(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    from_: str = Field(alias="from", description="Source action id.")
    to: str = Field(description="Target action id.")
    type: Literal["continue", "branch"]
    index: int | None = Field(default=None, description="Required for `branch`: the condition/cohort slot.")

    def as_dict(self) -> dict[str, Any]:
        edge: dict[str, Any] = {"from": self.from_, "to": self.to, "type": self.type}
        if self.index is not None:
            edge["index"] = self.index
        return edge


class GraphOperation(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    op: OperationKind
    id: str | None = Field(default=None, description="Action id (update_action, remove_action, replace_action_edges).")
    patch: Any = Field(default=None, description="update_action: fields deep-merged into the action.")
    action: Any = Field(default=None, description="add_action: a full action.")
    edge: Edge | None = Field(default=None, description="add_edge / remove_edge.")
    edges: list[Edge] | None = Field(default=None, description="replace_action_edges: the new outgoing edges.")

    @model_validator(mode="after")
    def _fields_for_op(self) -> "GraphOperation":
        missing = [name for name in _REQUIRED_FIELDS[self.op] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"op '{self.op}' requires: {', '.join(missing)}")
        if self.op == "update_action" and not isinstance(self.patch, dict):
            raise ValueError("update_action 'patch' must be an object")
        if self.op == "add_action" and not isinstance(self.action, dict):
            raise ValueError("add_action 'action' must be an object")
        return self


class GraphUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    operations: list[GraphOperation] = Field(min_length=1, description="Applied in order, all or nothing.")
    base_updated_at: datetime | None = Field(default=None, description="As on update: a stale one answers 409.")
    stage_draft: bool = Field(default=False, description="On an active flow, stage the result as a draft.")


def _deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = deepcopy(value)


def _same_edge(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(key) == b.get(key) for key in ("from", "to", "type", "index"))


def _fail(message: str) -> ValidationError:
    return ValidationError(message, attr="operations")


def apply_graph_operations(
    actions: list[dict[str, Any]], edges: list[dict[str, Any]], operations: list[GraphOperation]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    actions = deepcopy(actions)
    edges = deepcopy(edges)
    by_id = {action.get("id"): action for action in actions}
    for operation in operations:
        kind = operation.op
        if kind == "update_action":
            action = by_id.get(operation.id)
            if action is None:
                raise _fail(f"update_action: action '{operation.id}' not found")
            _deep_merge(action, operation.patch)
        elif kind == "add_action":
            new_action = deepcopy(operation.action)
            new_id = new_action.get("id")
            if not new_id:
                raise _fail("add_action: action is missing an 'id'")
            if new_id in by_id:
                raise _fail(f"add_action: action id '{new_id}' already exists")
            actions.append(new_action)
            by_id[new_id] = new_action
        elif kind == "remove_action":
            target = operation.id
            if target not in by_id:
                raise _fail(f"remove_action: action '{target}' not found")
            outgoing = [edge.get("to") for edge in edges if edge.get("from") == target]
            if outgoing:
                for edge in edges:
                    if edge.get("to") == target:
                        edge["to"] = outgoing[0]
            edges = [edge for edge in edges if target not in (edge.get("from"), edge.get("to"))]
            actions = [action for action in actions if action.get("id") != target]
            del by_id[target]
        elif kind == "add_edge":
            assert operation.edge is not None
            edges.append(operation.edge.as_dict())
        elif kind == "remove_edge":
            assert operation.edge is not None
            wanted = operation.edge.as_dict()
            remaining = [edge for edge in edges if not _same_edge(edge, wanted)]
            if len(remaining) == len(edges):
                raise _fail("remove_edge: no matching edge found")
            edges = remaining
        else:  # replace_action_edges
            target = operation.id
            if target not in by_id:
                raise _fail(f"replace_action_edges: action '{target}' not found")
            edges = [edge for edge in edges if edge.get("from") != target]
            edges.extend(edge.as_dict() for edge in operation.edges or [])
    return actions, edges


def validate_graph_structure(
    actions: list[dict[str, Any]], edges: list[dict[str, Any]], abort_action: str | None = None
) -> list[str]:
    """Raise on a graph that breaks PostHog's rules (the first problem, under `attr: "graph"`); return
    warnings (unreachable actions)."""
    problems, _ = wiring_problems(actions, edges, abort_action)
    if problems:
        raise ValidationError(problems[0].message, attr="graph")
    unreachable = unreachable_warning(actions, successors(actions, edges))
    return [unreachable] if unreachable else []
