"""Words for a flow's picture: a one-line summary of each action's config and the label of each edge.

Pure functions of the stored JSON; anything unexpected in a config gives a shorter line, never an error.
"""

from typing import Any

TYPE_NAMES = {
    "trigger": "Trigger",
    "delay": "Delay",
    "conditional_branch": "Condition",
    "wait_until_condition": "Wait until condition",
    "wait_until_time_window": "Wait for time window",
    "random_cohort_branch": "Random cohort split",
    "exit": "Exit",
    "function": "Function",
    "function_email": "Email",
    "function_sms": "SMS",
    "function_slack": "Slack",
    "function_webhook": "Webhook",
}

SUMMARY_LIMIT = 60


def type_name(action_type: str) -> str:
    return TYPE_NAMES.get(action_type) or action_type.replace("_", " ").capitalize()


def _config(action: dict[str, Any]) -> dict[str, Any]:
    config = action.get("config")
    return config if isinstance(config, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _trigger_summary(config: dict[str, Any]) -> str:
    kind = str(config.get("type") or "?")
    if kind == "event":
        filters = config.get("filters") if isinstance(config.get("filters"), dict) else {}
        names = [
            str(item.get("name") or item.get("id"))
            for item in _list((filters or {}).get("events")) + _list((filters or {}).get("actions"))
            if isinstance(item, dict)
        ]
        return f"event: {', '.join(names)}" if names else "event: any"
    if kind == "schedule" and config.get("scheduled_at"):
        return f"schedule: {config['scheduled_at']}"
    return kind


def _time_window_summary(config: dict[str, Any]) -> str:
    day = config.get("day", "any")
    time = config.get("time", "any")
    day_text = ", ".join(map(str, day)) if isinstance(day, list) else str(day)
    time_text = "-".join(map(str, time)) if isinstance(time, list) else str(time)
    zone = config.get("timezone") or ("person's timezone" if config.get("use_person_timezone") else "UTC")
    return f"days {day_text}, time {time_text} ({zone})"


def summary(action: dict[str, Any]) -> str:
    """One line saying what the action does with its config."""
    action_type = str(action.get("type") or "")
    config = _config(action)
    if action_type == "trigger":
        text = _trigger_summary(config)
    elif action_type == "delay":
        text = f"wait {config.get('delay_duration') or '?'}"
    elif action_type == "conditional_branch":
        conditions = [c for c in _list(config.get("conditions")) if isinstance(c, dict)]
        names = [str(c.get("name") or f"condition {i + 1}") for i, c in enumerate(conditions)]
        text = f"{len(conditions)} condition(s): {', '.join(names)}" if names else "no conditions"
    elif action_type == "wait_until_condition":
        text = f"at most {config.get('max_wait_duration') or '?'}"
    elif action_type == "wait_until_time_window":
        text = _time_window_summary(config)
    elif action_type == "random_cohort_branch":
        cohorts = [c for c in _list(config.get("cohorts")) if isinstance(c, dict)]
        text = " / ".join(f"{c.get('percentage', '?')}%" for c in cohorts) or "no cohorts"
    elif action_type == "exit":
        text = f"reason: {config.get('reason') or '-'}"
    elif "function" in action_type:
        text = str(config.get("template_id") or "custom function")
    else:
        text = ", ".join(f"{key}={value}" for key, value in config.items() if isinstance(value, str | int | float))
    return _short(text)


def edge_label(source: dict[str, Any] | None, edge: dict[str, Any]) -> str:
    """What taking this edge means: the condition, the cohort's share, match/timeout, else or continue."""
    source_type = str((source or {}).get("type") or "")
    config = _config(source or {})
    is_branch = edge.get("type") == "branch"
    index = edge.get("index")
    if source_type == "conditional_branch":
        if not is_branch:
            return "else"
        conditions = _list(config.get("conditions"))
        condition = conditions[index] if isinstance(index, int) and 0 <= index < len(conditions) else None
        name = condition.get("name") if isinstance(condition, dict) else None
        return _short(str(name)) if name else f"condition {index + 1 if isinstance(index, int) else '?'}"
    if source_type == "wait_until_condition":
        return "match" if is_branch else "timeout"
    if source_type == "random_cohort_branch" and is_branch:
        cohorts = _list(config.get("cohorts"))
        cohort = cohorts[index] if isinstance(index, int) and 0 <= index < len(cohorts) else None
        percentage = cohort.get("percentage") if isinstance(cohort, dict) else None
        return f"{percentage}%" if percentage is not None else f"cohort {index}"
    if is_branch:
        return f"branch {index}"
    return "continue"
