"""How a template runs: globals, inputs in order, print() logs and their cap, secrets, errors, exec results."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.engine.executor import execute_pickup
from app.engine.functions import FunctionStepRunner, MockedCalls
from app.engine.templates import TEMPLATES, FunctionTemplate
from app.engine.templates.base import template_bytecode
from tests.engine.flows import T0, Options, action, chain, flow, invocation, metric_names
from tests.functions.helpers import action_logs, function_action

PERSON = {"id": "p-1", "properties": {"email": "ada@example.com", "name": "Ada"}, "distinct_id": "d-1"}


@pytest.fixture
def template(request: pytest.FixtureRequest) -> Iterator[FunctionTemplate]:
    """A template of the test's own, registered for the test only (`@pytest.mark.parametrize` gives the Hog)."""
    hog, schema = request.param
    made = FunctionTemplate(
        id=f"template-test-{request.node.name}",
        type="destination",
        name="Test",
        description="",
        inputs_schema=schema,
        hog=hog,
    )
    TEMPLATES[made.id] = made
    yield made
    del TEMPLATES[made.id]


async def run_step(template: FunctionTemplate, inputs: dict[str, Any], **extra: Any) -> Any:
    step = function_action("fn", template.id, inputs, **extra)
    snapshot = flow([step, action("done", "exit")], chain("trigger", "fn", "done"), name="My flow")
    runner = FunctionStepRunner(calls=MockedCalls(clock=lambda: T0), site_url="https://flows.test")
    return await execute_pickup(
        invocation(snapshot, PERSON, variables={"plan": "pro"}), Options().build(run_function=runner)
    )


GLOBALS_HOG = (
    "return {'event': event.event, 'url': event.url, 'person': person, 'source': source, 'project': project, "
    "'variables': variables, 'inputs': inputs}",
    [
        {"key": "greeting", "type": "string", "required": True},
        {"key": "line", "type": "string", "required": True},
        {"key": "extra", "type": "json", "required": False},
    ],
)


@pytest.mark.parametrize("template", [GLOBALS_HOG], indirect=True)
async def test_globals_and_inputs_resolved_in_order(template: FunctionTemplate) -> None:
    outcome = await run_step(
        template,
        # `line` reads `greeting`, so it resolves after it whatever the order here.
        {
            "line": "{inputs.greeting}, {person.name}!",
            "greeting": "Hello",
            "extra": {"plan": "{variables.plan}", "list": ["{event.event}", 1]},
        },
        output_variable={"key": "seen"},
    )
    assert outcome.status == "completed", outcome.error
    seen = outcome.state["variables"]["seen"]
    assert seen["event"] == "$pageview"
    assert (
        seen["url"]
        == f"https://flows.test/project/1/events/e-1/{T0.isoformat().replace(':', '%3A').replace('+', '%2B')}"
    )
    assert seen["person"] == {
        "id": "p-1",
        "name": "ada@example.com",
        "url": "https://flows.test/project/1/person/d-1",
        "properties": PERSON["properties"],
    }
    assert seen["source"] == {
        "name": "My flow - Test",
        "url": "https://flows.test/project/1/workflows/flow-1/workflow?node=flow-1",
    }
    assert seen["project"] == {"id": 1, "name": "", "url": ""}
    assert seen["variables"] == {"plan": "pro"}
    assert seen["inputs"] == {
        "greeting": "Hello",
        "line": "Hello, ada@example.com!",
        "extra": {"plan": "pro", "list": ["$pageview", 1]},
    }


PRINTS_HOG = (
    "for (let i in range(30)) { print(f'line {i} token={inputs.token}') }",
    [{"key": "token", "type": "string", "required": True, "secret": True}],
)


@pytest.mark.parametrize("template", [PRINTS_HOG], indirect=True)
async def test_prints_are_capped_at_25_and_secrets_redacted(template: FunctionTemplate) -> None:
    outcome = await run_step(template, {"token": "s3cr3t-value"})
    assert outcome.status == "completed", outcome.error
    info = [log.message for log in outcome.logs if log.level == "info" and log.message.startswith("[Action:fn]")]
    assert len(info) == 24
    assert info[0] == "[Action:fn] line 0 token=***REDACTED***"
    warnings = [log.message for log in outcome.logs if log.level == "warn"]
    assert warnings == ["[Action:fn] Function exceeded maximum log entries. No more logs will be collected. Event: e-1"]
    assert all("s3cr3t-value" not in log.message for log in outcome.logs)


THROWS_HOG = ("print('before'); throw Error(f'bad {inputs.what}')", [{"key": "what", "type": "string"}])


@pytest.mark.parametrize("template", [THROWS_HOG], indirect=True)
async def test_a_thrown_error_fails_the_step_and_still_bills(template: FunctionTemplate) -> None:
    outcome = await run_step(template, {"what": "thing"})
    assert outcome.status == "failed"
    assert outcome.error == "bad thing"
    assert action_logs(outcome, "fn")[:2] == ["before", "Error executing function on event e-1: Error('bad thing')"]
    assert ("fetch", "billable_invocation", "fn") in metric_names(outcome)


INPUT_ERROR_HOG = ("return inputs", [{"key": "broken", "type": "string"}])


@pytest.mark.parametrize("template", [INPUT_ERROR_HOG], indirect=True)
async def test_an_input_that_cannot_run_fails_the_step(template: FunctionTemplate) -> None:
    outcome = await run_step(template, {"broken": "{fetch('https://example.com')}"})
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("Error building inputs: Could not execute bytecode for input field: broken")


FALSY_HOG: tuple[str, list[dict[str, Any]]] = ("return 0", [])


@pytest.mark.parametrize("template", [FALSY_HOG], indirect=True)
async def test_falsy_results_are_no_result(template: FunctionTemplate) -> None:
    outcome = await run_step(template, {}, output_variable={"key": "out"})
    assert outcome.status == "completed"
    assert "out" not in outcome.state["variables"]


async def test_an_unknown_template_fails_the_step() -> None:
    step = action("fn", "function", {"template_id": "template-nope", "inputs": {}})
    snapshot = flow([step, action("done", "exit")], chain("trigger", "fn", "done"))
    runner = FunctionStepRunner(calls=MockedCalls(clock=lambda: T0))
    outcome = await execute_pickup(invocation(snapshot), Options().build(run_function=runner))
    assert outcome.status == "failed"
    assert outcome.error == "Template 'template-nope' not found"


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_every_template_compiles(template_id: str) -> None:
    bytecode = template_bytecode(TEMPLATES[template_id])
    assert bytecode[:2] == ["_H", 1]


THREE_FETCHES_HOG: tuple[str, list[dict[str, Any]]] = (
    "let a := fetch('https://example.com/1'); let b := fetch('https://example.com/2'); "
    "let c := fetch('https://example.com/3'); return [a.status, b.status, c.status]",
    [],
)


@pytest.mark.parametrize("template", [THREE_FETCHES_HOG], indirect=True)
async def test_a_step_parked_between_calls_resumes_pauses_and_parks_again(template: FunctionTemplate) -> None:
    """One call per pickup: the live VM parks encoded, the next pickup resumes it from its state and parks again."""
    step = function_action("fn", template.id, {}, output_variable={"key": "got"})
    snapshot = flow([step, action("done", "exit")], chain("trigger", "fn", "done"), name="My flow")
    runner = FunctionStepRunner(calls=MockedCalls(clock=lambda: T0), max_calls_per_pickup=1)
    run = invocation(snapshot, PERSON)
    statuses = []
    for _ in range(5):
        outcome = await execute_pickup(run, Options().build(run_function=runner))
        statuses.append(outcome.status)
        if outcome.status != "waiting":
            break
        assert outcome.state["currentAction"]["hogFunctionState"]["vm"]["version"] == 1
    assert statuses == ["waiting", "waiting", "completed"], outcome.error
    assert outcome.state["variables"]["got"] == [200, 200, 200]


def test_event_and_person_pages_quote_ids_as_urllib_does() -> None:
    from urllib.parse import quote

    from app.engine.functions.inputs import base_globals
    from app.engine.templates import get_template

    webhook = get_template("template-webhook")
    assert webhook is not None
    snapshot = flow([action("done", "exit")], chain("trigger", "done"))
    for text in ["2026-03-02T09:00:00+00:00", "d 1/ü", "a~b_c.d-e", "%41&?#=", "日本", "tab\there"]:
        run = invocation(snapshot, {"id": "p-1", "distinct_id": text, "properties": {}})
        run.state["event"].update(uuid=text, timestamp=text)
        values = base_globals(run, webhook, "https://flows.test/")
        quoted = quote(text, safe="")
        assert values["event"]["url"] == f"https://flows.test/project/1/events/{quoted}/{quoted}", text
        assert values["person"]["url"] == f"https://flows.test/project/1/person/{quoted}", text


async def test_the_completion_log_keeps_its_content_on_one_pickup_and_after_a_park() -> None:
    # Mem is the size of the globals the function starts with (1197: what the walk counted before it was
    # made cheaper), Event the event's page; both the same whether the step parked in between or not.
    person = {"id": "p-1", "properties": {"email": "ada@example.com", "plan": "pro"}, "distinct_id": "d 1/ü"}
    hook = function_action(
        "hook",
        "template-webhook",
        {"url": "https://example.com/hook", "body": {"event": "{event.event}", "email": "{person.properties.email}"}},
    )
    snapshot = flow([hook, action("done", "exit")], chain("trigger", "hook", "done"))

    def run() -> Any:
        made = invocation(snapshot, person)
        made.state["event"]["properties"] = {"$current_url": "https://x.y/ü?a=b", "n": [1, 2, {"k": "v"}]}
        return made

    def runner(**options: Any) -> FunctionStepRunner:
        return FunctionStepRunner(calls=MockedCalls(clock=lambda: T0), **options)

    line = (
        r"Function completed in 0ms\. Sync: [0-9.e-]+ms\. Mem: 1\.2kb\. Ops: 42\. "
        r"Event: 'http://localhost:8000/project/1/events/e-1/2026-03-02T09%3A00%3A00%2B00%3A00'"
    )
    once = await execute_pickup(run(), Options().build(run_function=runner()))
    assert once.status == "completed", once.error
    assert [log for log in action_logs(once, "hook") if re.fullmatch(line, log)]

    parked = run()
    first = await execute_pickup(parked, Options().build(run_function=runner(max_calls_per_pickup=0)))
    assert first.status == "waiting"
    assert first.state["currentAction"]["hogFunctionState"]["memoryBytes"] == 1197
    second = await execute_pickup(parked, Options().build(run_function=runner()))
    assert second.status == "completed", second.error
    assert [log for log in action_logs(second, "hook") if re.fullmatch(line, log)]
