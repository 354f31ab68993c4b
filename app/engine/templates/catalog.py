"""Every function template the service knows, by id."""

from app.engine.templates.base import FunctionTemplate
from app.engine.templates.chat import DISCORD, MICROSOFT_TEAMS, SLACK
from app.engine.templates.messaging import EMAIL, NATIVE_PUSH, TWILIO
from app.engine.templates.posthog import POSTHOG_CAPTURE
from app.engine.templates.sources import SOURCE_WEBHOOK, SOURCE_WEBHOOK_PIXEL
from app.engine.templates.webhook import WEBHOOK

TEMPLATES: dict[str, FunctionTemplate] = {
    template.id: template
    for template in (
        WEBHOOK,
        SLACK,
        DISCORD,
        MICROSOFT_TEAMS,
        EMAIL,
        TWILIO,
        NATIVE_PUSH,
        SOURCE_WEBHOOK,
        SOURCE_WEBHOOK_PIXEL,
        POSTHOG_CAPTURE,
    )
}


def get_template(template_id: str) -> FunctionTemplate | None:
    return TEMPLATES.get(template_id)
