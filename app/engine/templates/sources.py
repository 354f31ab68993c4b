"""Source templates: what webhook, manual and tracking-pixel triggers run on an incoming request."""

from app.engine.templates.base import FunctionTemplate

_METHOD_CHOICES = [{"label": m, "value": m} for m in ("POST", "PUT", "PATCH", "GET", "DELETE")]

SOURCE_WEBHOOK = FunctionTemplate(
    id="template-source-webhook",
    type="source_webhook",
    name="HTTP Incoming Webhook",
    description="Capture an event when a webhook is called",
    inputs_schema=[
        {"key": "event", "type": "string", "label": "Event name", "required": True, "default": "{request.body.event}"},
        {
            "key": "distinct_id",
            "type": "string",
            "label": "Distinct ID",
            "required": True,
            "default": "{request.body.distinct_id}",
        },
        {
            "key": "properties",
            "type": "json",
            "label": "Event properties",
            "required": False,
            "default": {"$ip": "{request.ip}", "$lib": "posthog-webhook", "$source_url": "{source.url}"},
        },
        {
            "key": "auth_header",
            "type": "string",
            "label": "Authorization header value",
            "required": False,
            "secret": True,
        },
        {
            "key": "method",
            "type": "choice",
            "label": "Method",
            "required": False,
            "default": "POST",
            "choices": _METHOD_CHOICES,
        },
        {"key": "debug", "type": "boolean", "label": "Log payloads", "required": False, "default": False},
    ],
)

SOURCE_WEBHOOK_PIXEL = FunctionTemplate(
    id="template-source-webhook-pixel",
    type="source_webhook",
    name="Tracking pixel",
    description="Capture an event when a 1x1 tracking pixel is loaded",
    inputs_schema=[
        {
            "key": "event",
            "type": "string",
            "label": "Event name",
            "required": True,
            "default": "{request.query.ph_event}",
        },
        {
            "key": "distinct_id",
            "type": "string",
            "label": "Distinct ID",
            "required": True,
            "default": "{request.query.ph_distinct_id}",
        },
        {
            "key": "properties",
            "type": "json",
            "label": "Event properties",
            "required": False,
            "default": {"$lib": "posthog-webhook", "$source_url": "{source.url}", "query_params": "{request.query}"},
        },
        {"key": "debug", "type": "boolean", "label": "Log payloads", "required": False, "default": False},
    ],
)
