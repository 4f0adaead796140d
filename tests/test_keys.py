"""Keys per purpose: derived apart from each other; the fødselsnummer pepper keeps old hashes."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from service.domain.tokens import keyed_hash
from service.settings import Settings, hkdf_sha256

SECRET = "a-secret-key-of-at-least-thirty-two-characters"


def test_each_purpose_has_its_own_key_and_none_is_the_secret() -> None:
    settings = Settings(secret_key=SecretStr(SECRET))
    keys = {purpose: settings.purpose_key(purpose) for purpose in ("session", "csrf", "token")}
    assert len(set(keys.values())) == 3
    assert all(len(k) == 32 and SECRET.encode() not in k for k in keys.values())
    other = Settings(secret_key=SecretStr(SECRET + "-rotated"))
    assert other.purpose_key("session") != keys["session"]


def test_hkdf_matches_rfc_5869_test_case_3() -> None:
    # RFC 5869 A.3: SHA-256, no salt, no info.
    ikm = bytes.fromhex("0b" * 22)
    okm = hkdf_sha256(ikm, b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_the_pepper_defaults_to_the_secret_so_stored_hashes_still_match() -> None:
    stored_before = hmac.new(SECRET.encode(), b"fnr:01010112345", hashlib.sha256).hexdigest()
    settings = Settings(secret_key=SecretStr(SECRET))
    assert keyed_hash(settings.fnr_pepper_value, "fnr:01010112345") == stored_before
    # Pinned to the old secret, the pepper survives a rotation of the secret key.
    rotated = Settings(secret_key=SecretStr(SECRET + "-rotated"), fnr_pepper=SecretStr(SECRET))
    assert keyed_hash(rotated.fnr_pepper_value, "fnr:01010112345") == stored_before
