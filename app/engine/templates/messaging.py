"""Messaging templates: email, Twilio SMS and native push."""

from app.engine.templates.base import FunctionTemplate

_EMAIL_HOG = """
let res := sendEmail(inputs.email)

if (not res.success) {
    throw Error(f'Email failed to send: {res.error}')
}

return res
"""

# Twilio takes a form-encoded body and HTTP Basic auth with the account SID and auth token.
_TWILIO_HOG = """
if (empty(inputs.to_number)) {
    throw Error('The recipient phone number (to_number) is empty')
}
if (empty(inputs.message)) {
    throw Error('The message is empty')
}
let account := inputs.twilio_account
if (empty(account?.account_sid) or empty(account?.auth_token)) {
    throw Error('The Twilio integration is missing or has no account SID and auth token')
}

let form := concat(
    'To=', encodeURLComponent(inputs.to_number),
    '&From=', encodeURLComponent(inputs.from_number ?? ''),
    '&Body=', encodeURLComponent(inputs.message)
)
let credentials := base64Encode(concat(account.account_sid, ':', account.auth_token))

let res := fetch(f'https://api.twilio.com/2010-04-01/Accounts/{account.account_sid}/Messages.json', {
    'method': 'POST',
    'headers': {
        'Authorization': f'Basic {credentials}',
        'Content-Type': 'application/x-www-form-urlencoded'
    },
    'body': form
})

if (inputs.debug) {
    print('Twilio response', res.status, res.body)
}

if (res.status < 200 or res.status >= 300) {
    throw Error(f'Failed to send the SMS with Twilio: {res.status}: {res.body?.message ?? res.body}')
}

return {'sid': res.body?.sid, 'status': res.body?.status}
"""

_PUSH_HOG = """
let channels := inputs.channels ?? []
if (empty(channels)) {
    throw Error('No push notification channels are selected')
}

let notification := {
    'distinctId': inputs.distinctId,
    'title': inputs.title,
    'body': inputs.body,
    'image': inputs.image,
    'collapseKey': inputs.collapseKey,
    'data': inputs.data,
    'ttlSeconds': inputs.ttlSeconds
}

let results := []
for (let channel in channels) {
    let res := sendPushNotification({'channel': channel, 'notification': notification})
    if (not res.success) {
        throw Error(f'Push notification failed to send: {res.error}')
    }
    results := arrayPushBack(results, res)
}

return results
"""

EMAIL = FunctionTemplate(
    id="template-email",
    type="destination",
    name="Email",
    description="Send an email",
    hog=_EMAIL_HOG,
    icon_url="/static/hedgehog/mail-hog.png",
    category=["Communication"],
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
    hog=_TWILIO_HOG,
    icon_url="/static/services/twilio.png",
    category=["Communication"],
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
    hog=_PUSH_HOG,
    icon_url="/static/services/firebase.png",
    category=["Communication"],
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
