"""The server-side graph layout: layers downwards, no overlapping boxes, every edge labelled."""

from itertools import combinations

from app.web.describe import edge_label, summary
from app.web.layout import Layout, Node, layout
from tests.web.flows import big_flow, branch_and_delay_flow


def overlapping(a: Node, b: Node) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def assert_no_overlaps(drawn: Layout) -> None:
    clashes = [(a.id, b.id) for a, b in combinations(drawn.nodes, 2) if overlapping(a, b)]
    assert clashes == []
    for node in drawn.nodes:
        assert node.x >= 0 and node.x + node.width <= drawn.width
        assert node.y >= 0 and node.y + node.height <= drawn.height


def test_branch_and_delay_flow_is_layered_and_labelled() -> None:
    flow = branch_and_delay_flow()
    drawn = layout(flow["actions"], flow["edges"])
    layers = {node.id: node.layer for node in drawn.nodes}
    assert layers == {"trigger": 0, "branch": 1, "vip": 2, "wait": 2, "done": 3}
    labels = {(e.source, e.target): e.label for e in drawn.edges}
    assert labels == {
        ("trigger", "branch"): "continue",
        ("branch", "vip"): "is pro",
        ("branch", "wait"): "else",
        ("wait", "done"): "continue",
    }
    branch = drawn.node("branch")
    assert (branch.type_name, branch.name, branch.summary) == ("Condition", "Plan?", "1 condition(s): is pro")
    assert drawn.node("wait").summary == "wait 1h"
    # Edges leave the bottom of their source and end on the top of their target.
    for edge in drawn.edges:
        source, target = drawn.node(edge.source), drawn.node(edge.target)
        assert edge.points[0] == (source.center_x, source.y + source.height)
        assert edge.points[-1] == (target.center_x, target.y)
    assert_no_overlaps(drawn)


def test_a_hundred_actions_lay_out_without_overlaps() -> None:
    actions, edges = big_flow(100)
    drawn = layout(actions, edges)
    assert len(drawn.nodes) == 101
    assert len(drawn.edges) == len(edges)
    assert_no_overlaps(drawn)
    assert all(edge.label for edge in drawn.edges)
    by_id = {node.id: node for node in drawn.nodes}
    for edge in drawn.edges:
        if (edge.source, edge.target) != ("a90", "a5"):
            assert by_id[edge.target].layer > by_id[edge.source].layer
    # A long edge bends around the boxes in between instead of crossing them.
    for edge in drawn.edges:
        for x, y in edge.points[1:-1]:
            assert not any(n.x < x < n.x + n.width and n.y < y < n.y + n.height for n in drawn.nodes)


def test_cycles_self_loops_and_dangling_edges_do_not_break_the_layout() -> None:
    actions = [
        {"id": "t", "type": "trigger", "config": {}},
        {"id": "a", "type": "delay", "config": {}},
        {"id": "b", "type": "delay", "config": {}},
        {"id": "a", "type": "exit"},  # a duplicate id: the first wins
        "not an action",
    ]
    edges = [
        {"from": "t", "to": "a", "type": "continue"},
        {"from": "a", "to": "b", "type": "continue"},
        {"from": "b", "to": "a", "type": "continue"},
        {"from": "b", "to": "b", "type": "continue"},
        {"from": "b", "to": "missing", "type": "continue"},
        None,
    ]
    drawn = layout(actions, edges)
    assert [n.id for n in drawn.nodes] == ["t", "a", "b"]
    assert [n.layer for n in drawn.nodes] == [0, 1, 2]
    assert len(drawn.edges) == 4  # the self-loop is drawn beside its box
    back = next(e for e in drawn.edges if (e.source, e.target) == ("b", "a"))
    assert back.points[0][1] == drawn.node("b").y and back.points[-1][1] == drawn.node("a").y + drawn.node("a").height
    assert_no_overlaps(drawn)
    assert layout([], []).nodes == []


def test_edge_labels_name_the_branch() -> None:
    cohorts = {"type": "random_cohort_branch", "config": {"cohorts": [{"percentage": 30}, {"percentage": 70}]}}
    assert edge_label(cohorts, {"type": "branch", "index": 1}) == "70%"
    wait = {"type": "wait_until_condition", "config": {}}
    assert edge_label(wait, {"type": "branch", "index": 0}) == "match"
    assert edge_label(wait, {"type": "continue"}) == "timeout"
    unnamed = {"type": "conditional_branch", "config": {"conditions": [{}, {}]}}
    assert edge_label(unnamed, {"type": "branch", "index": 1}) == "condition 2"
    assert edge_label({"type": "delay"}, {"type": "continue"}) == "continue"


def test_summaries_are_one_short_line_whatever_the_config() -> None:
    assert summary({"type": "trigger", "config": {"type": "event", "filters": {"events": [{"id": "$pageview"}]}}}) == (
        "event: $pageview"
    )
    assert summary({"type": "wait_until_time_window", "config": {"day": "weekday", "time": ["09:00", "17:00"]}}) == (
        "days weekday, time 09:00-17:00 (UTC)"
    )
    assert summary({"type": "function_webhook", "config": {"template_id": "template-webhook"}}) == "template-webhook"
    long = summary({"type": "exit", "config": {"reason": "x" * 500}})
    assert len(long) <= 60 and long.endswith("…")
    assert summary({"type": "delay", "config": ["junk"]}) == "wait ?"
