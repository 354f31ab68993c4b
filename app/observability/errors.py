"""Which failures are the operator's to fix (one clear line) and which are bugs (a traceback)."""

import socket

from pydantic import ValidationError as PydanticValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.db.migrate import SchemaNotAtHead


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says which and what to do."""


def database_location(database_url: str) -> str:
    """Where the database is, for messages: no password, no driver name."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def unreachable_database(database_url: str, error: BaseException) -> ConfigurationError:
    return ConfigurationError(f"cannot reach the database ({database_location(database_url)}): {_first_line(error)}")


def operator_error(error: BaseException) -> str | None:
    """A one-line description when `error` is about configuration or a service being down, else None."""
    if isinstance(error, (ConfigurationError, SchemaNotAtHead)):
        return str(error)
    if isinstance(error, PydanticValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return f"invalid configuration: {problems}"
    if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
        return f"Redis is not reachable: {_first_line(error)}"
    if _is_connection_dbapi_error(error):
        return f"PostgreSQL is not reachable: {_first_line(error.orig if isinstance(error, DBAPIError) else error)}"
    if isinstance(error, (ConnectionError, socket.gaierror, TimeoutError)):
        return f"a service is not reachable: {_first_line(error)}"
    if type(error).__module__.startswith("asyncpg") and type(error).__name__ in _ASYNCPG_CONNECT_ERRORS:
        return f"PostgreSQL refused the connection: {_first_line(error)}"
    return None


# asyncpg errors raised while connecting (wrong database name, password, too many clients...).
_ASYNCPG_CONNECT_ERRORS = {
    "InvalidCatalogNameError",
    "InvalidPasswordError",
    "InvalidAuthorizationSpecificationError",
    "TooManyConnectionsError",
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
}


def _is_connection_dbapi_error(error: BaseException) -> bool:
    """A lost or refused connection; not a deadlock, a lock timeout or a constraint (those are bugs or races)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    cause = getattr(original, "__cause__", None)
    return any(
        isinstance(e, (OSError, ConnectionError)) or type(e).__name__ in _ASYNCPG_CONNECT_ERRORS
        for e in (original, cause)
        if e is not None
    )


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
