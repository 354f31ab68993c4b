"""Function templates: the Hog programs that function steps and webhook triggers run.

Each template has PostHog's shape (`id`, `type`, `name`, `inputs_schema`, `hog`). Saving a flow
validates a function action's inputs against its template's `inputs_schema`.
"""

from app.engine.templates.base import FunctionTemplate, InputSchema
from app.engine.templates.catalog import TEMPLATES, get_template

__all__ = ["TEMPLATES", "FunctionTemplate", "InputSchema", "get_template"]
