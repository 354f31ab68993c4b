"""`template-webhook`: send an HTTP request."""

from app.engine.templates.base import FunctionTemplate

WEBHOOK = FunctionTemplate(
    id="template-webhook",
    type="destination",
    name="HTTP Webhook",
    description="Sends a webhook templated by the incoming event data",
    inputs_schema=[
        {"key": "url", "type": "string", "label": "Webhook URL", "secret": False, "required": True},
        {
            "key": "method",
            "type": "choice",
            "label": "Method",
            "secret": False,
            "required": False,
            "default": "POST",
            "choices": [{"label": m, "value": m} for m in ("POST", "PUT", "PATCH", "GET", "DELETE")],
        },
        {
            "key": "body",
            "type": "json",
            "label": "JSON Body",
            "secret": False,
            "required": False,
            "default": {"event": "{event}", "person": "{person}"},
        },
        {
            "key": "headers",
            "type": "dictionary",
            "label": "Headers",
            "secret": False,
            "required": False,
            "default": {"Content-Type": "application/json", "Accept": "application/json"},
        },
        {
            "key": "debug",
            "type": "boolean",
            "label": "Log responses",
            "secret": False,
            "required": False,
            "default": False,
        },
    ],
)
