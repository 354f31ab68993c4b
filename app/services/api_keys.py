"""Personal API keys: generated once, stored only as a hash (PostHog's `sha256$<hex>` format)."""

import hashlib
import secrets

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ALL_SCOPES = ["*"]
HOG_FLOW_SCOPES = ["hog_flow:read", "hog_flow:write"]


def _base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or "0"


def generate_personal_api_key() -> str:
    return "phx_" + _base62(secrets.token_bytes(35))


def generate_project_token() -> str:
    return "phc_" + _base62(secrets.token_bytes(32))


def hash_key(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


def mask_api_key(key: str) -> str:
    return f"{key[:4]}...{key[-4:]}"


def scope_satisfied(granted: list[str], required: str) -> bool:
    """`*` grants everything; `X:write` also grants `X:read`."""
    if "*" in granted or required in granted:
        return True
    obj, _, level = required.partition(":")
    return level == "read" and f"{obj}:write" in granted
