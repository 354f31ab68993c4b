"""The wiring of a flow's graph, checked when the flow is (or becomes) active; drafts are not checked.

PostHog's rules (`products/workflows/backend/api/graph_validation.py`) with its messages:
unique action ids, every edge between known actions, branch edges only from branching actions and
with an index in range, one branch edge per index, `abort_action` known, and a `wait_until_condition`
with its resolution edge. Beyond PostHog, so a run can never reach "No next action found":
every action but `exit` has an outgoing edge, a branching action has a branch edge for each of its
conditions or cohorts, and every action is reachable from the trigger (PostHog only warns).
The first error found is the answer: a 400 whose `attr` names the field (`actions__2__id`,
`edges__0__to`, ...).
"""

from collections import deque
from typing import Any

from app.errors import ValidationError

_RESOLUTION_EDGE_TYPES = {
    "wait_until_condition": "taken when the condition matches or an events entry fires",
}


def _branch_slot_count(action: dict[str, Any]) -> int:
    config = action.get("config") or {}
    if not isinstance(config, dict):
        return 0
    action_type = action.get("type")
    if action_type == "conditional_branch":
        return len(config.get("conditions") or [])
    if action_type == "random_cohort_branch":
        return len(config.get("cohorts") or [])
    if action_type in _RESOLUTION_EDGE_TYPES:
        return 1
    return 0


def validate_graph(actions: list[dict[str, Any]], edges: Any, abort_action: str | None = None) -> None:
    edge_list = [edge if isinstance(edge, dict) else {} for edge in edges] if isinstance(edges, list) else []
    by_id: dict[Any, dict[str, Any]] = {}
    for index, action in enumerate(actions):
        action_id = action.get("id")
        if action_id in by_id:
            raise ValidationError(
                f"Duplicate action id(s): {action_id}. Action ids must be unique.", attr=f"actions__{index}__id"
            )
        by_id[action_id] = action

    branch_keys: set[tuple[Any, int]] = set()
    outgoing: dict[Any, list[Any]] = {action_id: [] for action_id in by_id}
    for index, edge in enumerate(edge_list):
        source, target = edge.get("from"), edge.get("to")
        if source not in by_id:
            raise ValidationError(f"Edge references unknown source action '{source}'.", attr=f"edges__{index}__from")
        if target not in by_id:
            raise ValidationError(f"Edge references unknown target action '{target}'.", attr=f"edges__{index}__to")
        outgoing[source].append(target)
        if edge.get("type") != "branch":
            continue
        branch = edge.get("index")
        if branch is None:
            raise ValidationError(f"Branch edge from '{source}' is missing 'index'.", attr=f"edges__{index}__index")
        slots = _branch_slot_count(by_id[source])
        if slots == 0:
            raise ValidationError(
                f"Action '{source}' (type {by_id[source].get('type')}) does not support branch edges.",
                attr=f"edges__{index}__type",
            )
        if not isinstance(branch, int) or isinstance(branch, bool) or not 0 <= branch < slots:
            raise ValidationError(
                f"Branch edge from '{source}' has index {branch} out of range [0, {slots}).",
                attr=f"edges__{index}__index",
            )
        if (source, branch) in branch_keys:
            raise ValidationError(
                f"Duplicate branch edge from '{source}' with index {branch}.", attr=f"edges__{index}__index"
            )
        branch_keys.add((source, branch))

    if abort_action and abort_action not in by_id:
        raise ValidationError(f"abort_action references unknown action '{abort_action}'.", attr="abort_action")

    for index, action in enumerate(actions):
        action_id, action_type = action.get("id"), action.get("type")
        resolution = _RESOLUTION_EDGE_TYPES.get(str(action_type))
        if resolution and (action_id, 0) not in branch_keys:
            raise ValidationError(
                f"{action_type} '{action_id}' is missing its resolution edge: add a 'branch' edge with index 0 "
                f"({resolution}). Without it the step only ever advances on the max_wait_duration timeout, "
                "never on resolution.",
                attr=f"actions__{index}",
            )
        if action_type != "exit" and not outgoing.get(action_id):
            raise ValidationError(
                f"Action '{action_id}' (type {action_type}) has no outgoing edge. Every action except exit needs one.",
                attr=f"actions__{index}",
            )
        if action_type in ("conditional_branch", "random_cohort_branch"):
            for branch in range(_branch_slot_count(action)):
                if (action_id, branch) not in branch_keys:
                    what = "condition" if action_type == "conditional_branch" else "cohort"
                    raise ValidationError(
                        f"{action_type} '{action_id}' has no 'branch' edge for {what} {branch}.",
                        attr=f"actions__{index}__config",
                    )

    triggers = [action.get("id") for action in actions if action.get("type") == "trigger"]
    if len(triggers) != 1:
        return  # the one-trigger rule is reported by the action validation
    reachable: set[Any] = set()
    queue = deque([triggers[0]])
    while queue:
        node = queue.popleft()
        if node not in reachable:
            reachable.add(node)
            queue.extend(outgoing.get(node, []))
    unreachable = [str(action_id) for action_id in by_id if action_id not in reachable]
    if unreachable:
        raise ValidationError(
            f"Action(s) not reachable from the trigger: {', '.join(sorted(unreachable))}.", attr="actions"
        )
