"""Webhook function steps against a real local HTTP server: templated requests, retries, errors, limits."""

from datetime import timedelta

from app.engine.executor import execute_pickup
from app.engine.functions import FunctionStepRunner, MockedCalls
from tests.engine.flows import T0, Options, action, chain, flow, invocation, metric_names
from tests.functions.helpers import action_logs, function_action, real_runner
from tests.functions.servers import LocalHttpServer, Reply

PERSON = {"id": "p-1", "properties": {"email": "ada@example.com", "plan": "pro"}, "distinct_id": "d-1"}


def webhook(server: LocalHttpServer, **inputs: object) -> dict[str, object]:
    return {"url": server.url("/hook"), **inputs}


async def test_templated_json_body_method_and_headers_reach_the_server(http_server: LocalHttpServer) -> None:
    hook = function_action(
        "hook",
        "template-webhook",
        webhook(
            http_server,
            method="PUT",
            headers={"Content-Type": "application/json", "X-Event": "{event.event}"},
            body={"event": "{event.event}", "email": "{person.properties.email}", "plan": "{person.properties.plan}"},
        ),
        output_variable={"key": "status", "result_path": "status"},
    )
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=real_runner()))

    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests
    assert (request.method, request.path) == ("PUT", "/hook")
    assert request.headers["x-event"] == "$pageview"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"event": "$pageview", "email": "ada@example.com", "plan": "pro"}
    assert outcome.state["variables"] == {"status": 200}
    assert ("fetch", "billable_invocation", "hook") in metric_names(outcome)
    assert ("other", "fetch", None) in metric_names(outcome)
    logs = action_logs(outcome, "hook")
    assert any(line.startswith("Function completed in ") and "Ops: " in line for line in logs)


async def test_a_503_parks_the_run_with_backoff_then_the_retry_succeeds(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(503, "busy"), Reply(200, {"ok": True}))
    options = Options(draws=[0.5])
    snapshot = flow(
        [function_action("hook", "template-webhook", webhook(http_server)), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    run = invocation(snapshot, PERSON)

    first = await execute_pickup(run, options.build(run_function=real_runner()))
    assert first.status == "waiting"
    # attempt 1: base * 1 + base * draw
    assert first.next_run_at == T0 + timedelta(seconds=1.5)
    assert "HTTP fetch failed on attempt 1 with status code 503. Retrying." in action_logs(first, "hook")
    assert first.state["currentAction"]["id"] == "hook"
    assert first.state["currentAction"]["hogFunctionState"]["attempts"] == 1
    assert ("other", "fetch", None) not in metric_names(first)

    options.clock.advance(timedelta(seconds=2))
    second = await execute_pickup(run, options.build(run_function=real_runner()))
    assert second.status == "completed", second.error
    assert len(http_server.requests_to("/hook")) == 2
    assert ("other", "fetch", None) in metric_names(second)


async def test_retries_stop_after_three_attempts_and_the_step_fails(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(503, "busy"))
    options = Options(draws=[0.0, 0.0])
    snapshot = flow(
        [function_action("hook", "template-webhook", webhook(http_server)), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    run = invocation(snapshot, PERSON)
    outcomes = []
    for _ in range(3):
        outcomes.append(await execute_pickup(run, options.build(run_function=real_runner())))
        options.clock.advance(timedelta(seconds=5))
    assert [o.status for o in outcomes] == ["waiting", "waiting", "failed"]
    assert outcomes[1].next_run_at == T0 + timedelta(seconds=5 + 2)
    last = action_logs(outcomes[2], "hook")
    assert "HTTP fetch failed on attempt 3 with status code 503." in last
    assert outcomes[2].error == "Webhook failed with status 503: busy"
    assert len(http_server.requests_to("/hook")) == 3


async def test_a_404_takes_the_templates_error_path_and_on_error_continue(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(404, {"error": "no such hook"}))
    hook = function_action("hook", "template-webhook", webhook(http_server), on_error="continue")
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=real_runner()))

    assert outcome.status == "completed"
    assert len(http_server.requests) == 1  # 404 is not retried
    messages = [log.message for log in outcome.logs]
    assert "[Action:hook] HTTP fetch failed on attempt 1 with status code 404." in messages
    assert "[Action:hook] Errored: Error: Webhook failed with status 404: {'error': 'no such hook'}" in messages, (
        messages
    )
    assert ("fetch", "billable_invocation", "hook") in metric_names(outcome)
    assert ("failure", "failed", "hook") in metric_names(outcome)


async def test_a_404_without_error_handling_fails_the_run(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(404, "nope"))
    snapshot = flow(
        [function_action("hook", "template-webhook", webhook(http_server)), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=real_runner()))
    assert outcome.status == "failed"
    assert outcome.error == "Webhook failed with status 404: nope"


async def test_debug_prints_become_info_logs(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(201, {"id": 7}))
    hook = function_action("hook", "template-webhook", webhook(http_server, debug=True, body={"a": 1}))
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=real_runner()))
    info = [log.message for log in outcome.logs if log.level == "info" and log.message.startswith("[Action:hook]")]
    assert info[0].startswith(f"[Action:hook] Request {http_server.url('/hook')} ")
    assert info[1] == "[Action:hook] Response 201 {'id': 7}"


async def test_response_bodies_are_truncated_at_the_size_limit(http_server: LocalHttpServer) -> None:
    http_server.script("/hook", Reply(200, "x" * 5000))
    hook = function_action(
        "hook", "template-webhook", webhook(http_server), output_variable={"key": "body", "result_path": "body"}
    )
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))
    runner = real_runner(max_response_bytes=1024)
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=runner))
    assert outcome.status == "completed"
    assert outcome.state["variables"]["body"] == "x" * 1024
    warnings = [log.message for log in outcome.logs if log.level == "warn"]
    assert warnings == [f"[Action:hook] Response body of {http_server.url('/hook')} truncated to its first 1024 bytes"]


async def test_a_network_error_is_retried(http_server: LocalHttpServer) -> None:
    # Nothing listens on the port any more: connection refused is a retriable network error.
    url = http_server.url("/hook")
    http_server.stop()
    snapshot = flow(
        [function_action("hook", "template-webhook", {"url": url}), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options(draws=[0.0]).build(run_function=real_runner()))
    assert outcome.status == "waiting"
    [line] = [m for m in action_logs(outcome, "hook") if m.startswith("HTTP fetch failed")]
    assert line.startswith("HTTP fetch failed on attempt 1 with status code (none). Error: ")
    assert line.endswith(" Retrying.")


async def test_a_second_async_call_waits_for_the_next_pickup() -> None:
    # Two channels make two calls; a real pickup performs one (PostHog: one async call per dequeue).
    calls = MockedCalls(clock=lambda: T0)
    push = function_action("push", "template-native-push", {"channels": [1, 2]}, action_type="function_push")
    snapshot = flow([push, action("done", "exit")], chain("trigger", "push", "done"))
    run = invocation(snapshot, PERSON)
    runner = FunctionStepRunner(calls=calls)

    first = await execute_pickup(run, Options().build(run_function=runner))
    assert first.status == "waiting" and first.next_run_at == T0
    assert len([log for log in calls.logs if log.message.startswith("sendPushNotification(")]) == 1

    second = await execute_pickup(run, Options().build(run_function=runner))
    assert second.status == "completed", second.error
    assert len([log for log in calls.logs if log.message.startswith("sendPushNotification(")]) == 2
    assert ("fetch", "billable_invocation", "push") in metric_names(second)


async def test_omitted_headers_and_method_take_the_templates_defaults(http_server: LocalHttpServer) -> None:
    hook = function_action("hook", "template-webhook", webhook(http_server, body={"event": "{event.event}"}))
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))
    outcome = await execute_pickup(invocation(snapshot, PERSON), Options().build(run_function=real_runner()))

    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.json() == {"event": "$pageview"}
