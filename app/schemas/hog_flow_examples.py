"""Request examples shown in Swagger UI: flows a client can send as they are (tests post every one)."""

from typing import Any

_PAGEVIEW = {"events": [{"id": "$pageview", "type": "events", "name": "$pageview"}]}
_IS_PRO = {"properties": [{"key": "plan", "value": ["pro"], "operator": "exact", "type": "person"}]}

# One config per action type, as the executor reads it.
ACTION_CONFIG_EXAMPLES: dict[str, dict[str, Any]] = {
    "trigger": {"type": "event", "filters": _PAGEVIEW},
    "delay": {"delay_duration": "1h"},
    "wait_until_condition": {"condition": {"filters": _IS_PRO}, "max_wait_duration": "7d"},
    "wait_until_time_window": {"day": "weekday", "time": ["09:00", "17:00"], "timezone": "Europe/London"},
    "conditional_branch": {"conditions": [{"name": "Pro users", "filters": _IS_PRO}]},
    "random_cohort_branch": {"cohorts": [{"percentage": 50}, {"percentage": 50}]},
    "function": {
        "template_id": "template-webhook",
        "inputs": {
            "url": {"value": "https://example.com/hooks/welcome"},
            "method": {"value": "POST"},
            "body": {"value": {"event": "{event.event}", "person": "{person.id}"}},
        },
    },
    "function_email": {
        "template_id": "template-email",
        "inputs": {
            "email": {
                "value": {
                    "to": {"email": "{person.properties.email}", "name": ""},
                    "from": {"email": "hello@example.com", "name": "Example"},
                    "subject": "Welcome!",
                    "text": "Hi {person.properties.name}, welcome aboard.",
                    "html": "<p>Hi {person.properties.name}, welcome aboard.</p>",
                }
            }
        },
    },
    "function_sms": {
        "template_id": "template-twilio",
        "inputs": {
            "twilio_account": {"value": 1},
            "from_number": {"value": "+15005550006"},
            "to_number": {"value": "{person.properties.phone}"},
            "message": {"value": "Welcome, {person.properties.name}!"},
        },
    },
    "function_push": {
        "template_id": "template-native-push",
        "inputs": {"distinctId": {"value": "{event.distinct_id}"}, "title": {"value": "Welcome!"}},
    },
    "exit": {"reason": "Done"},
}


def _action(action_id: str, action_type: str, name: str) -> dict[str, Any]:
    return {"id": action_id, "name": name, "type": action_type, "config": ACTION_CONFIG_EXAMPLES[action_type]}


def _edge(source: str, target: str, index: int | None = None) -> dict[str, Any]:
    if index is None:
        return {"from": source, "to": target, "type": "continue"}
    return {"from": source, "to": target, "type": "branch", "index": index}


WELCOME_FLOW: dict[str, Any] = {
    "name": "Welcome journey",
    "description": "On a pageview, wait an hour, call a webhook, then exit.",
    "status": "draft",
    "actions": [
        _action("trigger", "trigger", "On pageview"),
        _action("wait", "delay", "Wait an hour"),
        _action("webhook", "function", "Tell our backend"),
        _action("exit", "exit", "Done"),
    ],
    "edges": [_edge("trigger", "wait"), _edge("wait", "webhook"), _edge("webhook", "exit")],
}

EVERY_ACTION_FLOW: dict[str, Any] = {
    "name": "Every action type",
    "status": "draft",
    "actions": [
        _action("trigger", "trigger", "On pageview"),
        _action("window", "wait_until_time_window", "Office hours"),
        _action("pro", "conditional_branch", "Pro user?"),
        _action("ab", "random_cohort_branch", "A/B split"),
        _action("email", "function_email", "Welcome email"),
        _action("sms", "function_sms", "Welcome SMS"),
        _action("wait_pro", "wait_until_condition", "Wait until they upgrade"),
        _action("push", "function_push", "Push"),
        _action("delay", "delay", "Wait an hour"),
        _action("webhook", "function", "Webhook"),
        _action("exit", "exit", "Done"),
    ],
    "edges": [
        _edge("trigger", "window"),
        _edge("window", "pro"),
        _edge("pro", "ab", 0),
        _edge("pro", "wait_pro"),
        _edge("ab", "email", 0),
        _edge("ab", "sms", 1),
        _edge("ab", "exit"),
        _edge("email", "exit"),
        _edge("sms", "exit"),
        _edge("wait_pro", "push", 0),
        _edge("wait_pro", "delay"),
        _edge("push", "exit"),
        _edge("delay", "webhook"),
        _edge("webhook", "exit"),
    ],
}

CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {"summary": "Event trigger, delay, webhook, exit", "value": WELCOME_FLOW},
    "every_action": {"summary": "One action of every type", "value": EVERY_ACTION_FLOW},
}

PATCH_EXAMPLES: dict[str, dict[str, Any]] = {
    "activate": {"summary": "Activate (strict validation runs now)", "value": {"status": "active"}},
    "rename": {"summary": "Rename", "value": {"name": "Welcome journey v2"}},
    "delay": {
        "summary": "Replace the actions",
        "value": {"actions": WELCOME_FLOW["actions"], "edges": WELCOME_FLOW["edges"]},
    },
}
