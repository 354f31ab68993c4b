"""Parsing in child processes, where a crash of the C++ parser costs one request, not the service.

`hogql-parser` recurses on the C++ stack and holds the GIL: input deep enough kills the process
(SIGSEGV), and slow input stalls every thread of it. `guard.scan` refuses what is known to be
dangerous; sources that pass but are not small are parsed here, in a pool of `spawn`ed processes
(`concurrent.futures`), with a time limit. A pool whose process died (`BrokenProcessPool`) or that
ran past the limit is replaced: the caller gets a `HogSyntaxError`, later calls a fresh pool.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

PROCESSES = 2
# No source within the scan's hard bounds needs nearly this long (see guard.py).
TIMEOUT_SECONDS = 5.0
# Starting the processes (an interpreter each, importing the parser) is not parse time: on a loaded
# machine it takes seconds, and a fresh pool waits for it before any parse is timed.
START_TIMEOUT_SECONDS = 60.0
PARENT_CHECK_SECONDS = 1.0

_lock = threading.Lock()
_pool: concurrent.futures.ProcessPoolExecutor | None = None
_users = 0  # `start`s not yet `stop`ped


class ParseProcessError(Exception):
    """The parse process crashed or ran out of time."""


def _child_parse(func_name: str, text: str) -> str:
    from app.hog.parser import load_parser

    return str(getattr(load_parser(), func_name)(text))


def _end_with_parent(parent: int) -> None:
    """Exit when the server (`parent`) does, however it ends: a spawned child holds both ends of the pool's
    queue, so a SIGKILLed server's children would never see EOF and outlive it. An orphan is adopted by
    another process, which changes its parent id. The server passes its pid: a child still starting when
    the server ended was already adopted when this ran, and would have watched its adopter."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_ready() -> bool:
    from app.hog.parser import load_parser

    load_parser()
    return True


def _get_pool() -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=PROCESSES,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_end_with_parent,
                initargs=(os.getpid(),),
            )
            try:
                for ready in [pool.submit(_child_ready) for _ in range(PROCESSES)]:
                    ready.result(timeout=START_TIMEOUT_SECONDS)
            except (BrokenProcessPool, concurrent.futures.TimeoutError) as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                raise ParseProcessError("the parse processes did not start") from exc
            _pool = pool
        return _pool


def start() -> None:
    """Start the parse processes now (a server does it before it takes traffic); `stop` once per `start`."""
    global _users
    with _lock:
        _users += 1
    _get_pool()


def stop() -> None:
    """The end of a `start`: the last one running (several apps may share a process, as in tests) ends the
    parse processes."""
    global _users
    with _lock:
        _users -= 1
        if _users > 0:
            return
    shutdown()


def _discard(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Replace `pool`: later calls get a new one; its processes (a stuck parse among them) are ended."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    processes: dict[Any, Any] = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        if process.is_alive():
            process.kill()


def parse_in_process(func_name: str, text: str, timeout: float) -> str:
    """`hogql_parser.<func_name>(text)` in a child process; raises `ParseProcessError` on crash or timeout."""
    pool = _get_pool()
    try:
        future = pool.submit(_child_parse, func_name, text)
        return future.result(timeout=max(0.01, min(timeout, TIMEOUT_SECONDS)))
    except BrokenProcessPool as exc:
        _discard(pool)
        raise ParseProcessError("the parser crashed on this input") from exc
    except concurrent.futures.TimeoutError as exc:
        _discard(pool)
        raise ParseProcessError("the parser took too long on this input") from exc


def shutdown() -> None:
    """End the parse processes and wait for them: the pool's queues are then released, which unregisters
    their semaphores. A server killed by the signal that stopped it (uvicorn raises it again after its
    shutdown) runs no exit handlers, and multiprocessing's resource tracker would warn of them as leaked."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
