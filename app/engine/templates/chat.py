"""Chat templates: Slack (through a Slack integration), Discord and Microsoft Teams (incoming webhooks)."""

from app.engine.templates.base import FunctionTemplate

_SLACK_TEXT = "*{person.name}* triggered event: '{event.event}'"

# Slack rejects a whole message over its block limits, so oversized parts are clipped instead.
_SLACK_HOG = """
fun clip(text, limit) {
    if (typeof(text) != 'string' or length(text) <= limit) {
        return text
    }
    return concat(substring(text, 1, limit - 3), '...')
}

let token := inputs.slack_workspace?.access_token
if (empty(token)) {
    throw Error('The Slack integration is missing or has no access token')
}

// Hog has no `break`: blocks past the first 50 are skipped.
let blocks := []
for (let index, block in inputs.blocks ?? []) {
    if (index < 50) {
        if (block?.type == 'section' and typeof(block.text?.text) == 'string') {
            block.text.text := clip(block.text.text, 3000)
        }
        if (block?.type == 'actions') {
            for (let element in block.elements ?? []) {
                if (element?.type == 'button' and typeof(element.text?.text) == 'string') {
                    element.text.text := clip(element.text.text, 75)
                }
            }
        }
        blocks := arrayPushBack(blocks, block)
    }
}

let body := {
    'channel': inputs.channel,
    'icon_emoji': inputs.icon_emoji,
    'username': inputs.username,
    'blocks': blocks,
    'text': inputs.text
}
if (notEmpty(inputs.thread_ts)) {
    body.thread_ts := inputs.thread_ts
}

let res := fetch('https://slack.com/api/chat.postMessage', {
    'method': 'POST',
    'headers': {
        'Authorization': f'Bearer {token}',
        'Content-Type': 'application/json'
    },
    'body': body
})

if (res.status != 200 or res.body?.ok == false) {
    throw Error(f'Failed to post message to Slack: {res.status}: {res.body}')
}

return {'channel': res.body?.channel, 'ts': res.body?.ts}
"""

_CHAT_TEXT = "**{person.name}** triggered event: '{event.event}'"

_DISCORD_HOG = """
let url := inputs.webhookUrl
let valid := startsWith(url, 'https://discord.com/api/webhooks/')
    or startsWith(url, 'https://discordapp.com/api/webhooks/')
if (not valid) {
    throw Error('Invalid Discord webhook URL: it must start with https://discord.com/api/webhooks/')
}

let body := {'content': inputs.content}
if (notEmpty(inputs.username)) {
    body.username := inputs.username
}

let res := fetch(url, {
    'method': 'POST',
    'headers': {'Content-Type': 'application/json'},
    'body': body
})

if (res.status < 200 or res.status >= 300) {
    throw Error(f'Failed to post message to Discord: {res.status}: {res.body}')
}
"""

# Teams incoming webhooks (Workflows and the older connectors) take a message with an Adaptive Card.
_TEAMS_HOG = """
let url := inputs.webhookUrl
let hosts := '(webhook\\\\.office\\\\.com|logic\\\\.azure\\\\.com|api\\\\.powerplatform\\\\.com)'
if (not match(url, concat('^https://[^/]+\\\\.', hosts, '(:443)?/'))) {
    throw Error('Invalid Microsoft Teams webhook URL: use the URL of a Teams workflow or incoming webhook')
}

let card := {
    '$schema': 'http://adaptivecards.io/schemas/adaptive-card.json',
    'type': 'AdaptiveCard',
    'version': '1.2',
    'body': [{'type': 'TextBlock', 'text': inputs.text, 'wrap': true}]
}

let res := fetch(url, {
    'method': 'POST',
    'headers': {'Content-Type': 'application/json'},
    'body': {
        'type': 'message',
        'attachments': [{'contentType': 'application/vnd.microsoft.card.adaptive', 'contentUrl': null, 'content': card}]
    }
})

if (res.status < 200 or res.status >= 300) {
    throw Error(f'Failed to post message to Microsoft Teams: {res.status}: {res.body}')
}
"""

SLACK = FunctionTemplate(
    id="template-slack",
    type="destination",
    name="Slack",
    description="Sends a message to a Slack channel",
    hog=_SLACK_HOG,
    icon_url="/static/services/slack.png",
    category=["Customer Success"],
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

DISCORD = FunctionTemplate(
    id="template-discord",
    type="destination",
    name="Discord",
    description="Sends a message to a Discord channel",
    hog=_DISCORD_HOG,
    icon_url="/static/services/discord.png",
    category=["Customer Success"],
    inputs_schema=[
        {
            "key": "webhookUrl",
            "type": "string",
            "label": "Webhook URL",
            "description": "See https://support.discord.com/hc/en-us/articles/228383668-Intro-to-Webhooks",
            "secret": False,
            "required": True,
        },
        {
            "key": "content",
            "type": "string",
            "label": "Content",
            "description": "(see https://discord.com/developers/docs/resources/webhook#execute-webhook)",
            "default": _CHAT_TEXT,
            "secret": False,
            "required": False,
        },
        {"key": "username", "type": "string", "label": "Bot name", "secret": False, "required": False},
    ],
)

MICROSOFT_TEAMS = FunctionTemplate(
    id="template-microsoft-teams",
    type="destination",
    name="Microsoft Teams",
    description="Sends a message to a Microsoft Teams channel",
    hog=_TEAMS_HOG,
    icon_url="/static/services/microsoft-teams.png",
    category=["Customer Success"],
    inputs_schema=[
        {
            "key": "webhookUrl",
            "type": "string",
            "label": "Webhook URL",
            "description": "The URL of a Teams workflow ('Post to a channel when a webhook request is received')",
            "secret": False,
            "required": True,
        },
        {
            "key": "text",
            "type": "string",
            "label": "Text",
            "default": _CHAT_TEXT,
            "secret": False,
            "required": False,
        },
    ],
)
