"""Data from outside (a destination's response) made storable in PostgreSQL before it is stored.

PostgreSQL text and jsonb refuse NUL, UTF-8 cannot encode a lone surrogate, and JSON has no `Infinity`
(a response of `1e400` parses to one). Such characters become U+FFFD, as PostHog's ingestion does, and
non-finite numbers become null, as `JSON.stringify` makes them in PostHog's Node.js workers.
Unlike `app.ingest.sanitize` (client input, where a refusal is an answer), nothing is refused here: a
delivered send must never fail because of what the destination answered.
"""

import math
import re
from typing import Any

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {storable_text(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
