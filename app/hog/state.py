"""Serialising a paused VM to plain JSON and back (``json.dumps``/``json.loads`` round trip).

Format (``"version": 1``)::

    {"version": 1,
     "chunks": {"root": {"bytecode": [...], "globals": <value> | null}, ...},
     "globals": <value>, "heap": [<entry>, ...], "stack": [<value>, ...],
     "frames": [{"chunk", "ip", "start", "argc", "closure": <value>}],
     "throw": [[call_len, stack_len, catch_ip], ...],
     "upvalues": [{"id", "location", "closed", "value": <value>}], "open": [upvalue ids],
     "declared": {name: [chunk, ip, argc]},
     "ops", "async_steps", "duration_ms", "next_upvalue_id"}

A ``<value>`` is ``null``, a boolean, an integer, a string, a finite float, ``{"$float": "inf"}``
(non-finite floats), or ``{"$ref": n}`` pointing into ``heap``. Every container and function is
a heap entry -- ``{"list": [...]}``, ``{"tuple": [...]}``, ``{"dict": [[k, v], ...]}`` (keys of
any type), ``{"closure": {callable}, "upvalues": [ids]}``, ``{"callable": {...}}`` -- so aliasing,
cycles, tuples versus lists and non-string keys all survive, and the JSON never nests deeper than
one entry (both directions are iterative).
"""

from __future__ import annotations

import math
from typing import Any

from app.hog.errors import HogVMError
from app.hog.frames import Chunk, Counters, Frame, TryHandler, parse_chunk
from app.hog.values import Callable, Closure, Upvalue

STATE_VERSION = 1


class _Encoder:
    def __init__(self) -> None:
        self.heap: list[Any] = []
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps id()s stable while encoding
        self.pending: list[tuple[int, Any]] = []
        self.upvalues: dict[int, Upvalue] = {}

    def value(self, value: Any) -> Any:
        t = type(value)
        if value is None or t is bool or t is int or t is str:
            return value
        if t is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if t in (list, tuple, dict, Closure, Callable):
            return {"$ref": self._ref(value)}
        raise HogVMError(f"Can not serialise a value of type {t.__name__}")

    def _ref(self, value: Any) -> int:
        index = self.ids.get(id(value))
        if index is None:
            index = len(self.heap)
            self.ids[id(value)] = index
            self.keep.append(value)
            self.heap.append(None)
            self.pending.append((index, value))
        return index

    def drain(self) -> None:
        while self.pending:
            index, value = self.pending.pop()
            self.heap[index] = self._entry(value)

    def _entry(self, value: Any) -> dict[str, Any]:
        t = type(value)
        if t is list:
            return {"list": [self.value(item) for item in value]}
        if t is tuple:
            return {"tuple": [self.value(item) for item in value]}
        if t is dict:
            return {"dict": [[self.value(key), self.value(item)] for key, item in value.items()]}
        if t is Closure:
            for upvalue in value.upvalues:
                self.upvalues[upvalue.id] = upvalue
            return {"closure": _callable_fields(value.callable), "upvalues": [u.id for u in value.upvalues]}
        return {"callable": _callable_fields(value)}


def _callable_fields(target: Callable) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "name": target.name,
        "chunk": target.chunk,
        "argc": target.arg_count,
        "upvalues": target.upvalue_count,
        "ip": target.ip,
    }


def _callable_from(fields: dict[str, Any]) -> Callable:
    return Callable(fields["kind"], fields["name"], fields["chunk"], fields["argc"], fields["upvalues"], fields["ip"])


def encode_state(
    chunks: dict[str, Chunk],
    globals: dict[str, Any],
    vm: Any,
    counters: Counters,
) -> dict[str, Any]:
    """The JSON-ready state of a paused ``VMSupport`` instance."""
    encoder = _Encoder()
    state: dict[str, Any] = {
        "version": STATE_VERSION,
        "chunks": {
            name: {"bytecode": chunk.code, "globals": None if chunk.globals is None else encoder.value(chunk.globals)}
            for name, chunk in chunks.items()
        },
        "globals": encoder.value(globals),
        "stack": [encoder.value(item) for item in vm.stack],
        "frames": [
            {
                "chunk": frame.chunk,
                "ip": frame.ip,
                "start": frame.stack_start,
                "argc": frame.arg_count,
                "closure": encoder.value(frame.closure),
            }
            for frame in vm.frames
        ],
        "throw": [[h.call_len, h.stack_len, h.catch_ip] for h in vm.throw_stack],
        "declared": {name: list(entry) for name, entry in vm.declared.items()},
        "ops": counters.ops,
        "async_steps": counters.async_steps,
        "duration_ms": counters.duration_ms,
        "next_upvalue_id": counters.next_upvalue_id,
    }
    for upvalue in vm.open_upvalues:
        encoder.upvalues[upvalue.id] = upvalue
    encoder.drain()
    encoded_upvalues: dict[int, dict[str, Any]] = {}
    while len(encoded_upvalues) < len(encoder.upvalues):
        for upvalue_id, upvalue in list(encoder.upvalues.items()):
            if upvalue_id not in encoded_upvalues:
                encoded_upvalues[upvalue_id] = {
                    "id": upvalue.id,
                    "location": upvalue.location,
                    "closed": upvalue.closed,
                    "value": encoder.value(upvalue.value) if upvalue.closed else None,
                }
        encoder.drain()
    state["upvalues"] = [encoded_upvalues[key] for key in sorted(encoded_upvalues)]
    state["open"] = [upvalue.id for upvalue in vm.open_upvalues]
    state["heap"] = encoder.heap
    return state


class _Decoder:
    def __init__(self, heap: list[Any], upvalues: dict[int, Upvalue]) -> None:
        self.heap = heap
        self.objects: list[Any] = [None] * len(heap)
        self.upvalues = upvalues
        for index, entry in enumerate(heap):
            if "list" in entry:
                self.objects[index] = []
            elif "dict" in entry:
                self.objects[index] = {}
            elif "closure" in entry:
                self.objects[index] = Closure(_callable_from(entry["closure"]))
            elif "callable" in entry:
                self.objects[index] = _callable_from(entry["callable"])
            elif "tuple" not in entry:
                raise HogVMError("Invalid VM state: unknown heap entry")
        self._build_tuples()

    def value(self, encoded: Any) -> Any:
        if type(encoded) is dict:
            if "$ref" in encoded:
                return self.objects[encoded["$ref"]]
            if "$float" in encoded:
                return float(encoded["$float"])
            raise HogVMError("Invalid VM state: unknown value encoding")
        return encoded

    def _build_tuples(self) -> None:
        """Tuples are immutable, so build them children-first (tuple-only chains are acyclic)."""
        for root, entry in enumerate(self.heap):
            if "tuple" not in entry or self.objects[root] is not None:
                continue
            work = [root]
            while work:
                index = work[-1]
                missing = [
                    item["$ref"]
                    for item in self.heap[index]["tuple"]
                    if type(item) is dict and "$ref" in item and self.objects[item["$ref"]] is None
                ]
                if missing:
                    work.extend(missing)
                    continue
                work.pop()
                self.objects[index] = tuple(self.value(item) for item in self.heap[index]["tuple"])

    def fill(self) -> None:
        for index, entry in enumerate(self.heap):
            target = self.objects[index]
            if "list" in entry:
                target.extend(self.value(item) for item in entry["list"])
            elif "dict" in entry:
                for key, item in entry["dict"]:
                    target[self.value(key)] = self.value(item)
            elif "closure" in entry:
                target.upvalues = [self.upvalues[upvalue_id] for upvalue_id in entry["upvalues"]]


def decode_state(state: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the pieces of a paused VM; returns a dict of constructor inputs and VM fields."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise HogVMError("Invalid VM state: unsupported version")
    try:
        upvalues = {entry["id"]: Upvalue(entry["id"], entry["location"]) for entry in state["upvalues"]}
        decoder = _Decoder(state["heap"], upvalues)
        for entry in state["upvalues"]:
            upvalue = upvalues[entry["id"]]
            upvalue.closed = entry["closed"]
            upvalue.value = decoder.value(entry["value"])
        decoder.fill()
        chunks = {
            name: parse_chunk(name, raw["bytecode"], None if raw["globals"] is None else decoder.value(raw["globals"]))
            for name, raw in state["chunks"].items()
        }
        frames_raw = state["frames"]
        return {
            "chunks": chunks,
            "globals": decoder.value(state["globals"]),
            "stack": [decoder.value(item) for item in state["stack"]],
            "frames": [
                (raw["chunk"], raw["ip"], raw["start"], raw["argc"], decoder.value(raw["closure"]))
                for raw in frames_raw
            ],
            "throw": [TryHandler(*handler) for handler in state["throw"]],
            "open": [upvalues[upvalue_id] for upvalue_id in state["open"]],
            "declared": {name: tuple(entry) for name, entry in state["declared"].items()},
            "counters": Counters(
                ops=state["ops"],
                async_steps=state["async_steps"],
                duration_ms=state["duration_ms"],
                next_upvalue_id=state["next_upvalue_id"],
            ),
        }
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise HogVMError(f"Invalid VM state: {exc}") from None


def restore_frames(vm: Any, decoded: dict[str, Any]) -> None:
    vm.stack.extend(decoded["stack"])
    for chunk, ip, start, argc, closure in decoded["frames"]:
        vm.frames.append(Frame(chunk, vm.chunk_code[chunk], ip, start, argc, closure))
    vm.throw_stack.extend(decoded["throw"])
    vm.open_upvalues.extend(decoded["open"])
    vm.declared.update(decoded["declared"])
