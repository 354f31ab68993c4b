"""Messaging templates: Slack, email, Twilio SMS and native push."""

from app.engine.templates.base import FunctionTemplate

_SLACK_TEXT = "*{person.name}* triggered event: '{event.event}'"

SLACK = FunctionTemplate(
    id="template-slack",
    type="destination",
    name="Slack",
    description="Sends a message to a Slack channel",
    inputs_schema=[
        {
            "key": "slack_workspace",
            "type": "integration",
            "integration": "slack",
            "label": "Slack workspace",
            "required": True,
            "secret": False,
            "requiredScopes": "channels:read groups:read chat:write chat:write.customize",
        },
        {
            "key": "channel",
            "type": "integration_field",
            "integration_key": "slack_workspace",
            "integration_field": "slack_channel",
            "label": "Channel to post to",
            "required": True,
            "secret": False,
        },
        {"key": "icon_emoji", "type": "string", "label": "Emoji icon", "default": ":hedgehog:", "required": False},
        {"key": "username", "type": "string", "label": "Bot name", "default": "PostHog", "required": False},
        {
            "key": "blocks",
            "type": "json",
            "label": "Blocks",
            "required": False,
            "default": [
                {"text": {"text": _SLACK_TEXT, "type": "mrkdwn"}, "type": "section"},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "url": "{person.url}",
                            "text": {"text": "View Person in PostHog", "type": "plain_text"},
                            "type": "button",
                        },
                        {
                            "url": "{source.url}",
                            "text": {"text": "Change Source", "type": "plain_text"},
                            "type": "button",
                        },
                    ],
                },
            ],
        },
        {"key": "text", "type": "string", "label": "Plain text message", "default": _SLACK_TEXT, "required": False},
        {"key": "thread_ts", "type": "string", "label": "Thread timestamp", "required": False},
    ],
)

EMAIL = FunctionTemplate(
    id="template-email",
    type="destination",
    name="Email",
    description="Send an email",
    inputs_schema=[
        {
            "key": "email",
            "type": "native_email",
            "integration": "email",
            "label": "Email",
            "required": True,
            "default": {
                "to": {"email": "{person.properties.email}", "name": ""},
                "from": {"email": "", "name": ""},
                "subject": "",
                "preheader": "",
                "text": "Hello from PostHog!",
                "html": "<div>Hi {person.properties.name}, this email was sent from PostHog!</div>",
            },
        },
    ],
)

TWILIO = FunctionTemplate(
    id="template-twilio",
    type="destination",
    name="Twilio SMS",
    description="Send an SMS with Twilio",
    inputs_schema=[
        {
            "key": "twilio_account",
            "type": "integration",
            "integration": "twilio",
            "label": "Twilio account",
            "required": True,
        },
        {
            "key": "from_number",
            "type": "integration_field",
            "integration_key": "twilio_account",
            "integration_field": "twilio_phone_number",
            "label": "From number",
            "required": True,
        },
        {
            "key": "to_number",
            "type": "string",
            "label": "To number",
            "required": True,
            "default": "{person.properties.phone}",
        },
        {
            "key": "message",
            "type": "string",
            "label": "Message",
            "required": True,
            "default": "PostHog event {event.event} was triggered",
        },
        {"key": "debug", "type": "boolean", "label": "Log responses", "required": False, "default": False},
    ],
)

NATIVE_PUSH = FunctionTemplate(
    id="template-native-push",
    type="destination",
    name="Push notification",
    description="Send a push notification to a mobile device",
    inputs_schema=[
        {
            "key": "distinctId",
            "type": "string",
            "label": "Distinct ID",
            "required": True,
            "default": "{event.distinct_id}",
        },
        {
            "key": "channels",
            "type": "integration_multi",
            "integration": "firebase,apns",
            "label": "Channels",
            "required": True,
        },
        {
            "key": "title",
            "type": "string",
            "label": "Title",
            "required": True,
            "default": "Notification from {event.event}",
        },
        {"key": "body", "type": "string", "label": "Body", "required": False, "default": ""},
        {"key": "image", "type": "string", "label": "Image URL", "required": False},
        {"key": "collapseKey", "type": "string", "label": "Collapse key", "required": False},
        {"key": "data", "type": "json", "label": "Data", "required": False, "default": {}},
        {"key": "ttlSeconds", "type": "number", "label": "Time to live (seconds)", "required": False},
    ],
)
