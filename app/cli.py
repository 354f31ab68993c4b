"""The `hogflows` command: serve, migrate, bootstrap, and the Hog tools."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from app.config import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    if settings.is_sqlite or args.migrate:
        # The embedded default must work on a fresh machine with no extra step.
        asyncio.run(_migrate(settings.database_url))
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=settings.log_level.lower())
    return 0


async def _migrate(database_url: str) -> None:
    from app.db.migrate import upgrade_to_head
    from app.db.session import create_engine

    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def _worker(_args: argparse.Namespace) -> int:
    from arq.worker import Worker

    from app.worker.arq_worker import worker_settings

    Worker(**worker_settings(get_settings())).run()
    return 0


def _migrate_command(_args: argparse.Namespace) -> int:
    asyncio.run(_migrate(get_settings().database_url))
    print("Database is up to date.")
    return 0


async def _bootstrap(email: str | None) -> dict[str, object]:
    from app.db.session import create_engine, create_sessionmaker, session_scope
    from app.services.bootstrap import bootstrap_tenant

    settings = get_settings()
    engine = create_engine(settings.database_url)
    try:
        if settings.is_sqlite:
            from app.db.migrate import upgrade_to_head

            await upgrade_to_head(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            tenant = await bootstrap_tenant(session, email=email)
    finally:
        await engine.dispose()
    return tenant.as_dict()


def _bootstrap_command(args: argparse.Namespace) -> int:
    tenant = asyncio.run(_bootstrap(args.email))
    if args.json:
        print(json.dumps(tenant))
        return 0
    print("Created an organization, a project with one team, a user and a personal API key.")
    for key, value in tenant.items():
        print(f"  {key}: {value}")
    print("The API key is shown only once: keep it somewhere safe.")
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
    serve.add_argument("--migrate", action="store_true", help="Run migrations first (always on SQLite).")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="Run an arq worker that executes flows (needs REDIS_URL).")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="Bring the database schema up to date.")
    migrate.set_defaults(handler=_migrate_command)

    bootstrap = commands.add_parser("bootstrap", help="Create an organization, team, user and API key.")
    bootstrap.add_argument("--email", default=None)
    bootstrap.add_argument("--json", action="store_true", help="Print one JSON object.")
    bootstrap.set_defaults(handler=_bootstrap_command)

    hog = commands.add_parser("hog", help="Hog language tools.")
    hog_commands = hog.add_subparsers(dest="hog_command", required=True)
    run = hog_commands.add_parser("run", help="Run a .hog (source) or .hoge (bytecode) file.")
    run.add_argument("file")
    run.set_defaults(handler=_hog_run)
    compile_ = hog_commands.add_parser("compile", help="Print the bytecode of a .hog file as JSON.")
    compile_.add_argument("file")
    compile_.set_defaults(handler=_hog_compile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
