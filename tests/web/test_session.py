"""The session cookie's signing: what it holds, which secret signs it, the form token bound to it."""

from app.web.session import SessionCodec


def test_a_cookie_holds_the_key_hash_and_only_its_own_secret_reads_it() -> None:
    codec = SessionCodec("first-secret,old-encryption-key")
    cookie = codec.encode("sha256$abc")
    assert codec.decode(cookie) == "sha256$abc"
    # Only the first comma-separated entry signs, so keys appended after it keep sessions valid.
    assert SessionCodec("first-secret,another").decode(cookie) == "sha256$abc"
    assert SessionCodec("old-encryption-key,first-secret").decode(cookie) is None
    # A character inside the signature: the last one may only carry padding bits that decoding ignores.
    tampered = cookie[:-5] + ("A" if cookie[-5] != "A" else "B") + cookie[-4:]
    assert codec.decode(tampered) is None
    assert codec.decode("") is None and codec.decode(None) is None and codec.decode("garbage") is None


def test_the_form_token_is_bound_to_the_session() -> None:
    codec = SessionCodec("secret")
    mine, theirs = codec.encode("hash-1"), codec.encode("hash-2")
    token = codec.csrf_token(mine)
    assert codec.csrf_valid(mine, token)
    assert not codec.csrf_valid(theirs, token)
    assert not codec.csrf_valid(mine, None) and not codec.csrf_valid(None, token)
    assert not SessionCodec("other").csrf_valid(mine, token)
