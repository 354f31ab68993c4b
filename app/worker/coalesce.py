"""Coalesced lookups: keys asked for while a lookup is in flight are answered together by the next one.

Concurrent pickups of a worker each ask the database small questions (is my run cancelled? claim my
send record). Alone, a question is asked at once; under load, one statement answers all the questions
that piled up meanwhile, as `_ResultBatcher` does for results. No timer: an idle worker pays nothing.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(self, lookup: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], batch: int = 200) -> None:
        """`lookup` answers every key it is given (a missing key is an error for its caller)."""
        self.lookup = lookup
        self.batch = batch
        self.pending: dict[K, asyncio.Future[V]] = {}
        self.running = False
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V:
        future = self.pending.get(key)
        if future is None:
            future = self.pending[key] = asyncio.get_running_loop().create_future()
        if not self.running:
            self.running = True
            self._task = asyncio.create_task(self._drain())
        # Shielded: one caller giving up must not cancel the answer others with the same key wait for.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self.pending:
                keys = list(self.pending)[: self.batch]
                futures = [self.pending.pop(key) for key in keys]
                try:
                    answers = await self.lookup(keys)
                except asyncio.CancelledError:
                    for future in [*futures, *self.pending.values()]:
                        future.cancel()
                    self.pending.clear()
                    raise
                except Exception as error:
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for key, future in zip(keys, futures, strict=True):
                    if future.done():
                        continue
                    if key in answers:
                        future.set_result(answers[key])
                    else:
                        future.set_exception(LookupError(f"no answer for {key!r}"))
        finally:
            self.running = False
