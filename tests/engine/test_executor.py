"""The executor loop against in-memory flows (no database): edges, delays, errors, limits."""

from datetime import timedelta

import pytest

from app.engine.executor import execute_pickup
from app.engine.graph import FlowSnapshot
from tests.engine.flows import T0, Options, action, chain, edge, flow, invocation, messages, metric_names


async def test_linear_flow_completes_with_posthog_logs_and_metrics() -> None:
    snapshot = flow(
        [action("wait", "delay", {"delay_duration": "0m"}), action("done", "exit")], chain("trigger", "wait", "done")
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build())
    assert outcome.status == "completed"
    assert messages(outcome) == [
        f"Starting workflow execution at trigger at request of [Actor:d-1] on [Event:e-1|$pageview|{T0.isoformat()}]",
        "Executing action [Action:wait]",
        "Workflow moved to action [Action:done]",
        "Executing action [Action:done]",
        "Workflow completed",
    ]
    assert metric_names(outcome) == [("success", "succeeded", "wait"), ("success", "succeeded", "done")]
    assert [(s.action_id, s.outcome, s.next_action_id) for s in outcome.steps] == [
        ("wait", "succeeded", "done"),
        ("done", "finished", None),
    ]
    assert outcome.state["actionStepCount"] == 1


async def test_delay_waits_then_resumes() -> None:
    options = Options()
    snapshot = flow(
        [action("wait", "delay", {"delay_duration": "2h"}), action("done", "exit")], chain("trigger", "wait", "done")
    )
    run = invocation(snapshot)
    first = await execute_pickup(run, options.build())
    assert first.status == "waiting"
    assert first.next_run_at == T0 + timedelta(hours=2)
    assert "Workflow will pause until 2026-03-02T11:00:00.000Z" in messages(first)
    assert first.state["currentAction"]["id"] == "wait"

    options.clock.advance(timedelta(hours=1))
    early = await execute_pickup(run, options.build())
    assert early.status == "waiting" and early.next_run_at == T0 + timedelta(hours=2)
    assert (
        messages(early)[0] == f"Resuming workflow execution at [Action:wait] on [Event:e-1|$pageview|{T0.isoformat()}]"
    )

    options.clock.advance(timedelta(hours=1))
    last = await execute_pickup(run, options.build())
    assert last.status == "completed"


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("48h", timedelta(hours=24)),
        ("90m", timedelta(minutes=60)),
        ("45d", timedelta(days=30)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
async def test_delay_units_are_clamped(duration: str, expected: timedelta) -> None:
    snapshot = flow(
        [action("wait", "delay", {"delay_duration": duration}), action("done", "exit")],
        chain("trigger", "wait", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build())
    assert outcome.next_run_at == T0 + expected


@pytest.mark.parametrize(
    ("draw", "cohorts", "target"),
    [
        (0.3, [50, 50], "a"),
        (0.5, [50, 50], "a"),
        (0.51, [50, 50], "b"),
        (0.95, [40, 40], "b"),
        (0.1, [0, 100], "b"),
    ],
)
async def test_random_cohort_branch(draw: float, cohorts: list[int], target: str) -> None:
    options = Options(draws=[draw])
    config = {"cohorts": [{"percentage": p} for p in cohorts]}
    snapshot = flow(
        [
            action("split", "random_cohort_branch", config, output_variable={"key": "cohort"}),
            action("a", "exit"),
            action("b", "exit"),
        ],
        [edge("trigger", "split"), edge("split", "a", 0), edge("split", "b", 1)],
    )
    outcome = await execute_pickup(invocation(snapshot), options.build())
    assert outcome.steps[-1].action_id == target
    assert outcome.state["variables"] == {"cohort": {"assigned_cohort": target}}


async def test_random_cohort_without_cohorts_takes_continue_edge() -> None:
    snapshot = flow([action("split", "random_cohort_branch", {}), action("a", "exit")], chain("trigger", "split", "a"))
    outcome = await execute_pickup(invocation(snapshot), Options().build())
    assert outcome.status == "completed"


async def test_missing_edge_fails_the_run() -> None:
    snapshot = flow([action("wait", "delay", {"delay_duration": "0m"})], chain("trigger", "wait"))
    outcome = await execute_pickup(invocation(snapshot), Options().build())
    assert outcome.status == "failed"
    assert outcome.error == "No next action found for action wait"
    assert messages(outcome)[-1].startswith(
        "Workflow encountered an error: No next action found for action wait at [Action:wait]. "
        "This workflow was triggered by [Event:e-1|"
    )


class TestOnError:
    @staticmethod
    def _flow(on_error: str | None, next_on_error: str | None = None) -> FlowSnapshot:
        return flow(
            [action("boom", "teleport", on_error=on_error), action("next", "exit", on_error=next_on_error)],
            chain("trigger", "boom", "next"),
        )

    async def test_unknown_type_without_setting_fails(self) -> None:
        outcome = await execute_pickup(invocation(self._flow(None)), Options().build())
        assert outcome.status == "failed"
        assert outcome.error == "Action type 'teleport' not supported"
        assert "[Action:boom] Errored: Error: Action type 'teleport' not supported" in messages(outcome)
        assert ("failure", "failed", "boom") in metric_names(outcome)
        assert not any("aborting" in m for m in messages(outcome))

    async def test_continue_moves_on_and_counts_both(self) -> None:
        outcome = await execute_pickup(invocation(self._flow("continue", "abort")), Options().build())
        assert outcome.status == "completed"
        assert ("failure", "failed", "boom") in metric_names(outcome)
        assert ("success", "succeeded", "boom") in metric_names(outcome)
        assert (
            "[Action:boom] Continuing to next action [Action:next] despite error due to error handling "
            "setting being set to continue on error"
        ) in messages(outcome)

    async def test_abort_logs_and_fails(self) -> None:
        outcome = await execute_pickup(invocation(self._flow("abort")), Options().build())
        assert outcome.status == "failed"
        assert (
            "Workflow is aborting due to [Action:boom] error handling setting being set to abort on error"
            in messages(outcome)
        )


async def test_step_cap_stops_a_cycle_without_waits() -> None:
    snapshot = flow(
        [action("a", "delay", {"delay_duration": "0m"}), action("b", "delay", {"delay_duration": "0m"})],
        [edge("trigger", "a"), edge("a", "b"), edge("b", "a")],
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build(time_budget=timedelta(minutes=5)))
    assert outcome.status == "failed"
    assert outcome.error == "Workflow exceeded the maximum of 1000 action steps"
    assert outcome.state["actionStepCount"] == 1000


async def test_time_budget_yields_and_the_next_pickup_continues() -> None:
    snapshot = flow(
        [action("a", "delay", {"delay_duration": "0m"}), action("done", "exit")], chain("trigger", "a", "done")
    )
    run = invocation(snapshot)
    first = await execute_pickup(run, Options().build(time_budget=timedelta(0)))
    assert first.status == "queued"
    assert first.next_run_at == T0
    assert [s.action_id for s in first.steps] == ["a"]
    second = await execute_pickup(run, Options().build(time_budget=timedelta(0)))
    assert second.status == "completed"
    assert [s.action_id for s in second.steps] == ["done"]


async def test_inactive_flow_cancels_the_run() -> None:
    snapshot = flow([action("done", "exit")], chain("trigger", "done"), status="archived")
    outcome = await execute_pickup(invocation(snapshot), Options().build())
    assert outcome.status == "cancelled"
    assert messages(outcome) == ["Run canceled: the workflow is no longer active"]
    assert metric_names(outcome) == [("other", "canceled", None)]


async def test_removed_action_ends_a_parked_run_cleanly() -> None:
    snapshot = flow([action("done", "exit")], chain("trigger", "done"))
    run = invocation(snapshot, currentAction={"id": "gone", "startedAtTimestamp": 0})
    outcome = await execute_pickup(run, Options().build())
    assert outcome.status == "completed"
    assert outcome.error is None
    assert any("[Action:gone] was removed from the workflow" in m for m in messages(outcome))
    assert ("other", "exited_workflow_changed", "gone") in metric_names(outcome)


async def test_output_variable_size_limit_fails_the_step() -> None:
    options = Options(draws=[0.1])
    big = {"cohorts": [{"percentage": 100, "name": "x"}]}
    snapshot = flow(
        [action("split", "random_cohort_branch", big, output_variable={"key": "k"}), action("a", "exit")],
        [edge("trigger", "split"), edge("split", "a", 0)],
    )
    run = invocation(snapshot, variables={"blob": "x" * 5100})
    outcome = await execute_pickup(run, options.build())
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("Total variable size after updating 'k' exceeds 5KB")
    assert outcome.state["variables"] == {"blob": "x" * 5100}
