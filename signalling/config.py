"""What a signalling hub is configured with: allowed origins, TURN and STUN, limits per socket.

A plain value with no I/O, so the app can build it from its settings without loading the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class HubConfig:
    """What the hub needs from the app's settings."""

    allowed_origins: frozenset[str]
    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    # coturn checks the expiry on every refresh of an allocation, so this must outlast a call.
    turn_ttl: timedelta = timedelta(hours=4)
    # Frames between the protocol limit (64 KB, answered with an error frame) and this are read
    # and refused politely; larger ones make aiohttp close the socket with 1009.
    hard_max_frame_bytes: int = 1024 * 1024
    rate_burst: float = 200.0
    rate_per_second: float = 50.0
    max_refusals: int = 20
    join_timeout: timedelta = timedelta(seconds=10)
    websocket_heartbeat: timedelta = timedelta(seconds=20)
    send_queue_size: int = 256
    # Sockets at once (joined or still joining): one participant, and one client address. A
    # participant needs one (two while a reload replaces the old tab); an address may be a
    # clinic's or a care home's NAT, with many people in many rooms behind it.
    max_sockets_per_participant: int = 3
    max_sockets_per_address: int = 200
    # New sockets of one participant: a burst, then one every 5 s. A browser's reconnects back
    # off to 10 s; a script reconnecting in a loop is refused (429) before it costs anything.
    join_burst: float = 10.0
    joins_per_second: float = 0.2

    def __post_init__(self) -> None:
        origins = frozenset(normalise_origin(o) for o in self.allowed_origins)
        object.__setattr__(self, "allowed_origins", origins)


def normalise_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().lower().rstrip("/")
