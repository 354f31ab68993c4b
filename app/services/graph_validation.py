"""The wiring of a flow's graph: PostHog's rules, shared by activation and graph edits, and ours on activation.

PostHog's rules (`products/workflows/backend/api/graph_validation.py`) with its messages and order:
unique action ids, exactly one trigger, every edge between known actions, branch edges only from
branching actions and with an index in range, one branch edge per index, `abort_action` known, and a
resolution edge for each `wait_until_condition` (and `agent_task`). `wiring_problems` lists what breaks
them, each with the field at fault (`actions__2__id`, `edges__0__to`, ...); a graph edit
(`app/services/graph_operations.py`) reports the first under `attr: "graph"`, with unreachable actions a
warning, as PostHog does.

A flow that is (or becomes) active is checked by `validate_graph`; drafts are not. Beyond PostHog, so a
run can never reach "No next action found": every action but `exit` has an outgoing edge, a branching
action has a branch edge for each of its conditions or cohorts, and every action is reachable from the
trigger (PostHog only warns). The first error found is the answer: a 400 naming the field.
"""

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationError

# The step types whose branch edge at index 0 is the required resolution edge, and when it is taken.
RESOLUTION_EDGE_TYPES = {
    "wait_until_condition": "taken when the condition matches or an events entry fires",
    "agent_task": "taken when the task completes",
}


@dataclass(frozen=True)
class GraphProblem:
    message: str
    attr: str


def branch_slot_count(action: dict[str, Any]) -> int:
    """How many branch edges the action takes: one per condition or cohort, one for a resolution edge."""
    config = action.get("config")
    if not isinstance(config, dict):
        config = {}
    action_type = action.get("type")
    if action_type == "conditional_branch":
        return len(config.get("conditions") or [])
    if action_type == "random_cohort_branch":
        return len(config.get("cohorts") or [])
    return 1 if action_type in RESOLUTION_EDGE_TYPES else 0


def _edge_list(edges: Any) -> list[dict[str, Any]]:
    return [edge if isinstance(edge, dict) else {} for edge in edges] if isinstance(edges, list) else []


def wiring_problems(
    actions: list[dict[str, Any]], edges: list[dict[str, Any]], abort_action: str | None = None
) -> tuple[list[GraphProblem], set[tuple[Any, int]]]:
    """What breaks PostHog's rules, in its order, and the branch slots `(source, index)` wired correctly."""
    problems: list[GraphProblem] = []
    by_id = {action.get("id"): action for action in actions}
    counts = Counter(action.get("id") for action in actions if action.get("id") is not None)
    duplicates = sorted(str(action_id) for action_id, count in counts.items() if count > 1)
    if duplicates:
        ids = [action.get("id") for action in actions]
        first_again = next(index for index, action_id in enumerate(ids) if action_id in ids[:index])
        message = f"Duplicate action id(s): {', '.join(duplicates)}. Action ids must be unique."
        problems.append(GraphProblem(message, f"actions__{first_again}__id"))
    triggers = sum(1 for action in actions if action.get("type") == "trigger")
    if triggers != 1:
        problems.append(GraphProblem(f"Exactly one trigger action is required (found {triggers}).", "actions"))

    branch_keys: set[tuple[Any, int]] = set()
    for index, edge in enumerate(edges):
        source, target = edge.get("from"), edge.get("to")
        if source not in by_id:
            problems.append(GraphProblem(f"Edge references unknown source action '{source}'.", f"edges__{index}__from"))
        if target not in by_id:
            problems.append(GraphProblem(f"Edge references unknown target action '{target}'.", f"edges__{index}__to"))
        if edge.get("type") != "branch":
            continue
        branch = edge.get("index")
        if branch is None:
            problems.append(GraphProblem(f"Branch edge from '{source}' is missing 'index'.", f"edges__{index}__index"))
            continue
        if source not in by_id:
            continue
        slots = branch_slot_count(by_id[source])
        if slots == 0:
            message = f"Action '{source}' (type {by_id[source].get('type')}) does not support branch edges."
            problems.append(GraphProblem(message, f"edges__{index}__type"))
        elif not isinstance(branch, int) or isinstance(branch, bool) or not 0 <= branch < slots:
            message = f"Branch edge from '{source}' has index {branch} out of range [0, {slots})."
            problems.append(GraphProblem(message, f"edges__{index}__index"))
        elif (source, branch) in branch_keys:
            message = f"Duplicate branch edge from '{source}' with index {branch}."
            problems.append(GraphProblem(message, f"edges__{index}__index"))
        else:
            branch_keys.add((source, branch))

    if abort_action and abort_action not in by_id:
        problems.append(GraphProblem(f"abort_action references unknown action '{abort_action}'.", "abort_action"))

    for index, action in enumerate(actions):
        action_id, action_type = action.get("id"), action.get("type")
        resolution = RESOLUTION_EDGE_TYPES.get(str(action_type))
        if resolution and (action_id, 0) not in branch_keys:
            message = (
                f"{action_type} '{action_id}' is missing its resolution edge: add a 'branch' edge with index 0 "
                f"({resolution}). Without it the step only ever advances on the max_wait_duration timeout, "
                "never on resolution."
            )
            problems.append(GraphProblem(message, f"actions__{index}"))
    return problems, branch_keys


def successors(actions: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[Any, list[Any]]:
    outgoing: dict[Any, list[Any]] = {action.get("id"): [] for action in actions}
    for edge in edges:
        if edge.get("from") in outgoing:
            outgoing[edge.get("from")].append(edge.get("to"))
    return outgoing


def unreachable_warning(actions: list[dict[str, Any]], outgoing: dict[Any, list[Any]]) -> str | None:
    """The actions a walk from the one trigger never reaches (none when there is not exactly one)."""
    triggers = [action.get("id") for action in actions if action.get("type") == "trigger"]
    if len(triggers) != 1:
        return None
    reachable: set[Any] = set()
    queue = deque([triggers[0]])
    while queue:
        node = queue.popleft()
        if node not in reachable:
            reachable.add(node)
            queue.extend(outgoing.get(node, []))
    unreachable = sorted(str(action_id) for action_id in outgoing if action_id not in reachable)
    return f"Action(s) not reachable from the trigger: {', '.join(unreachable)}." if unreachable else None


def validate_graph(actions: list[dict[str, Any]], edges: Any, abort_action: str | None = None) -> None:
    """An active flow's graph: PostHog's rules, then ours; the first error found is raised."""
    edges = _edge_list(edges)
    problems, branch_keys = wiring_problems(actions, edges, abort_action)
    if problems:
        raise ValidationError(problems[0].message, attr=problems[0].attr)
    outgoing = successors(actions, edges)
    for index, action in enumerate(actions):
        action_id, action_type = action.get("id"), action.get("type")
        if action_type != "exit" and not outgoing.get(action_id):
            raise ValidationError(
                f"Action '{action_id}' (type {action_type}) has no outgoing edge. Every action except exit needs one.",
                attr=f"actions__{index}",
            )
        if action_type in ("conditional_branch", "random_cohort_branch"):
            for branch in range(branch_slot_count(action)):
                if (action_id, branch) not in branch_keys:
                    what = "condition" if action_type == "conditional_branch" else "cohort"
                    raise ValidationError(
                        f"{action_type} '{action_id}' has no 'branch' edge for {what} {branch}.",
                        attr=f"actions__{index}__config",
                    )
    unreachable = unreachable_warning(actions, outgoing)
    if unreachable:
        raise ValidationError(unreachable, attr="actions")
