"""Secrets at rest (integration tokens, secret template inputs): Fernet tokens keyed by `HOGFLOWS_SECRET_KEY`.

1. The setting is a comma-separated list of keys. The first encrypts; every one decrypts (MultiFernet),
   so a key is rotated by putting a new key first and keeping the old ones until every value has been
   written again.
2. A key may be any string: the Fernet key (16 bytes signing + 16 bytes encryption) is derived from it with
   HKDF-SHA256, so a passphrase never becomes a weak key by padding or truncation.
3. An encrypted JSON value is stored as `{"$fernet": "<token>"}`; `open_json` reads that form and the
   plain dicts rows held before encryption existed (the migration that encrypts them may not have run yet).

PostHog encrypts `sensitive_config` and secret inputs with Fernet as well (its `ENCRYPTION_SALT_KEYS`).
"""

import base64
import json
from functools import lru_cache
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_SECRET_KEY = "insecure-dev-secret"
ENCRYPTED_MARKER = "$fernet"

logger = structlog.get_logger(__name__)


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key (a key was removed too early)."""


def _derive(key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hogflows-secret-key", info=b"fernet").derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("HOGFLOWS_SECRET_KEY must hold at least one key")
        self._fernet = MultiFernet([_derive(key) for key in keys])

    @classmethod
    def from_setting(cls, setting: str) -> "SecretBox":
        return _box(setting)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise SecretDecryptionError("A stored secret cannot be decrypted with HOGFLOWS_SECRET_KEY") from error

    def seal_json(self, value: dict[str, Any]) -> dict[str, str]:
        return {ENCRYPTED_MARKER: self.encrypt(json.dumps(value))}

    def open_json(self, stored: Any) -> dict[str, Any]:
        if not isinstance(stored, dict):
            return {}
        if is_sealed(stored):
            opened = json.loads(self.decrypt(stored[ENCRYPTED_MARKER]))
            return opened if isinstance(opened, dict) else {}
        return stored

    def open_inputs(self, inputs: Any) -> Any:
        """A copy of a step's `inputs` with every sealed entry (a secret input) decrypted."""
        if not isinstance(inputs, dict) or not any(is_sealed(entry) for entry in inputs.values()):
            return inputs
        return {key: self.open_json(entry) if is_sealed(entry) else entry for key, entry in inputs.items()}


def is_sealed(stored: Any) -> bool:
    return isinstance(stored, dict) and set(stored) == {ENCRYPTED_MARKER} and isinstance(stored[ENCRYPTED_MARKER], str)


def split_keys(setting: str) -> list[str]:
    return [key.strip() for key in setting.split(",") if key.strip()]


@lru_cache(maxsize=8)
def _box(setting: str) -> SecretBox:
    return SecretBox(split_keys(setting))


def warn_if_default_key(secret_key: str, *, is_sqlite: bool) -> bool:
    """Production (PostgreSQL) with the built-in key: anyone with the source can read stored tokens."""
    if is_sqlite or DEFAULT_SECRET_KEY not in split_keys(secret_key):
        return False
    logger.warning(
        f"HOGFLOWS_SECRET_KEY is the built-in default {DEFAULT_SECRET_KEY!r}: integration tokens and secret inputs "
        "stored in PostgreSQL are encrypted with a key anyone can read in the source. Set HOGFLOWS_SECRET_KEY to "
        "a long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
    )
    return True
