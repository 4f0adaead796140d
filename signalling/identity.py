"""Who is on the other end of a signalling socket, and where session events go.

The hub does not know about tokens, logins or the database: the app injects an `Authenticator`
that turns the upgrade request into an `Identity`, a `SessionRecorder` that stores the
session events (join, admit, leave, disconnect, remove), and an `AdmissionLedger` that says from
that record whether a participant was admitted, so admissions outlive a restart of the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

if TYPE_CHECKING:
    # Only the protocol's signature names it: an identity and a recorder need no aiohttp.
    from aiohttp import web

SessionEvent: TypeAlias = Literal["join", "admit", "leave", "disconnect", "remove"]


@dataclass(frozen=True, slots=True)
class Identity:
    """One participant of one consultation's video room, as proven by the authenticator."""

    room_id: str
    participant_id: str
    display_name: str
    role: str
    is_clinician: bool
    # When the room closes for this participant (the end of the join window): the hub ends the
    # call then. None: never, as far as the hub knows.
    closes_at: datetime | None = None


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Identity:
        """Identify the caller of a WebSocket upgrade.

        Raises `web.HTTPUnauthorized` for a missing, wrong or expired token and
        `web.HTTPForbidden` for a token of another consultation.
        """
        ...


class SessionRecorder(Protocol):
    async def record(
        self, room_id: str, participant_id: str, event: SessionEvent, at: datetime
    ) -> None: ...


class NullRecorder:
    """A recorder that keeps nothing, for deployments and tests that do not need the events."""

    async def record(
        self, room_id: str, participant_id: str, event: SessionEvent, at: datetime
    ) -> None:
        return None


class AdmissionLedger(Protocol):
    async def was_admitted(self, room_id: str, participant_id: str) -> bool:
        """Whether the stored record says the participant is admitted (admitted, not removed
        since)."""
        ...


class NoLedger:
    """No record beyond the backplane's: admissions last as long as the backplane keeps them."""

    async def was_admitted(self, room_id: str, participant_id: str) -> bool:
        return False
