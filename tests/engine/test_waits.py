"""Event waits, conversion by event, delays in seconds and `delay_until`, with the test clock.

The engine only says what a run waits for and reacts to what woke it; the capture pipeline's
matching is covered against PostgreSQL and real workers in tests/worker/test_event_waits.py.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.engine.actions.conditions import NO_CORRELATION
from app.engine.executor import execute_pickup
from app.engine.waits import WaitRegistration, Wake, conversion_registrations, person_only
from app.filters import compile_filters
from app.hog.compiler import compile_expression
from tests.engine.flows import T0, Options, action, chain, edge, flow, invocation, messages

CHECKOUT = compile_filters({"events": [{"id": "checkout", "type": "events"}]})
PERSON = {"id": "p-1", "properties": {"plan": "free", "email": "ada@example.com", "$geoip_time_zone": "Asia/Tokyo"}}
CHECKOUT_EVENT = {"uuid": "e-2", "event": "checkout", "distinct_id": "d-1", "properties": {"cart_id": "c-1"}}


def wait_flow(**config: Any) -> Any:
    wait_config = {"events": [{"filters": CHECKOUT}], "max_wait_duration": "1h", **config}
    return flow(
        [
            action("wait", "wait_until_condition", wait_config, output_variable={"key": "checkout"}),
            action("converted", "exit"),
            action("abandoned", "exit"),
        ],
        [edge("trigger", "wait"), edge("wait", "converted", 0), edge("wait", "abandoned")],
        variables=[{"key": "checkout", "type": "string", "default": ""}],
    )


class TestEventWait:
    async def test_registers_the_event_and_parks_until_the_deadline(self) -> None:
        run = invocation(wait_flow(), PERSON)
        outcome = await execute_pickup(run, Options().build())
        assert outcome.status == "waiting"
        assert outcome.next_run_at == T0 + timedelta(hours=1)
        assert outcome.step_waits == [
            WaitRegistration(kind="event", event_name="checkout", filters=CHECKOUT, expires_at=T0 + timedelta(hours=1))
        ]
        assert outcome.state["currentAction"]["waitingForEvent"] is True
        assert "[Action:wait] Waiting for event: checkout (timeout: 2026-03-02T10:00:00.000Z)" in messages(outcome)

    async def test_the_waking_event_takes_the_matched_path_and_is_the_step_result(self) -> None:
        options = Options()
        run = invocation(wait_flow(), PERSON)
        await execute_pickup(run, options.build())
        options.clock.advance(timedelta(seconds=3))
        run.woken_by = [Wake("event", CHECKOUT_EVENT)]
        outcome = await execute_pickup(run, options.build())
        assert outcome.status == "completed"
        assert [s.action_id for s in outcome.steps] == ["wait", "converted"]
        assert "[Action:wait] Event 'checkout' matched - taking the matched path" in messages(outcome)
        assert outcome.exec_result is None
        assert outcome.state["variables"]["checkout"] == CHECKOUT_EVENT
        assert outcome.step_waits == []

    async def test_a_wake_without_a_match_parks_again_without_registering_twice(self) -> None:
        options = Options()
        run = invocation(wait_flow(), PERSON)
        await execute_pickup(run, options.build())
        options.clock.advance(timedelta(minutes=5))
        again = await execute_pickup(run, options.build())
        assert again.status == "waiting" and again.next_run_at == T0 + timedelta(hours=1)
        assert again.step_waits is None

    async def test_the_deadline_takes_the_timeout_path(self) -> None:
        options = Options()
        run = invocation(wait_flow(), PERSON)
        await execute_pickup(run, options.build())
        options.clock.advance(timedelta(hours=1))
        outcome = await execute_pickup(run, options.build())
        assert [s.action_id for s in outcome.steps] == ["wait", "abandoned"]
        assert "[Action:wait] Timed out waiting for events - taking the timeout path" in messages(outcome)
        assert outcome.step_waits == []

    async def test_a_conversion_wake_does_not_satisfy_the_wait(self) -> None:
        options = Options()
        run = invocation(wait_flow(), PERSON)
        await execute_pickup(run, options.build())
        run.woken_by = [Wake("conversion", CHECKOUT_EVENT)]
        assert (await execute_pickup(run, options.build())).status == "waiting"

    @pytest.mark.parametrize(
        ("properties", "expected"), [({"cart_id": "c-7"}, json.dumps("c-7")), ({}, NO_CORRELATION)]
    )
    async def test_correlation_is_taken_from_the_trigger_event(self, properties: dict[str, Any], expected: str) -> None:
        bytecode = compile_expression("event.properties.cart_id")
        run = invocation(wait_flow(correlation={"expression": "event.properties.cart_id", "bytecode": bytecode}))
        run.person = PERSON
        run.state["event"]["properties"] = properties
        outcome = await execute_pickup(run, Options().build())
        assert outcome.step_waits is not None
        [registration] = outcome.step_waits
        assert registration.correlation == bytecode
        assert registration.correlation_value == expected


def delay_flow(exit_condition: str, **config: Any) -> Any:
    return flow(
        [action("wait", "delay", {"delay_duration": "1d", **config}), action("done", "exit")],
        chain("trigger", "wait", "done"),
        exit_condition=exit_condition,
        conversion={"events": [{"filters": CHECKOUT}], "filters": [], "bytecode": []},
    )


class TestConversionByEvent:
    @pytest.mark.parametrize("condition", ["exit_on_conversion", "exit_on_trigger_not_matched_or_conversion"])
    async def test_registered_on_the_first_pickup_and_exits_when_woken(self, condition: str) -> None:
        options = Options()
        run = invocation(delay_flow(condition), PERSON)
        first = await execute_pickup(run, options.build())
        assert first.status == "waiting"
        assert first.conversion_waits == [WaitRegistration(kind="conversion", event_name="checkout", filters=CHECKOUT)]
        options.clock.advance(timedelta(minutes=1))
        again = await execute_pickup(run, options.build())
        assert again.status == "waiting" and again.conversion_waits == []
        run.woken_by = [Wake("conversion", CHECKOUT_EVENT)]
        done = await execute_pickup(run, options.build())
        assert done.status == "completed" and done.steps == []
        assert messages(done) == [
            f"Workflow exited early due to exit condition: {condition} "
            "([Person:p-1|ada@example.com] converted on [Event:e-2|checkout|None])"
        ]

    async def test_the_conversion_window_bounds_the_registration(self) -> None:
        snapshot = delay_flow("exit_on_conversion")
        assert snapshot.conversion is not None
        snapshot.conversion["window_minutes"] = 90
        outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build())
        assert [wait.expires_at for wait in outcome.conversion_waits] == [T0 + timedelta(minutes=90)]

    async def test_not_registered_when_the_flow_exits_only_at_the_end(self) -> None:
        run = invocation(delay_flow("exit_only_at_end"), PERSON)
        outcome = await execute_pickup(run, Options().build())
        assert outcome.conversion_waits == []
        run.woken_by = [Wake("conversion", CHECKOUT_EVENT)]
        assert (await execute_pickup(run, Options().build())).status == "waiting"


def until_flow(on_error: str | None = None, **config: Any) -> Any:
    expression = config.pop("expression", "person.properties.due")
    until = {"expression": expression, "bytecode": compile_expression(expression), **config.pop("until", {})}
    delay = action("wait", "delay", {"delay_until": until, **config}, on_error=on_error)
    return flow([delay, action("done", "exit")], chain("trigger", "wait", "done"))


def with_due(due: Any, **properties: Any) -> dict[str, Any]:
    return {"id": "p-1", "properties": {"due": due, **properties}}


class TestDelays:
    async def test_seconds(self) -> None:
        options = Options()
        snapshot = flow(
            [action("wait", "delay", {"delay_duration": "5s"}), action("done", "exit")],
            chain("trigger", "wait", "done"),
        )
        run = invocation(snapshot)
        first = await execute_pickup(run, options.build())
        assert first.next_run_at == T0 + timedelta(seconds=5)
        options.clock.advance(timedelta(seconds=5))
        assert (await execute_pickup(run, options.build())).status == "completed"

    @pytest.mark.parametrize(
        ("due", "config", "person", "expected"),
        [
            ("2026-03-04T12:00:00Z", {}, {}, datetime(2026, 3, 4, 12, tzinfo=UTC)),
            ("2026-03-04T12:00:00Z", {"until": {"offset": "-1d"}}, {}, datetime(2026, 3, 3, 12, tzinfo=UTC)),
            (
                "2026-03-04T12:00:00+02:00",
                {"until": {"timezone": "Asia/Tokyo"}},
                {},
                datetime(2026, 3, 4, 10, tzinfo=UTC),
            ),
            # No offset of its own: read in the configured zone (Tokyo is UTC+9).
            ("2026-03-04T09:00:00", {"until": {"timezone": "Asia/Tokyo"}}, {}, datetime(2026, 3, 4, 0, tzinfo=UTC)),
            ("2026-03-04", {"until": {"timezone": "Europe/Berlin"}}, {}, datetime(2026, 3, 3, 23, tzinfo=UTC)),
            (
                "2026-03-04",
                {"until": {"use_person_timezone": True, "fallback_timezone": "Europe/Berlin"}},
                {"$geoip_time_zone": "Asia/Tokyo"},
                datetime(2026, 3, 3, 15, tzinfo=UTC),
            ),
            (1772800000, {}, {}, datetime.fromtimestamp(1772800000, tz=UTC)),
            # Capped by max_delay_duration after the step started.
            ("2026-09-01T00:00:00Z", {"max_delay_duration": "2d"}, {}, T0 + timedelta(days=2)),
            ("2026-09-01T00:00:00Z", {}, {}, T0 + timedelta(days=30)),
        ],
    )
    async def test_delay_until(
        self, due: Any, config: dict[str, Any], person: dict[str, Any], expected: datetime
    ) -> None:
        outcome = await execute_pickup(invocation(until_flow(**config), with_due(due, **person)), Options().build())
        assert outcome.status == "waiting"
        assert outcome.next_run_at == expected

    async def test_a_date_in_the_past_continues_at_once(self) -> None:
        outcome = await execute_pickup(invocation(until_flow(), with_due("2020-01-01T00:00:00Z")), Options().build())
        assert outcome.status == "completed"

    async def test_a_later_date_is_honoured_on_wake(self) -> None:
        options = Options()
        person = with_due("2026-03-02T10:00:00Z")
        run = invocation(until_flow(), person)
        assert (await execute_pickup(run, options.build())).next_run_at == T0 + timedelta(hours=1)
        person["properties"]["due"] = "2026-03-02T12:00:00Z"
        options.clock.advance(timedelta(hours=1))
        assert (await execute_pickup(run, options.build())).next_run_at == T0 + timedelta(hours=3)

    @pytest.mark.parametrize("due", [None, "soon", 1772800000000, True])
    async def test_an_unresolvable_date_aborts_whatever_on_error_says(self, due: Any) -> None:
        outcome = await execute_pickup(invocation(until_flow(on_error="continue"), with_due(due)), Options().build())
        assert outcome.status == "failed"
        assert outcome.error is not None and "delay_until" in outcome.error


class TestPersonOnlyFilters:
    """Which filters the capture pipeline may check against a changed person before waking a run."""

    @pytest.mark.parametrize(
        ("filters", "checked"),
        [
            ({"properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]}, True),
            ({"properties": [{"key": "vip", "type": "workflow_variable", "value": "y", "operator": "exact"}]}, False),
            ({"properties": [{"key": "$browser", "type": "event", "value": "x", "operator": "exact"}]}, False),
            (
                {
                    "properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}],
                    "filter_test_accounts": True,
                },
                False,
            ),
        ],
    )
    def test_only_person_properties_are_checked_at_ingest(self, filters: dict[str, Any], checked: bool) -> None:
        compiled = compile_filters(filters)
        assert (person_only(compiled) is not None) is checked

    def test_a_property_conversion_registers_a_person_change(self) -> None:
        conversion = {"filters": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]}
        compiled = compile_filters({"properties": conversion["filters"]})
        goal = {**conversion, "bytecode": compiled["bytecode"]}
        [registration] = conversion_registrations(goal, None)
        assert (registration.kind, registration.event_name) == ("conversion", None)
        assert registration.filters == {"bytecode": compiled["bytecode"], "properties": conversion["filters"]}
        assert conversion_registrations({"filters": [], "bytecode": []}, None) == []
