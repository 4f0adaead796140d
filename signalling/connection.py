"""One participant's socket on this hub instance, and how frames are written to it.

Every outgoing frame goes through a bounded queue per socket (`Connection.outbox`) with its own
writer task (`Connection.write_frames`), so one slow browser never holds up a room; the writer
sends whatever has queued up meanwhile in one write to the socket, as WebSocket text frames
encoded here (`text_frames`). A roster is state, not an event: a socket holds at most one
unsent roster, and a newer one takes its place in the queue (`send_roster`), so a burst of
joins on one link costs each member one frame, not one per join. The close codes the hub ends a
socket with live here too.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from signalling.codec import (
    Admitted,
    Ended,
    Error,
    Joined,
    Participants,
    Pong,
    RelayedFrame,
    Removed,
    encode,
)
from signalling.identity import Identity
from signalling.mailbox import Mailbox
from signalling.ratelimit import TokenBucket

CLOSE_REPLACED = 4001
CLOSE_REMOVED = 4002
CLOSE_ABUSE = 4003
CLOSE_JOIN_TIMEOUT = 4004
CLOSE_ENDED = 4005
CLOSE_FLOOD = 4029

EndReason = Literal["leave", "replaced", "removed", "ended"]
# A writer sends what has queued up in writes of about this size: enough for a whole burst of
# signals, and about asyncio's high-water mark, past which the writer waits for the socket.
WRITE_BATCH_CHARS = 64 * 1024
_TEXT_FIN = 0x81  # FIN bit and opcode 1 (text), RFC 6455 section 5.2
_pack_length_16 = struct.Struct("!BBH").pack
_pack_length_64 = struct.Struct("!BBQ").pack


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """The last item of a send queue: close the socket with this code once the rest is sent."""

    code: int
    reason: bytes


class _RosterSlot:
    """Where in a send queue the socket's newest unsent roster goes out."""

    __slots__ = ()


ROSTER_SLOT = _RosterSlot()
Outgoing = str | CloseFrame | _RosterSlot


@dataclass(eq=False)
class Connection:
    """A joined or joining socket: who it is, its send queue and how far it has got."""

    id: str
    identity: Identity
    ws: web.WebSocketResponse
    # The socket under `ws`, written to directly by `write_frames` (None if it was already lost).
    transport: asyncio.Transport | None
    stream: AbstractStreamWriter
    bucket: TokenBucket
    outbox: Mailbox[Outgoing]
    joined: bool = False
    # Set once the presence record is written, so a failure mid-join still removes it.
    present: bool = False
    told_admitted: bool = False
    closing: bool = False
    end_reason: EndReason | None = None
    refusals: int = 0
    # The newest roster not yet written; a ROSTER_SLOT in the outbox marks when it goes out.
    pending_roster: str | None = None

    @property
    def room_id(self) -> str:
        return self.identity.room_id

    @property
    def participant_id(self) -> str:
        return self.identity.participant_id

    def send(self, message: Error | Joined | Admitted | Removed | Ended | Pong) -> None:
        self._put(encode(message))

    def send_roster(self, roster: Participants) -> None:
        """Queue `roster`, or let it replace the roster still waiting in the queue."""
        if self.closing:
            return
        queued = self.pending_roster is not None
        self.pending_roster = encode(roster)
        if not queued and not self.outbox.put(ROSTER_SLOT):
            self.give_up()

    def send_relayed(self, frame: RelayedFrame) -> None:
        self._put(frame)

    def _put(self, frame: Outgoing) -> None:
        if self.closing:
            return
        if not self.outbox.put(frame):
            self.give_up()

    def give_up(self) -> None:
        """Drop a browser that stopped reading: its queue is full and its socket buffers too.

        A close frame would wait behind everything it does not read, and the room would show
        it present until the heartbeat noticed (20 s and more); cutting the connection ends its
        handler now, which takes it out of the room. Its tab reconnects if it is still alive.
        """
        self.closing = True
        self.outbox.clear()
        self.pending_roster = None
        if self.transport is not None:
            self.transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued have been sent."""
        if self.closing:
            return
        self.closing = True
        frame = CloseFrame(code, reason.encode())
        if not self.outbox.put(frame):
            # A reader too slow to drain its queue does not get the queued frames either.
            self.outbox.clear()
            self.pending_roster = None
            self.outbox.put(frame)

    async def write_frames(self) -> None:
        """Send queued frames until the close frame, each batch of them in one write."""
        while True:
            # No local variable keeps a sent frame alive while waiting for the next one: with
            # thousands of quiet sockets that added up to 3 KB a socket (the join's rosters).
            outcome = self._write_batch(await self.outbox.get())
            if outcome == "failed":
                return
            if isinstance(outcome, CloseFrame):
                await self.ws.close(code=outcome.code, message=outcome.reason)
                return
            try:
                # Waits only while the socket's buffer is above its high-water mark.
                await self.stream.drain()
            except (ConnectionError, RuntimeError):
                self.closing = True
                return

    def _write_batch(self, item: Outgoing) -> Literal["sent", "failed"] | CloseFrame:
        """Write `item` and what is queued behind it, up to the close frame if there is one."""
        batch: list[str] = []
        size = 0
        outbox = self.outbox
        # Take only as much as one write sends: what stays queued still counts against the
        # queue's bound, which is how a browser that stopped reading is noticed.
        while not isinstance(item, CloseFrame):
            if isinstance(item, _RosterSlot):
                text = self.pending_roster or ""
                self.pending_roster = None
            else:
                text = item
            if text:
                batch.append(text)
                size += len(text)
            if size >= WRITE_BATCH_CHARS or not outbox:
                break
            item = outbox.get_nowait()
        if batch and not self._write(batch):
            return "failed"
        return item if isinstance(item, CloseFrame) else "sent"

    def _write(self, texts: list[str]) -> bool:
        """Write `texts` as text frames in one go; False if the socket can take no more.

        aiohttp's `send_str` makes one system call per frame, which was the largest single cost
        of a relayed message (a burst of 8 signals queued for one browser took 8 calls; now 1).
        Frames are written as aiohttp's writer would write them: unmasked, uncompressed (the
        hub does not offer compression). aiohttp's own control frames (pings, close) are whole
        writes too, so they can only fall between these frames, never inside one.
        """
        transport = self.transport
        if self.ws.closed or transport is None or transport.is_closing():
            self.closing = True
            return False
        try:
            transport.write(text_frames(texts))
        except (ConnectionError, RuntimeError):
            self.closing = True
            return False
        return True


def text_frames(texts: list[str]) -> bytes:
    """`texts` as consecutive unfragmented WebSocket text frames from a server (RFC 6455 5.2)."""
    parts: list[bytes] = []
    for text in texts:
        payload = text.encode()
        length = len(payload)
        if length < 126:
            parts.append(bytes((_TEXT_FIN, length)))
        elif length < 65536:
            parts.append(_pack_length_16(_TEXT_FIN, 126, length))
        else:
            parts.append(_pack_length_64(_TEXT_FIN, 127, length))
        parts.append(payload)
    return b"".join(parts)
