"""The `hogflows` command: serve, migrate, bootstrap, and the Hog tools."""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

import structlog

from app.config import Settings, get_settings

logger = structlog.get_logger("hogflows")


def _configure_logging() -> Settings:
    from app.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    return settings


def _prepare_database(settings: Settings, *, migrate: bool) -> None:
    """Bring the schema to head (under the migration lock) or, when told not to, insist it is there."""
    asyncio.run(_migrate(settings.database_url, check_only=not migrate))


async def _migrate(database_url: str, *, check_only: bool = False) -> None:
    from app.db.migrate import SchemaNotAtHead, require_head, upgrade_to_head
    from app.db.session import create_engine
    from app.observability.errors import operator_error, unreachable_database

    engine = create_engine(database_url)
    try:
        await (require_head(engine) if check_only else upgrade_to_head(engine))
    except Exception as error:
        if isinstance(error, SchemaNotAtHead) or operator_error(error) is None:
            raise
        raise unreachable_database(database_url, error) from error
    finally:
        await engine.dispose()
    logger.info("database schema is at head", checked_only=check_only)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = _configure_logging()
    if settings.redis_url:
        from app.worker.arq_worker import check_redis

        asyncio.run(check_redis(settings.redis_url))
    _prepare_database(settings, migrate=not args.no_migrate)
    # log_config=None: uvicorn's loggers go through our structlog set-up instead of its own handlers.
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        # Our request middleware logs each request with its id and route; uvicorn's line would repeat it.
        access_log=False,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from app.observability.errors import ConfigurationError
    from app.worker.arq_worker import check_redis, run_worker

    settings = _configure_logging()
    if not settings.redis_url:
        raise ConfigurationError("REDIS_URL is not set: `hogflows worker` takes its jobs from Redis")
    asyncio.run(check_redis(settings.redis_url))
    _prepare_database(settings, migrate=not args.no_migrate)
    if args.metrics_port is not None:
        from app.observability.worker_http import serve_worker_metrics

        serve_worker_metrics(args.metrics_host, args.metrics_port)
    run_worker(settings)
    logger.info("worker stopped")
    return 0


def _migrate_command(_args: argparse.Namespace) -> int:
    settings = _configure_logging()
    asyncio.run(_migrate(settings.database_url))
    print("Database is up to date.")
    return 0


async def _bootstrap(email: str | None) -> dict[str, object]:
    from app.db.session import create_engine, create_sessionmaker, session_scope
    from app.services.bootstrap import bootstrap_tenant

    settings = get_settings()
    # A fresh database is the usual case for bootstrap: bring it to head first (a no-op when it is).
    await _migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            tenant = await bootstrap_tenant(session, email=email)
    finally:
        await engine.dispose()
    return tenant.as_dict()


def _bootstrap_command(args: argparse.Namespace) -> int:
    _configure_logging()
    tenant = asyncio.run(_bootstrap(args.email))
    if args.json:
        print(json.dumps(tenant))
        return 0
    print("Created an organization, a project with one team, a user and a personal API key.")
    for key, value in tenant.items():
        print(f"  {key}: {value}")
    print("The API key is shown only once: keep it somewhere safe.")
    return 0


def _purge_command(_args: argparse.Namespace) -> int:
    from app.services.retention import purge_all

    settings = _configure_logging()
    deleted = asyncio.run(purge_all(settings))
    print(json.dumps(deleted))
    return 0


def _hog_run(args: argparse.Namespace) -> int:
    from app.hog.files import run_file

    return run_file(args.file, sys.stdout, sys.stderr)


def _hog_compile(args: argparse.Namespace) -> int:
    from app.hog.files import compile_file
    from app.hog.parser import HogCompileError

    try:
        print(json.dumps(compile_file(args.file)))
    except (HogCompileError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hogflows", description="PostHog-compatible Hog Flows service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Run the HTTP API.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    _migration_flags(serve)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="Run an arq worker that executes flows (needs REDIS_URL).")
    _migration_flags(worker)
    worker.add_argument("--metrics-port", type=int, default=None, help="Serve /metrics and /_health on this port.")
    worker.add_argument("--metrics-host", default="0.0.0.0")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="Bring the database schema up to date.")
    migrate.set_defaults(handler=_migrate_command)

    bootstrap = commands.add_parser("bootstrap", help="Create an organization, team, user and API key.")
    bootstrap.add_argument("--email", default=None)
    bootstrap.add_argument("--json", action="store_true", help="Print one JSON object.")
    bootstrap.set_defaults(handler=_bootstrap_command)

    purge = commands.add_parser("purge", help="Delete logs, metrics and finished runs past their retention now.")
    purge.set_defaults(handler=_purge_command)

    hog = commands.add_parser("hog", help="Hog language tools.")
    hog_commands = hog.add_subparsers(dest="hog_command", required=True)
    run = hog_commands.add_parser("run", help="Run a .hog (source) or .hoge (bytecode) file.")
    run.add_argument("file")
    run.set_defaults(handler=_hog_run)
    compile_ = hog_commands.add_parser("compile", help="Print the bytecode of a .hog file as JSON.")
    compile_.add_argument("file")
    compile_.set_defaults(handler=_hog_compile)
    return parser


def _migration_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="Do not migrate at start; refuse to start unless the schema is already at head.",
    )
    # Kept so existing scripts work: migrating at start is the default now.
    parser.add_argument("--migrate", action="store_true", help=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    from app.logging import configure_logging
    from app.observability.errors import operator_error

    args = build_parser().parse_args(argv)
    # Until the settings are read (they may be what is wrong), the format comes straight from the environment.
    configure_logging(json_output=os.environ.get("HOGFLOWS_LOG_JSON", "").lower() in ("1", "true", "yes", "on"))
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        message = operator_error(error)
        if message is None:
            raise
        # Configuration and connection problems are the operator's to fix: one line, no traceback.
        logger.error(message, command=args.command)
        return 2


if __name__ == "__main__":
    sys.exit(main())
