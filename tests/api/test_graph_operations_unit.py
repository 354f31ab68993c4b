"""The pure graph operations and structural check (no database)."""

from typing import Any

import pytest

from app.errors import ValidationError
from app.services.graph_operations import GraphOperation, apply_graph_operations, validate_graph_structure
from app.services.graph_validation import validate_graph


def ops(*raw: dict[str, Any]) -> list[GraphOperation]:
    return [GraphOperation.model_validate(op) for op in raw]


BRANCHY_ACTIONS: list[dict[str, Any]] = [
    {"id": "t", "type": "trigger", "config": {}},
    {"id": "pre", "type": "delay", "config": {}},
    {"id": "b", "type": "conditional_branch", "config": {"conditions": [{}, {}]}},
    {"id": "x", "type": "exit", "config": {}},
    {"id": "y", "type": "exit", "config": {}},
]
BRANCHY_EDGES: list[dict[str, Any]] = [
    {"from": "t", "to": "pre", "type": "continue"},
    {"from": "pre", "to": "b", "type": "continue"},
    {"from": "b", "to": "x", "type": "branch", "index": 0},
    {"from": "b", "to": "y", "type": "continue"},
]


def test_removing_a_branch_reconnects_to_its_first_outgoing_target() -> None:
    actions, edges = apply_graph_operations(BRANCHY_ACTIONS, BRANCHY_EDGES, ops({"op": "remove_action", "id": "b"}))
    assert [a["id"] for a in actions] == ["t", "pre", "x", "y"]
    assert edges == [{"from": "t", "to": "pre", "type": "continue"}, {"from": "pre", "to": "x", "type": "continue"}]
    assert BRANCHY_EDGES[1]["to"] == "b", "the inputs are not changed"
    assert validate_graph_structure(actions, edges) == ["Action(s) not reachable from the trigger: y."]


def test_removing_a_leaf_drops_its_incoming_edges() -> None:
    _, edges = apply_graph_operations(BRANCHY_ACTIONS, BRANCHY_EDGES, ops({"op": "remove_action", "id": "x"}))
    assert {"from": "b", "to": "x", "type": "branch", "index": 0} not in edges
    assert len(edges) == 3


def test_a_failing_operation_changes_nothing_it_was_given() -> None:
    actions = [dict(a) for a in BRANCHY_ACTIONS]
    with pytest.raises(ValidationError) as caught:
        apply_graph_operations(
            actions,
            BRANCHY_EDGES,
            ops({"op": "update_action", "id": "pre", "patch": {"name": "p"}}, {"op": "remove_action", "id": "zz"}),
        )
    assert caught.value.attr == "operations"
    assert "name" not in actions[1]


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        (
            [{"from": "b", "to": "x", "type": "branch", "index": 2}],
            "Branch edge from 'b' has index 2 out of range [0, 2).",
        ),
        ([{"from": "b", "to": "x", "type": "branch"}], "Branch edge from 'b' is missing 'index'."),
        (
            [
                {"from": "b", "to": "x", "type": "branch", "index": 0},
                {"from": "b", "to": "y", "type": "branch", "index": 0},
            ],
            "Duplicate branch edge from 'b' with index 0.",
        ),
        ([{"from": "ghost", "to": "x", "type": "continue"}], "Edge references unknown source action 'ghost'."),
    ],
)
def test_structural_errors(edges: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_graph_structure(BRANCHY_ACTIONS, edges)
    assert caught.value.attr == "graph"
    assert caught.value.detail == message


def test_abort_action_and_duplicate_ids() -> None:
    with pytest.raises(ValidationError, match="abort_action references unknown action 'nope'"):
        validate_graph_structure(BRANCHY_ACTIONS, [], abort_action="nope")
    with pytest.raises(ValidationError, match=r"Duplicate action id\(s\): x"):
        validate_graph_structure([*BRANCHY_ACTIONS, {"id": "x", "type": "exit"}], [])


def test_both_checks_name_every_duplicate_id_as_posthog_does() -> None:
    actions = [*BRANCHY_ACTIONS, {"id": "y", "type": "exit"}, {"id": "pre", "type": "delay"}]
    message = "Duplicate action id(s): pre, y. Action ids must be unique."
    with pytest.raises(ValidationError) as on_edit:
        validate_graph_structure(actions, BRANCHY_EDGES)
    assert (on_edit.value.detail, on_edit.value.attr) == (message, "graph")
    with pytest.raises(ValidationError) as on_activation:
        validate_graph(actions, BRANCHY_EDGES)
    assert (on_activation.value.detail, on_activation.value.attr) == (message, "actions__5__id")
