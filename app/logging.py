"""structlog set-up for every process: console lines for people, JSON lines for log shippers.

The standard library's loggers (uvicorn, arq, SQLAlchemy, warnings) go through the same processors,
so a process writes one format to stderr whatever library a line comes from.
"""

import logging
import re
import sys
import traceback
from typing import Any

import structlog

# Libraries that would otherwise repeat what our own lines say, or talk too much at INFO.
_QUIETER = {
    "uvicorn.access": logging.WARNING,
    "arq.jobs": logging.WARNING,
    "asyncio": logging.WARNING,
    "alembic": logging.WARNING,
    "httpx": logging.WARNING,  # one INFO line per outbound request, function steps included
}


# PostHog accepts the key in the query string (`?personal_api_key=phx_...`); uvicorn logs the full path.
_QUERY_SECRET = re.compile(r"((?:^|[?&])personal_api_key=)[^&#\s]*", re.IGNORECASE)
MASK = "***"


def mask_query_secrets(text: str) -> str:
    return _QUERY_SECRET.sub(lambda match: match.group(1) + MASK, text)


class QuerySecretFilter(logging.Filter):
    """Masks `personal_api_key` in the arguments of uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = mask_query_secrets(record.msg)
        return True


def _masked(value: Any) -> Any:
    return mask_query_secrets(value) if isinstance(value, str) else value


def database_error_summary(error: BaseException) -> dict[str, Any]:
    """A database error without its messages: drivers quote the offending value (`invalid input for query
    argument $3: 'xoxb-…'`), so only the exception types, the SQLSTATE and where it was raised are kept."""
    chain: list[str] = []
    sqlstate = None
    current: BaseException | None = error
    while current is not None and len(chain) < 8:
        chain.append(type(current).__name__)
        sqlstate = sqlstate or getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(error.__traceback__)
    ours = [
        f"{frame.filename.rsplit('/app/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in frames
        if "/app/" in frame.filename
    ]
    return {"error_types": chain, "sqlstate": sqlstate, "raised_in": ours[-5:]}


def mask_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, QuerySecretFilter) for existing in access.filters):
        access.addFilter(QuerySecretFilter())


def configure_logging(level: str = "INFO", *, json_output: bool = False) -> None:
    mask_access_log()
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain tracebacks: rich's would print every frame's locals, and locals can hold tokens and keys.
    console = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    renderer: structlog.types.Processor = structlog.processors.JSONRenderer() if json_output else console
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json_output:
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final += [structlog.processors.ExceptionRenderer(tracebacks)]
    final.append(renderer)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "sqlalchemy", "alembic"):
        # Their own handlers (uvicorn's, alembic's fileConfig) would print a second, differently shaped line.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for name, quieter in _QUIETER.items():
        logging.getLogger(name).setLevel(max(quieter, numeric_level))
    logging.captureWarnings(True)
    structlog.configure(
        # Lines below the logger's level are dropped before any processor runs (timestamps cost).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
