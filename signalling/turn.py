"""TURN REST credentials (coturn `use-auth-secret`) and the ICE server list given to browsers.

coturn checks `password == base64(HMAC-SHA1(static-auth-secret, username))` and refuses the
username once the unix time in front of the colon has passed, so a credential is only as
long-lived as its ttl and never has to be stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str
    password: str
    ttl: timedelta


def mint_turn_credentials(
    secret: str, participant_id: str, now: datetime, ttl: timedelta
) -> TurnCredentials:
    """Credentials valid from `now` until `now + ttl` for coturn's shared-secret mode."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    if ":" in participant_id:
        raise ValueError("participant_id must not contain ':'")
    expires = int((now + ttl).timestamp())
    username = f"{expires}:{participant_id}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredentials(
        username=username, password=base64.b64encode(digest).decode("ascii"), ttl=ttl
    )


def ice_servers_for(
    *,
    stun_urls: Sequence[str] = (),
    turn_urls: Sequence[str] = (),
    credentials: TurnCredentials | None = None,
) -> list[dict[str, object]]:
    """The `iceServers` list for `RTCPeerConnection`. TURN is only listed with credentials."""
    servers: list[dict[str, object]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and credentials is not None:
        servers.append(
            {
                "urls": list(turn_urls),
                "username": credentials.username,
                "credential": credentials.password,
            }
        )
    return servers
