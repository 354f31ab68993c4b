"""structlog set-up for every process: console lines for people, JSON lines for log shippers.

The standard library's loggers (uvicorn, arq, SQLAlchemy, warnings) go through the same processors,
so a process writes one format to stderr whatever library a line comes from.
"""

import logging
import sys

import structlog

# Libraries that would otherwise repeat what our own lines say, or talk too much at INFO.
_QUIETER = {
    "uvicorn.access": logging.WARNING,
    "arq.jobs": logging.WARNING,
    "asyncio": logging.WARNING,
    "alembic": logging.WARNING,
    "httpx": logging.WARNING,  # one INFO line per outbound request, function steps included
}


def configure_logging(level: str = "INFO", *, json_output: bool = False) -> None:
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    )
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json_output:
        final += [structlog.processors.dict_tracebacks]
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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
