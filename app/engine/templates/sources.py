"""Source templates: what webhook, manual and tracking-pixel triggers run on an incoming request."""

from app.engine.templates.base import FunctionTemplate

_METHOD_CHOICES = [{"label": m, "value": m} for m in ("POST", "PUT", "PATCH", "GET", "DELETE")]

# The program returns `httpResponse` to answer the caller; capturing the event is what starts flows.
_SOURCE_WEBHOOK_HOG = """
if (inputs.debug) {
    print('Incoming request:', request.body)
}

if (notEmpty(inputs.method) and request.method != inputs.method) {
    return {'httpResponse': {'status': 405, 'body': 'Method not allowed'}}
}

if (notEmpty(inputs.auth_header) and inputs.auth_header != request.headers['authorization']) {
    print('Denied: the authorization header does not match')
    return {'httpResponse': {'status': 401, 'body': 'Unauthorized'}}
}

if (empty(inputs.event)) {
    return {'httpResponse': {'status': 400, 'body': {'error': '"event" could not be parsed correctly'}}}
}

if (empty(inputs.distinct_id)) {
    return {'httpResponse': {'status': 400, 'body': {'error': '"distinct_id" could not be parsed correctly'}}}
}

postHogCapture({'event': inputs.event, 'distinct_id': inputs.distinct_id, 'properties': inputs.properties})
"""

# A transparent 1x1 GIF, answered whether or not an event was captured (a broken image helps nobody).
_PIXEL_GIF = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

_PIXEL_HOG = f"""
if (inputs.debug) {{
    print('Incoming request:', request.query)
}}

if (notEmpty(inputs.event) and notEmpty(inputs.distinct_id)) {{
    postHogCapture({{'event': inputs.event, 'distinct_id': inputs.distinct_id, 'properties': inputs.properties}})
}}

return {{'httpResponse': {{'status': 200, 'body': '{_PIXEL_GIF}', 'contentType': 'image/gif', 'base64': true}}}}
"""

SOURCE_WEBHOOK = FunctionTemplate(
    id="template-source-webhook",
    type="source_webhook",
    name="HTTP Incoming Webhook",
    description="Capture an event when a webhook is called",
    hog=_SOURCE_WEBHOOK_HOG,
    icon_url="/static/services/webhook.svg",
    category=["Custom"],
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
    hog=_PIXEL_HOG,
    icon_url="/static/services/pixel.svg",
    category=["Custom"],
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
