"""Function steps (`function`, `function_email`, `function_sms`, `function_push`): a template run in the VM.

One call of the runner is one pickup of the step (executor.md §5.11, §6):

1. First pickup: build the globals and resolve the inputs, start the template's bytecode.
2. When the VM pauses on `fetch`/`sendEmail`/`sendPushNotification`, perform the call and resume it
   with the result. A pickup performs at most `max_calls_per_pickup` calls (PostHog: one per dequeue);
   past that the step parks with `scheduled_at = now` and the next pickup goes on.
3. A retriable failure (408/429/5xx, network errors, transient SMTP errors) parks the run with
   backoff and the next pickup repeats the call, up to `RetryPolicy.attempts` attempts. A final
   failure still resumes the VM (the template sees the response) and fails the step afterwards.
4. With a `SendLedger`, each request is recorded (pending) before it goes out and completed with its
   outcome after. A pickup that is retried after a crash finds the record: a completed one gives
   the stored outcome back without sending, a pending one (the crash hit mid-request) is not sent
   again and fails as "outcome unknown" — the step's `on_error` decides what happens next.

Within a pickup the paused VM stays in memory and is resumed as it is; it is encoded only when the
step parks. While parked, the VM state lives in `currentAction.hogFunctionState` (see `FunctionState`). When the step
handles secrets (secret inputs, integration tokens), that state is encrypted with `HOGFLOWS_SECRET_KEY`:
the paused VM's globals and the pending request hold them in clear.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.crypto import SecretBox, SecretDecryptionError, is_sealed
from app.engine.actions.base import ActionContext, ActionError, ActionResult
from app.engine.functions.calls import (
    ASYNC_FUNCTIONS,
    CALL_KINDS,
    AsyncCalls,
    CallOutcome,
    EventCapture,
    IntegrationResolver,
    RetryPolicy,
    SendKey,
    SendLedger,
    no_response,
)
from app.engine.functions.inputs import (
    INLINE_SECONDS,
    InputResolutionError,
    briefly_inline,
    build_globals,
    event_url,
)
from app.engine.functions.state import FunctionState
from app.engine.invocation import Invocation, to_millis
from app.engine.templates import get_template
from app.engine.templates.base import compiled_bytecode, template_bytecode
from app.hog import (
    ExecResult,
    HogVMError,
    Limits,
    PausedVM,
    UncaughtHogError,
    continue_paused,
    execute,
    from_hog_value,
    resume,
    resume_paused,
)
from app.hog.budget import bounded
from app.hog.limits import deep_size
from app.observability import metrics

logger = logging.getLogger(__name__)

# PostHog gives a function 550 ms of VM time; our VM is slower per op, so it gets more room.
FUNCTION_LIMITS = Limits(timeout_s=2.0, max_async_steps=5)
# `sleep` pauses the VM like a call, and the step awaits it (see `_sleep`); it is neither billed nor recorded.
VM_ASYNC_FUNCTIONS = (*ASYNC_FUNCTIONS, "sleep")
MAX_PRINTS = 25
REDACTED = "***REDACTED***"
EXECUTION_COUNT = "$hog_function_execution_count"
DEFAULT_SITE_URL = "http://localhost:8000"

_CALL_LABELS = {"fetch": "HTTP fetch", "sendEmail": "Sending the email", "sendPushNotification": "Push notification"}
_INTERRUPTED = (
    "An earlier attempt at this request was interrupted before its outcome was recorded; "
    "it is not sent again (it may or may not have been delivered)"
)


@dataclass
class FunctionStepRunner:
    """The engine's `FunctionRunner`: the worker and test invocations build one with their services."""

    calls: AsyncCalls
    integrations: IntegrationResolver | None = None
    ledger: SendLedger | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_calls_per_pickup: int = 1
    site_url: str = DEFAULT_SITE_URL
    limits: Limits = FUNCTION_LIMITS
    # Receives `postHogCapture` events; None (test invocations) logs them instead.
    capture: EventCapture | None = None
    box: SecretBox | None = None
    # Every secret the runner's steps handled: a test invocation redacts its whole answer with them.
    secrets_seen: set[str] = field(default_factory=set)

    def seal(self, state: dict[str, Any]) -> dict[str, Any]:
        if self.box is None:
            raise ActionError("A step holding secrets cannot park without HOGFLOWS_SECRET_KEY's box")
        return self.box.seal_json(state)

    def open(self, stored: dict[str, Any]) -> dict[str, Any]:
        if self.box is None:
            return stored
        return self.box.open_json(stored)

    def redact(self, value: Any) -> Any:
        """`value` (text, or JSON-like data) with every secret seen replaced, also as printed inside JSON."""
        if isinstance(value, str):
            return _replace_all(value, self.secrets_seen)
        if isinstance(value, dict):
            return {self.redact(key): self.redact(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value

    async def __call__(self, invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
        return await _FunctionStep(self, invocation, action, context).run()


class _FunctionStep:
    def __init__(
        self, runner: FunctionStepRunner, invocation: Invocation, action: dict[str, Any], context: ActionContext
    ) -> None:
        self.runner = runner
        self.invocation = invocation
        self.action = action
        self.action_id = str(action["id"])
        self.context = context
        self.state = FunctionState()
        # The VM paused in this pickup, kept live: `state.vm` is only filled in (encoded) when the step parks.
        self.paused: PausedVM | None = None
        self.captured: list[dict[str, Any]] = []
        # The event's page, as the globals hold it (worked out once per pickup: the completion log repeats it).
        self.event_url: str | None = None

    async def run(self) -> ActionResult:
        config = self.action.get("config") or {}
        template_id = str(config.get("template_id") or "")
        template = get_template(template_id)
        if template is None or not template.hog:
            raise ActionError(f"Template '{template_id}' not found")
        saved = (self.invocation.current_action or {}).get("hogFunctionState")
        result: ExecResult | None = None
        if isinstance(saved, dict):
            self.state = FunctionState.from_json(self.runner.open(saved))
            self.runner.secrets_seen.update(self.state.secrets)
        else:
            self.state = FunctionState(started_at=to_millis(self.context.now))
            try:
                built = await build_globals(
                    self.invocation,
                    self._opened_action(),
                    template,
                    site_url=self.runner.site_url,
                    integrations=self.runner.integrations,
                )
            except InputResolutionError as error:
                self._log("error", f"Error building inputs: {error}")
                raise ActionError(f"Error building inputs: {error}") from error
            self.state.secrets = built.secrets
            self.runner.secrets_seen.update(built.secrets)
            self.state.memory_bytes = deep_size([built.values])
            self.event_url = built.values["event"]["url"]
            # Compiled on first use (cached), in a thread: compiling takes milliseconds.
            compiled = compiled_bytecode(template)
            bytecode = compiled if compiled is not None else await asyncio.to_thread(template_bytecode, template)
            result = await self._run_vm(
                lambda: execute(
                    bytecode,
                    built.values,
                    functions=self._host_functions(),
                    async_functions=VM_ASYNC_FUNCTIONS,
                    limits=bounded(self.runner.limits),
                    keep_paused=True,
                )
            )
        return await self._drive(result)

    def _opened_action(self) -> dict[str, Any]:
        """The action with its sealed (secret) inputs decrypted, for this step only: the flow's copy stays sealed."""
        config = self.action.get("config") or {}
        inputs = config.get("inputs")
        if not isinstance(inputs, dict) or not any(is_sealed(entry) for entry in inputs.values()):
            return self.action
        if self.runner.box is None:
            raise ActionError("Error building inputs: a secret input needs HOGFLOWS_SECRET_KEY to be decrypted")
        try:
            opened = self.runner.box.open_inputs(inputs)
        except SecretDecryptionError as error:
            self._log("error", f"Error building inputs: {error}")
            raise ActionError(f"Error building inputs: {error}") from error
        return {**self.action, "config": {**config, "inputs": opened}}

    def _host_functions(self) -> dict[str, Callable[..., Any]]:
        return {"postHogCapture": self._posthog_capture}

    def _posthog_capture(self, raw: Any, *_: Any) -> None:
        """PostHog's loop guard: an event that a function's capture produced cannot capture again."""
        event = raw
        if not isinstance(event, dict):
            raise HogVMError("postHogCapture expects an object with an 'event' field")
        trigger_properties = self.invocation.event.get("properties") or {}
        count = trigger_properties.get(EXECUTION_COUNT) if isinstance(trigger_properties, dict) else None
        count = count if isinstance(count, int) and not isinstance(count, bool) else 0
        if count > 0:
            self._log(
                "warn",
                "postHogCapture was called from an event that already executed this function. "
                "To prevent infinite loops, the event was not captured.",
            )
            return
        properties = event.get("properties")
        self.captured.append(
            {
                "event": event.get("event"),
                "distinct_id": event.get("distinct_id") or self.invocation.event.get("distinct_id"),
                "properties": {**(properties if isinstance(properties, dict) else {}), EXECUTION_COUNT: count + 1},
                "timestamp": self.context.now.isoformat().replace("+00:00", "Z"),
            }
        )

    async def _flush_captured(self) -> None:
        events, self.captured = self.captured, []
        if not events:
            return
        if self.runner.capture is None or not self.runner.calls.real:
            for event in events:
                self._log("info", f"postHogCapture: event '{event['event']}' was not sent (test invocation)")
            return
        await self.runner.capture.capture(self.invocation.team_id, events)

    async def _drive(self, result: ExecResult | None) -> ActionResult:
        calls_made = 0
        while True:
            await self._flush_captured()
            if result is not None:
                self._log_prints(result.prints)
                if result.finished:
                    return self._finish(result)
                if result.async_call is None or result.paused is None:
                    raise ActionError("The function paused without an async call")
                self.paused, self.state.vm = result.paused, None
                self.state.call = {"name": result.async_call.name, "args": result.async_call.args}
                self.state.attempts = 0
            if self.state.call is None or (self.state.vm is None and self.paused is None):
                raise ActionError("The function's saved state has no pending call")
            name = str(self.state.call.get("name"))
            if name == "sleep":
                result = await self._sleep(result, list(self.state.call.get("args") or []))
                continue
            if calls_made >= self.runner.max_calls_per_pickup:
                return self._park(self.context.now)
            calls_made += 1
            outcome = await self._perform(name, list(self.state.call.get("args") or []))
            for level, message in outcome.logs:
                self._log(level, message)
            if outcome.failed:
                self.state.attempts += 1
                will_retry = outcome.retriable and self.state.attempts < self.runner.retry.attempts
                message = _failure_message(name, outcome, self.state.attempts, will_retry)
                self._log("error", message)
                if will_retry:
                    delay = self.runner.retry.backoff(self.state.attempts, self.context.random())
                    return self._park(self.context.now + delay)
                self.state.error = message
            self.state.attempts = 0
            self._count_call(name, outcome)
            result = await self._resume(outcome.value)

    async def _sleep(self, result: ExecResult | None, args: list[Any]) -> ExecResult:
        """`sleep(s)` waits without holding anything, at most what is left of the step's VM time."""
        seconds = args[0] if args and isinstance(args[0], int | float) and not isinstance(args[0], bool) else 0
        used = (result.duration_ms / 1000) if result is not None else 0.0
        await asyncio.sleep(max(0.0, min(float(seconds), self.runner.limits.timeout_s - used)))
        return await self._resume(None)

    async def _resume(self, value: Any) -> ExecResult:
        live = self.paused
        if live is not None:
            self.paused, self.state.call = None, None
            return await self._run_vm(
                lambda: resume_paused(live, value, limits=bounded(self.runner.limits), yield_after=INLINE_SECONDS),
                live=True,
            )
        paused = self.state.vm
        if paused is None:
            raise ActionError("The function's saved state has no paused program")
        self.state.vm, self.state.call = None, None
        return await self._run_vm(
            lambda: resume(
                paused,
                value,
                functions=self._host_functions(),
                async_functions=VM_ASYNC_FUNCTIONS,
                limits=bounded(self.runner.limits),
                keep_paused=True,
            )
        )

    async def _perform(self, name: str, args: list[Any]) -> CallOutcome:
        kind = CALL_KINDS.get(name, "fetch")
        index = self.state.requests
        self.state.requests += 1
        ledger = self.runner.ledger if self.runner.calls.real else None
        if ledger is None:
            return await self._attempt(name, args, kind)
        # `attempt` is the entry into the step: the step count only moves when the run moves on.
        key = SendKey(self.invocation.id, self.action_id, self.invocation.step_count, index)
        claim = await ledger.claim(key, kind)
        if claim.status == "done" and claim.outcome is not None:
            return claim.outcome
        if claim.status == "pending":
            return no_response(kind, "InterruptedSendError", _INTERRUPTED, retriable=False)
        outcome = await self._attempt(name, args, kind)
        await ledger.complete(key, outcome)
        return outcome

    async def _attempt(self, name: str, args: list[Any], kind: str) -> CallOutcome:
        try:
            return await self.runner.calls.perform(name, args)
        except Exception as error:
            # A bug in a call must fail the step, not leave its send record pending forever.
            logger.exception("Async call %s failed unexpectedly", name)
            return no_response(kind, "InternalError", f"{type(error).__name__}: {error}", retriable=False)

    async def _run_vm(self, run: Callable[[], ExecResult], live: bool = False) -> ExecResult:
        captured = len(self.captured)

        def undo() -> None:
            del self.captured[captured:]

        try:
            # Brief runs stay on the loop; longer ones go to a thread, so the loop keeps serving other runs.
            if not live:
                return await briefly_inline(run, undo)
            # A live VM cannot be run again from the start: it yields at a loop instead and the thread goes on.
            result = run()
            if result.yielded and result.paused is not None:
                result = await asyncio.to_thread(continue_paused, result.paused)
            return result
        except HogVMError as error:
            raise self._vm_failed(error) from error

    def _vm_failed(self, error: HogVMError) -> ActionError:
        self._log_prints(error.prints)
        uuid = self.invocation.event.get("uuid")
        self._log("error", f"Error executing function on event {uuid}: {error}")
        self._bill()
        message = error.message if isinstance(error, UncaughtHogError) else str(error)
        return ActionError(self._redact(message))

    def _finish(self, result: ExecResult) -> ActionResult:
        total = to_millis(self.context.now) - self.state.started_at
        url = self.event_url if self.event_url is not None else event_url(self.invocation, self.runner.site_url)
        self._log(
            "debug",
            f"Function completed in {_sig(total)}ms. Sync: {_sig(result.duration_ms)}ms. "
            f"Mem: {_sig(self.state.memory_bytes / 1024)}kb. Ops: {result.ops}. Event: '{url}'",
        )
        self._bill()
        if self.state.error is not None:
            raise ActionError(self._redact(self.state.error))
        value = from_hog_value(result.result)
        next_action = self.invocation.flow.next_action(self.action_id)
        return ActionResult(next_action=next_action, result=value if _truthy(value) else None)

    def _park(self, when: datetime) -> ActionResult:
        current = self.invocation.current_action
        if current is None:
            current = {"id": self.action_id, "startedAtTimestamp": to_millis(self.context.now)}
            self.invocation.state["currentAction"] = current
        if self.paused is not None:
            try:
                self.state.vm = self.paused.encode()
            except HogVMError as error:
                raise self._vm_failed(error) from error
            self.paused = None
        state = self.state.to_json()
        current["hogFunctionState"] = self.runner.seal(state) if self.state.secrets else state
        return ActionResult(scheduled_at=when)

    def _count_call(self, name: str, outcome: CallOutcome) -> None:
        """Metrics of a call's final attempt (PostHog skips the email ones for test invocations)."""
        if name == "fetch":
            self.context.recorder.metric("other", "fetch")
        elif name == "sendEmail" and self.runner.calls.real:
            sent = "email_failed" if outcome.failed else "email_sent"
            metrics.email(outcome.failed)
            self.context.recorder.metric("email", sent, self.action_id)

    def _bill(self) -> None:
        kind = "email" if self.action.get("type") == "function_email" else "fetch"
        self.context.recorder.metric(kind, "billable_invocation", self.action_id)

    def _log_prints(self, lines: list[str]) -> None:
        for line in lines:
            self.state.prints += 1
            if self.state.prints == MAX_PRINTS:
                uuid = self.invocation.event.get("uuid")
                self._log(
                    "warn", f"Function exceeded maximum log entries. No more logs will be collected. Event: {uuid}"
                )
            if self.state.prints >= MAX_PRINTS:
                continue
            self._log("info", line)

    def _log(self, level: str, message: str) -> None:
        self.context.recorder.log(level, f"[Action:{self.action_id}] {self._redact(message)}")

    def _redact(self, message: str) -> str:
        return _replace_all(message, self.state.secrets) if self.state.secrets else message


def _replace_all(text: str, secrets: "set[str] | list[str]") -> str:
    forms = {form for secret in secrets for form in (secret, json.dumps(secret, ensure_ascii=False)[1:-1])}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def _failure_message(name: str, outcome: CallOutcome, attempt: int, will_retry: bool) -> str:
    """PostHog's `HTTP fetch failed on attempt <n> with status code <s|(none)>. [Error: <detail>.] [Retrying.]`."""
    label = _CALL_LABELS.get(name, name)
    message = f"{label} failed on attempt {attempt}"
    if name == "fetch":
        message += f" with status code {outcome.status if outcome.status is not None else '(none)'}"
    message += "."
    if outcome.error:
        message += f" Error: {outcome.error.rstrip('.')}."
    if will_retry:
        message += " Retrying."
    return message


def _truthy(value: Any) -> bool:
    """JavaScript truthiness (PostHog keeps `execResult` only when truthy): `{}` and `[]` count."""
    if value is None or value is False or value == "":
        return False
    return not (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


def _sig(number: float) -> str:
    """Two significant figures, written plainly (PostHog's completion log)."""
    if number == 0:
        return "0"
    return f"{float(f'{number:.2g}'):g}"
