"""Branches, waits and exit conditions with real compiled filters and the real Hog VM."""

from datetime import timedelta
from typing import Any

from app.engine.executor import execute_pickup
from app.engine.waits import WaitRegistration
from app.filters import compile_filters
from tests.engine.flows import T0, Options, action, chain, edge, flow, invocation, messages, metric_names

PRO = compile_filters({"properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]})
VIP = compile_filters(
    {"properties": [{"key": "vip", "type": "workflow_variable", "value": "yes", "operator": "exact"}]}
)
PERSON_PRO = {"id": "p-1", "properties": {"plan": "pro", "email": "ada@example.com"}}
PERSON_FREE = {"id": "p-1", "properties": {"plan": "free", "email": "ada@example.com"}}


def branch_flow(**config: Any) -> Any:
    conditions = [{"filters": VIP, "name": "vip"}, {"filters": PRO, "name": "pro"}]
    return flow(
        [
            action("branch", "conditional_branch", {"conditions": conditions, **config}),
            action("vip", "exit"),
            action("pro", "exit"),
            action("other", "exit"),
        ],
        [edge("trigger", "branch"), edge("branch", "vip", 0), edge("branch", "pro", 1), edge("branch", "other")],
    )


async def test_first_matching_condition_wins() -> None:
    outcome = await execute_pickup(invocation(branch_flow(), PERSON_PRO), Options().build())
    assert [s.action_id for s in outcome.steps] == ["branch", "pro"]
    outcome = await execute_pickup(invocation(branch_flow(), PERSON_PRO, variables={"vip": "yes"}), Options().build())
    assert [s.action_id for s in outcome.steps] == ["branch", "vip"]


async def test_no_match_takes_the_else_path() -> None:
    outcome = await execute_pickup(invocation(branch_flow(), PERSON_FREE), Options().build())
    assert [s.action_id for s in outcome.steps] == ["branch", "other"]
    outcome = await execute_pickup(invocation(branch_flow(), None), Options().build())
    assert [s.action_id for s in outcome.steps] == ["branch", "other"]


async def test_branch_with_delay_polls_until_it_expires() -> None:
    options = Options()
    run = invocation(branch_flow(delay_duration="30m"), PERSON_FREE)
    first = await execute_pickup(run, options.build())
    assert first.status == "waiting"
    assert first.next_run_at == T0 + timedelta(minutes=10)
    run.person = PERSON_PRO
    options.clock.advance(timedelta(minutes=10))
    second = await execute_pickup(run, options.build())
    assert [s.action_id for s in second.steps] == ["branch", "pro"]


class TestWaitUntilCondition:
    @staticmethod
    def _flow() -> Any:
        config = {"condition": {"filters": PRO}, "max_wait_duration": "1h"}
        return flow(
            [action("wait", "wait_until_condition", config), action("matched", "exit"), action("timeout", "exit")],
            [edge("trigger", "wait"), edge("wait", "matched", 0), edge("wait", "timeout")],
        )

    async def test_matches_at_once(self) -> None:
        outcome = await execute_pickup(invocation(self._flow(), PERSON_PRO), Options().build())
        assert [s.action_id for s in outcome.steps] == ["wait", "matched"]
        assert "[Action:wait] Condition matched - taking the matched path" in messages(outcome)

    async def test_parks_until_its_deadline_and_rechecks_when_woken(self) -> None:
        options = Options()
        run = invocation(self._flow(), PERSON_FREE)
        first = await execute_pickup(run, options.build())
        assert first.status == "waiting"
        # No 10-minute poll: the person changing wakes it (a condition registration), else the deadline.
        assert first.next_run_at == T0 + timedelta(hours=1)
        # Person-only filters ride along, so the pipeline wakes it only for a change that matches them.
        [registration] = first.step_waits or []
        assert registration == WaitRegistration(
            kind="condition", event_name=None, filters=registration.filters, expires_at=T0 + timedelta(hours=1)
        )
        assert registration.filters is not None and registration.filters["properties"] == PRO["properties"]
        assert "[Action:wait] Waiting for condition to match (timeout: 2026-03-02T10:00:00.000Z)" in messages(first)
        options.clock.advance(timedelta(minutes=10))
        again = await execute_pickup(run, options.build())
        assert again.status == "waiting" and again.step_waits is None
        assert not any("Waiting for condition" in m for m in messages(again))
        run.person = PERSON_PRO
        options.clock.advance(timedelta(minutes=10))
        done = await execute_pickup(run, options.build())
        assert [s.action_id for s in done.steps] == ["wait", "matched"]
        assert done.step_waits == []

    async def test_times_out(self) -> None:
        options = Options()
        run = invocation(self._flow(), PERSON_FREE)
        assert (await execute_pickup(run, options.build())).status == "waiting"
        options.clock.advance(timedelta(hours=1))
        last = await execute_pickup(run, options.build())
        assert [s.action_id for s in last.steps] == ["wait", "timeout"]
        assert "[Action:wait] Timed out waiting for condition - taking the timeout path" in messages(last)
        assert last.step_waits == []


async def test_action_filters_skip_an_action() -> None:
    snapshot = flow(
        [action("hello", "delay", {"delay_duration": "1h"}, filters=PRO), action("done", "exit")],
        chain("trigger", "hello", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot, PERSON_FREE), Options().build())
    assert outcome.status == "completed"
    assert "[Action:hello] Skipped due to filter conditions" in messages(outcome)
    assert ("other", "filtered", "hello") in metric_names(outcome)


class TestExitConditions:
    @staticmethod
    def _flow(exit_condition: str) -> Any:
        trigger_filters = compile_filters(
            {
                "events": [{"id": "$pageview", "type": "events"}],
                "properties": [{"key": "plan", "type": "person", "value": "free", "operator": "exact"}],
            }
        )
        conversion = {"filters": PRO["properties"], "bytecode": PRO["bytecode"]}
        return flow(
            [action("wait", "delay", {"delay_duration": "1h"}), action("done", "exit")],
            chain("trigger", "wait", "done"),
            exit_condition=exit_condition,
            trigger={"type": "event", "filters": trigger_filters},
            conversion=conversion,
        )

    async def test_conversion_exits_a_waiting_run(self) -> None:
        options = Options()
        run = invocation(self._flow("exit_on_conversion"), PERSON_FREE)
        assert (await execute_pickup(run, options.build())).status == "waiting"
        run.person = PERSON_PRO
        options.clock.advance(timedelta(hours=1))
        outcome = await execute_pickup(run, options.build())
        assert outcome.status == "completed"
        assert outcome.steps == []
        assert messages(outcome) == [
            "Workflow exited early due to exit condition: exit_on_conversion "
            "([Person:p-1|ada@example.com] matches conversion filters)"
        ]
        assert metric_names(outcome) == [("other", "early_exit", "wait")]

    async def test_trigger_no_longer_matching_exits(self) -> None:
        run = invocation(
            self._flow("exit_on_trigger_not_matched"), PERSON_PRO, currentAction={"id": "wait", "startedAtTimestamp": 0}
        )
        outcome = await execute_pickup(run, Options().build())
        assert outcome.status == "completed"
        assert "no longer matches trigger filters" in messages(outcome)[0]

    async def test_exit_only_at_end_ignores_both(self) -> None:
        run = invocation(
            self._flow("exit_only_at_end"), PERSON_PRO, currentAction={"id": "wait", "startedAtTimestamp": 0}
        )
        outcome = await execute_pickup(run, Options().build())
        assert [s.action_id for s in outcome.steps] == ["wait", "done"]
