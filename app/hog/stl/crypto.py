"""STL: hashes and HMAC chains (hex, base64, base64url without padding, or latin-1 "binary")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from app.hog.errors import HogVMError
from app.hog.stl.registry import StlContext, arg, stl

_ALGORITHMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _encode_digest(digest: bytes, encoding: str) -> str:
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64":
        return base64.b64encode(digest).decode("ascii")
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    if encoding == "binary":
        return digest.decode("latin-1")
    raise HogVMError(f"Unsupported encoding: {encoding}")


def _text_bytes(value: Any, fn: str) -> bytes:
    if type(value) is not str:
        raise HogVMError(f"Function {fn} expects a string")
    return value.encode("utf-8")


def _register_hash(name: str) -> None:
    algorithm = _ALGORITHMS[name]

    def hex_digest(ctx: StlContext, args: list[Any]) -> str | None:
        if args[0] is None:
            return None
        return algorithm(_text_bytes(args[0], f"{name}Hex")).hexdigest()

    def encoded_digest(ctx: StlContext, args: list[Any]) -> str | None:
        if args[0] is None:
            return None
        return _encode_digest(algorithm(_text_bytes(args[0], name)).digest(), str(arg(args, 1, "hex")))

    stl(f"{name}Hex", 1, 1)(hex_digest)
    stl(name, 1, 2)(encoded_digest)


def _hmac_chain(name: str, items: Any) -> bytes:
    if type(items) not in (list, tuple) or len(items) < 2:
        raise HogVMError(f"Function {name}HmacChain requires an array of at least 2 items")
    key = _text_bytes(items[0], f"{name}HmacChain")
    digest = b""
    for item in items[1:]:
        digest = hmac.new(key, _text_bytes(item, f"{name}HmacChain"), _ALGORITHMS[name]).digest()
        key = digest
    return digest


def _register_hmac_chain(name: str) -> None:
    def hex_chain(ctx: StlContext, args: list[Any]) -> str:
        return _hmac_chain(name, args[0]).hex()

    def encoded_chain(ctx: StlContext, args: list[Any]) -> str:
        return _encode_digest(_hmac_chain(name, args[0]), str(arg(args, 1, "hex")))

    stl(f"{name}HmacChainHex", 1, 1)(hex_chain)
    stl(f"{name}HmacChain", 1, 2)(encoded_chain)


for _name in ("md5", "sha1", "sha256"):
    _register_hash(_name)
for _name in ("sha1", "sha256"):
    _register_hmac_chain(_name)
