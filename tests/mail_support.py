"""Test support for mail: a real SMTP server (aiosmtpd) on 127.0.0.1 and its `smtp` fixture
(registered in conftest.py), delivering the outbox, booking shortcuts, and readers for what
arrived (the calendar part, the join link, every decoded text)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.jobs import Jobs
from scheduler.outbox import DeliveryReport, transport_for
from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.models import OutboxMail
from tests.factories import Client, World, booking_body, login

JOIN_URL = re.compile(r"https?://[^\s<>\"]+/(?:bli-med|samkonsultasjonar)/[A-Za-z0-9_\-]+")


@dataclass
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage


@dataclass
class SmtpSink:
    """An SMTP server that keeps every message it accepts. Stopped, its port refuses connections."""

    port: int = field(default_factory=lambda: free_port())
    received: list[Received] = field(default_factory=list)
    server_options: dict[str, Any] = field(default_factory=dict)  # aiosmtpd.smtp.SMTP's
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    _controller: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(tuple(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, **self.server_options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def smtp_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_starttls": False}
    )


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A started SMTP sink, stopped after the test."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def mail_jobs(
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    settings: Settings,
    sink: SmtpSink | None = None,
) -> Jobs:
    """The scheduler's jobs, mailing over plain SMTP to `sink`, or as `settings` say without
    one (as .eml files into the outbox folder unless they name an SMTP server)."""
    configured = settings if sink is None else smtp_settings(settings, sink)
    return Jobs(db, clock, configured, transport_for(configured))


async def deliver(
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    settings: Settings,
    sink: SmtpSink | None = None,
) -> DeliveryReport:
    """One run of the outbox delivery job (see `mail_jobs` for where the mails go)."""
    return await mail_jobs(db, clock, settings, sink).deliver_outbox()


# --- booking shortcuts -----------------------------------------------------------------------

RELATIVE = {"name": "Dotter Ein", "email": "dotter@test.no", "language": "nb"}
INTERPRETER = {"name": "Tolk Tolkesen", "email": "tolk@test.no", "language": "en"}
NO_MAIL_STAFF = {"name": "Heime Sjukepleiar"}
EVERYONE_WITH_MAIL = ("gp@test.no", "spes@test.no", "p1@test.no", "dotter@test.no", "tolk@test.no")


async def book(client: Client, world: World, starts_at: str, **overrides: Any) -> str:
    gp = await login(client, "gp")
    body = booking_body(
        world,
        starts_at,
        relatives=[RELATIVE],
        interpreter=INTERPRETER,
        municipal_staff=[NO_MAIL_STAFF],
    )
    body.update(overrides)
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    return cid


async def act(client: Client, who: str, cid: str, action: str, body: Any = None) -> Any:
    headers = await login(client, who)
    resp = await client.post(
        f"/api/v1/consultations/{cid}/{action}", json=body or {}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def book_confirmed(client: Client, world: World, starts_at: str, **overrides: Any) -> str:
    cid = await book(client, world, starts_at, **overrides)
    await act(client, "specialist", cid, "accept")
    return cid


# --- reading what was sent -------------------------------------------------------------------


def calendar_part(message: EmailMessage) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no text/calendar part")


def attachment(message: EmailMessage) -> bytes:
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload
    raise AssertionError("no attachment")


def decoded_text(message: EmailMessage) -> str:
    """Headers and every part decoded, so a check for a word sees through base64."""
    texts = [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        texts += [f"{k}: {v}" for k, v in part.items()]
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(texts)


def join_url_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = JOIN_URL.search(body.get_content())
    assert found is not None, "no join link in the mail"
    return found.group(0)


def parse_raw(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def outbox_rows(db: async_sessionmaker[AsyncSession], cid: str) -> list[OutboxMail]:
    async with db() as s:
        return list(
            (
                await s.scalars(
                    select(OutboxMail)
                    .where(OutboxMail.consultation_id == cid)
                    .order_by(OutboxMail.id)
                )
            ).all()
        )
