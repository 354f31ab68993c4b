"""`template-webhook`: send an HTTP request."""

from app.engine.templates.base import FunctionTemplate

# Any status from 300 up fails the step (so `on_error` applies); the response is the step's result.
_HOG = """
let payload := {
    'headers': inputs.headers,
    'body': inputs.body,
    'method': inputs.method
}

if (inputs.debug) {
    print('Request', inputs.url, payload)
}

let res := fetch(inputs.url, payload)

if (inputs.debug) {
    print('Response', res.status, res.body)
}

if (res.status >= 300) {
    throw Error(f'Webhook failed with status {res.status}: {res.body}')
}

return {'status': res.status, 'body': res.body}
"""

WEBHOOK = FunctionTemplate(
    id="template-webhook",
    type="destination",
    name="HTTP Webhook",
    description="Sends a webhook templated by the incoming event data",
    hog=_HOG,
    icon_url="/static/services/webhook.svg",
    category=["Custom"],
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
