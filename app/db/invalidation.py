"""Change stamps for in-process caches of rows, moved by this process's own writes.

A cache keeps the stamp it read *before* loading and trusts its entry only while the stamp is
unchanged. Writes through any SQLAlchemy session of this process move the stamps of the models they
touch: ORM flushes (new, changed, deleted objects) and ORM-enabled bulk `update()`/`delete()`
statements, once when they run and again when their transaction ends, so a reader that loaded the old
row between the write and its commit cannot keep it. Other processes' writes are not seen here; those
caches bound staleness with a TTL of their own.

A statement run with `execution_options(cache_neutral=True)` moves nothing (bookkeeping such as a key's
`last_used_at`).

With Redis, `relay` carries the stamps between processes: each commit that moved stamps is published
on one channel (`hogflows:invalidate`, `{"topic", "keys"}`) and every API process that listens moves
its own stamps the same way, so a save through one API process is seen by the others within
milliseconds. A message can be lost (a dropped subscription); after a reconnection everything is
moved once, and the caches' TTLs remain the bound.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

_PENDING = "hogflows_pending_stamps"
CHANNEL = "hogflows:invalidate"
log = logging.getLogger(__name__)


class ChangeStamps:
    """A process-wide counter plus one counter per key (e.g. per team); `topic` names it between processes."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        _topics[topic] = self
        self._all = 0
        self._keys: dict[Hashable, int] = {}

    def stamp(self, key: Hashable = None) -> tuple[int, int]:
        return self._all, self._keys.get(key, 0)

    def bump(self, keys: Iterable[Hashable] | None = None) -> None:
        """Move the stamp of each key, or of everything when `keys` is None."""
        if keys is None:
            self._all += 1
            return
        for key in keys:
            self._keys[key] = self._keys.get(key, 0) + 1


_topics: dict[str, "ChangeStamps"] = {}
# Called after each commit that moved stamps (topic, keys or None); set while a relay runs.
_publish: Callable[[str, list[Any] | None], None] | None = None

KeyOf = Callable[[Any], Hashable]
_watched: list[tuple[tuple[type, ...], ChangeStamps, KeyOf | None]] = []


def watch(models: tuple[type, ...], stamps: ChangeStamps, key_of: KeyOf | None = None) -> None:
    """Bump `stamps` when rows of `models` change: per `key_of(obj)` for ORM objects, else everything."""
    _watched.append((models, stamps, key_of))


def _record(session: Session, stamps: ChangeStamps, keys: set[Hashable] | None) -> None:
    stamps.bump(keys)
    pending: dict[int, tuple[ChangeStamps, set[Hashable] | None]] = session.info.setdefault(_PENDING, {})
    known = pending.get(id(stamps))
    if known is None:
        pending[id(stamps)] = (stamps, keys)
    elif known[1] is not None:
        pending[id(stamps)] = (stamps, None if keys is None else known[1] | keys)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    changed = [*session.new, *session.dirty, *session.deleted]
    for models, stamps, key_of in _watched:
        hits = [obj for obj in changed if isinstance(obj, models)]
        if hits:
            _record(session, stamps, None if key_of is None else {key_of(obj) for obj in hits})


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get("cache_neutral"):
        return
    mapper = state.bind_mapper
    if mapper is None:
        return
    for models, stamps, _key_of in _watched:
        if issubclass(mapper.class_, models):
            _record(state.session, stamps, None)


def _settle(session: Session, *, committed: bool) -> None:
    for stamps, keys in session.info.pop(_PENDING, {}).values():
        stamps.bump(keys)
        if committed and _publish is not None:
            _publish(stamps.topic, None if keys is None else sorted(keys, key=str))


event.listen(Session, "after_commit", lambda session: _settle(session, committed=True))
event.listen(Session, "after_soft_rollback", lambda session, _transaction: _settle(session, committed=False))


def _apply(raw: bytes | str) -> None:
    try:
        message = json.loads(raw)
        stamps = _topics[message["topic"]]
        keys = message["keys"]
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed invalidation message: %r", raw[:200])
        return
    stamps.bump(None if keys is None else keys)


async def relay(redis: Any, *, retry_seconds: float = 1.0) -> None:
    """Publish this process's committed changes and apply everyone's, until cancelled."""
    global _publish
    pending: set[asyncio.Task[Any]] = set()

    def publish(topic: str, keys: list[Any] | None) -> None:
        try:
            task = asyncio.get_running_loop().create_task(
                redis.publish(CHANNEL, json.dumps({"topic": topic, "keys": keys}))
            )
        except RuntimeError:  # a commit outside an event loop (scripts): nobody to tell
            return
        pending.add(task)
        task.add_done_callback(pending.discard)

    _publish = publish
    try:
        while True:
            try:
                pubsub = redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                for stamps in _topics.values():  # whatever was missed while not subscribed
                    stamps.bump()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        _apply(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("invalidation relay lost Redis, retrying: %s", error)
                await asyncio.sleep(retry_seconds)
    finally:
        if _publish is publish:
            _publish = None
