"""TURN REST credentials as coturn's use-auth-secret checks them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from signalling.turn import TurnCredentials, ice_servers_for, mint_turn_credentials

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_username_is_expiry_and_participant() -> None:
    credentials = mint_turn_credentials("secret", "pa1", NOW, timedelta(hours=1))
    expiry = int(datetime(2026, 3, 2, 10, 30, tzinfo=UTC).timestamp())
    assert credentials.username == f"{expiry}:pa1"
    assert credentials.ttl == timedelta(hours=1)


@pytest.mark.parametrize("secret", ["s3cret", "æøå-nøkkel", "x" * 100])
def test_password_is_base64_hmac_sha1_of_username(secret: str) -> None:
    credentials = mint_turn_credentials(secret, "gp1", NOW, timedelta(minutes=30))
    expected = base64.b64encode(
        hmac.new(secret.encode(), credentials.username.encode(), hashlib.sha1).digest()
    ).decode()
    assert credentials.password == expected


def test_known_vector_from_openssl() -> None:
    # printf '1772445600:pa1' | openssl dgst -sha1 -hmac s3cret -binary | base64
    credentials = mint_turn_credentials("s3cret", "pa1", NOW, timedelta(seconds=1800))
    assert credentials.username == "1772445600:pa1"
    assert credentials.password == "8HSGB9YDjkJiZqJWS3gcSGjLTYs="


def test_other_timezones_give_the_same_expiry() -> None:
    oslo = NOW.astimezone(ZoneInfo("Europe/Oslo"))
    assert mint_turn_credentials("s", "p", oslo, timedelta(hours=1)) == mint_turn_credentials(
        "s", "p", NOW, timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("participant_id", "now", "ttl"),
    [
        ("pa1", datetime(2026, 3, 2, 9, 30), timedelta(hours=1)),
        ("pa1", NOW, timedelta(0)),
        ("pa:1", NOW, timedelta(hours=1)),
    ],
)
def test_refuses_naive_time_empty_ttl_and_colons(
    participant_id: str, now: datetime, ttl: timedelta
) -> None:
    with pytest.raises(ValueError):
        mint_turn_credentials("s", participant_id, now, ttl)


def test_ice_servers_lists_stun_and_turn_with_credentials() -> None:
    credentials = TurnCredentials(username="1:pa1", password="pw", ttl=timedelta(hours=1))
    assert ice_servers_for(
        stun_urls=["stun:turn.example:3478"],
        turn_urls=["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"],
        credentials=credentials,
    ) == [
        {"urls": ["stun:turn.example:3478"]},
        {
            "urls": ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"],
            "username": "1:pa1",
            "credential": "pw",
        },
    ]


def test_ice_servers_leave_out_turn_without_credentials() -> None:
    assert ice_servers_for(turn_urls=["turn:turn.example:3478"]) == []
    assert ice_servers_for() == []
