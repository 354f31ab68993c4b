"""A new run's state is built in one place (`app.engine.invocation.initial_state`) for every trigger."""

from app.engine.invocation import default_variables, initial_state


def test_declared_defaults_follow_posthog_default_or_null() -> None:
    declared = [
        {"key": "plan", "default": "free"},
        {"key": "empty", "default": ""},
        {"key": "zero", "default": 0},
        {"key": "missing"},
        {"default": "no key"},
        "not an object",
    ]
    assert default_variables(declared) == {"plan": "free", "empty": None, "zero": None, "missing": None}
    assert default_variables(None) == {}


def test_given_variables_override_defaults_and_the_step_count_starts_at_zero() -> None:
    event = {"event": "signed_up", "distinct_id": "u1"}
    defaults = {"plan": "free", "seats": None}
    state = initial_state(event, defaults, {"plan": "pro"})
    assert state == {"event": event, "actionStepCount": 0, "variables": {"plan": "pro", "seats": None}}
    assert defaults == {"plan": "free", "seats": None}
    assert initial_state(event, defaults)["variables"] is not defaults
