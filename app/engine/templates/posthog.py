"""`template-posthog-capture`: a workflow step that captures an event into the team's own pipeline."""

from app.engine.templates.base import FunctionTemplate

_HOG = """
postHogCapture({
  'event': inputs.event,
  'distinct_id': inputs.distinct_id,
  'properties': inputs.properties
})
"""

POSTHOG_CAPTURE = FunctionTemplate(
    id="template-posthog-capture",
    type="destination",
    name="Capture a PostHog event",
    description="Capture a PostHog event to your account",
    hog=_HOG,
    icon_url="/static/posthog-icon.svg",
    category=["Custom", "Analytics"],
    status="hidden",
    inputs_schema=[
        {
            "key": "event",
            "type": "string",
            "label": "Event name",
            "secret": False,
            "required": True,
            "description": "The name of the event to capture.",
        },
        {
            "key": "distinct_id",
            "type": "string",
            "label": "Distinct ID",
            "secret": False,
            "required": True,
            "default": "{event.distinct_id}",
            "description": "The distinct ID to associate with the event.",
        },
        {
            "key": "properties",
            "type": "dictionary",
            "label": "Event properties",
            "secret": False,
            "required": False,
            "description": "The properties to include in the event.",
        },
    ],
)
