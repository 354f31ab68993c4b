"""Flows the web tests draw and run."""

import random
from typing import Any


def branch_and_delay_flow(name: str = "Onboarding") -> dict[str, Any]:
    """trigger → condition "is pro" → VIP exit, else → delay 1h → exit."""
    return {
        "name": name,
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "Start", "type": "trigger", "config": {"type": "schedule"}},
            {
                "id": "branch",
                "name": "Plan?",
                "type": "conditional_branch",
                "config": {
                    "conditions": [
                        {
                            "name": "is pro",
                            "filters": {
                                "properties": [{"key": "plan", "type": "event", "value": ["pro"], "operator": "exact"}]
                            },
                        }
                    ]
                },
            },
            {"id": "wait", "name": "Wait an hour", "type": "delay", "config": {"delay_duration": "1h"}},
            {"id": "vip", "name": "VIP exit", "type": "exit", "config": {"reason": "pro"}},
            {"id": "done", "name": "Done", "type": "exit", "config": {"reason": "free"}},
        ],
        "edges": [
            {"from": "trigger", "to": "branch", "type": "continue"},
            {"from": "branch", "to": "vip", "type": "branch", "index": 0},
            {"from": "branch", "to": "wait", "type": "continue"},
            {"from": "wait", "to": "done", "type": "continue"},
        ],
        "variables": [{"key": "plan", "label": "Plan", "type": "string", "default": "free"}],
    }


def run_body(distinct_id: str, plan: str) -> dict[str, Any]:
    event = {"event": "signup", "distinct_id": distinct_id, "properties": {"plan": plan}}
    return {"distinct_id": distinct_id, "event": event}


def big_flow(size: int = 100, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`size` actions below a trigger: branches, cohort splits, waits and long edges, plus a loop back."""
    rng = random.Random(seed)
    actions: list[dict[str, Any]] = [
        {"id": "trigger", "name": "Start", "type": "trigger", "config": {"type": "schedule"}}
    ]
    edges: list[dict[str, Any]] = []
    kinds = ["delay", "conditional_branch", "random_cohort_branch", "wait_until_condition", "exit"]
    for i in range(size):
        kind = rng.choice(kinds)
        config: dict[str, Any] = {"delay_duration": "1h"} if kind == "delay" else {}
        if kind == "random_cohort_branch":
            config = {"cohorts": [{"percentage": 50}, {"percentage": 50}]}
        actions.append({"id": f"a{i}", "name": f"step {i}", "type": kind, "config": config})
        parent = rng.choice(actions[max(0, i - 6) : i + 1])["id"]
        is_branch = rng.random() < 0.5
        edges.append({"from": parent, "to": f"a{i}", "type": "branch" if is_branch else "continue", "index": 0})
    edges.append({"from": "a90", "to": "a5", "type": "continue"})
    return actions, edges
