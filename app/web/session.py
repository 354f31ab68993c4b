"""The web page's sign-in session: a signed, HTTP-only cookie holding the API key's stored hash.

The cookie never holds the key itself, only the hash the database keeps (`hash_key`), signed with
`HOGFLOWS_SECRET_KEY` (its first comma-separated entry, so adding an encryption key in front
rotates sessions too) and time-stamped: a tampered or expired cookie is no session. Every request
looks the key up again, so a deleted key or a deactivated user ends the session at once.
"""

import hmac
from typing import Any

from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

COOKIE_NAME = "hogflows_session"
MAX_AGE_SECONDS = 7 * 24 * 3600


def _secret(secret_key: str) -> str:
    return secret_key.split(",")[0].strip() or secret_key


class SessionCodec:
    def __init__(self, secret_key: str) -> None:
        secret = _secret(secret_key)
        self._serializer = URLSafeTimedSerializer(secret, salt="hogflows.web.session")
        self._csrf = Signer(secret, salt="hogflows.web.csrf")

    def encode(self, key_hash: str) -> str:
        return self._serializer.dumps({"key": key_hash})

    def decode(self, cookie: str | None) -> str | None:
        """The key hash in a valid, unexpired cookie, else None."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        key = data.get("key") if isinstance(data, dict) else None
        return key if isinstance(key, str) else None

    def csrf_token(self, cookie: str) -> str:
        """A token bound to the session for forms that change something (double-submit by signature)."""
        return self._csrf.get_signature(cookie).decode()

    def csrf_valid(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf_token(cookie or ""), token or "")
