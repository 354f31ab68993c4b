"""Reading a flow's graph: actions by id, and the edge to follow out of an action."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class FlowGraphError(Exception):
    """The flow's graph does not say where to go (a missing action or edge)."""


@dataclass(frozen=True)
class FlowSnapshot:
    """What the engine needs of a flow, loaded on every pickup: the graph of the version the run started on."""

    id: str
    team_id: int
    status: str
    actions: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    trigger: dict[str, Any]
    conversion: dict[str, Any] | None
    exit_condition: str
    variables: list[dict[str, Any]]
    updated_at: datetime | None = None
    name: str | None = None

    def action(self, action_id: str) -> dict[str, Any]:
        for action in self.actions:
            if action.get("id") == action_id:
                return action
        raise FlowGraphError(f"Action {action_id} not found")

    def has_action(self, action_id: str) -> bool:
        return any(action.get("id") == action_id for action in self.actions)

    def trigger_action(self) -> dict[str, Any]:
        for action in self.actions:
            if action.get("type") == "trigger":
                return action
        raise FlowGraphError("No trigger action found")

    def next_action(self, action_id: str, branch: int | None = None) -> dict[str, Any]:
        """The first matching edge wins: `continue`, or `branch` with the given index."""
        for edge in self.edges:
            if not isinstance(edge, dict) or edge.get("from") != action_id:
                continue
            if branch is None and edge.get("type") == "continue":
                return self.action(str(edge.get("to")))
            if branch is not None and edge.get("type") == "branch" and edge.get("index") == branch:
                return self.action(str(edge.get("to")))
        raise FlowGraphError(f"No next action found for action {action_id}")

    def has_continue_edge(self, action_id: str) -> bool:
        return any(
            isinstance(edge, dict) and edge.get("from") == action_id and edge.get("type") == "continue"
            for edge in self.edges
        )
