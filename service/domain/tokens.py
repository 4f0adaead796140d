"""Secrets handed to people (join links, feed and survey links) and how they are stored.

A token is 256 random bits; the database keeps only its SHA-256, so a leaked database does not
open any consultation. Fødselsnummer is kept only as a keyed hash, to recognise a patient.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


def new_room_id() -> str:
    return secrets.token_urlsafe(24)


def keyed_hash(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
