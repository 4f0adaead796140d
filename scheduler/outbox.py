"""Delivering the outbox: claim due mails under a lease, hand them to SMTP (or .eml files), record.

A sender claims a batch in one short transaction (status `sending`, its claim id, a lease),
sends outside any transaction, and records each outcome in its own transaction, checked against
its claim. A sender that dies mid-batch leaves `sending` rows whose lease runs out; the next run
takes them up again. So each row is sent once, except when a sender dies between the SMTP
server accepting a mail and recording that: then it is sent again after the lease (at least
once, never lost). The Message-ID is fixed when the mail is rendered, so a receiving server that
deduplicates sees the same message.

A reminder still waiting when its consultation has started (the service was down) is dropped,
not sent late. Failures are retried with exponential backoff (`retry_delay`) until
`settings.mail_max_attempts`; a permanent refusal (SMTP 5xx) gives up at once.

An address with a non-ASCII local part (RFC 6531) goes out with SMTPUTF8; to a server that
does not offer it, that mail is given up at once (`SmtpUtf8NotOffered`) and the rest of the
batch is sent. Other addresses travel as ASCII, a non-ASCII domain as its A-label.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.mail import envelope_address, needs_smtputf8
from service.domain.tokens import new_id
from service.http.logs import scrub
from service.settings import Settings
from service.storage import outbox as store
from service.storage.outbox import ClaimedMail

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
SMTP_TIMEOUT_SECONDS = 30.0


class SmtpUtf8NotOffered(aiosmtplib.SMTPException):
    """The recipient's address needs SMTPUTF8 and the server does not offer it."""


Deliver = Callable[[ClaimedMail], Awaitable[str | None]]
"""Sends one mail; returns the .eml path relative to the outbox folder when it wrote one."""


class Transport(Protocol):
    def session(self) -> AbstractAsyncContextManager[Deliver]:
        """A connection (or its equivalent) over which a batch is delivered."""
        ...


class SmtpTransport:
    """Delivery over SMTP with aiosmtplib: STARTTLS and login as configured, one connection
    per batch."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self._settings = settings
        self._envelope_sender = parseaddr(settings.mail_from)[1]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Deliver]:
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
        async with client:

            async def deliver(mail: ClaimedMail) -> str | None:
                recipient = envelope_address(mail.recipient)
                if not needs_smtputf8(mail.recipient):
                    await client.sendmail(self._envelope_sender, [recipient], mail.message)
                    return None
                try:
                    await client.sendmail(
                        self._envelope_sender, [recipient], mail.message, mail_options=["SMTPUTF8"]
                    )
                except aiosmtplib.SMTPNotSupported as error:
                    raise SmtpUtf8NotOffered("the server does not offer SMTPUTF8") from error
                return None

            yield deliver


class EmlTransport:
    """Delivery into a folder, one `<consultation id>/<mail id>.eml` file per mail (demo setups
    without a mail server; the consultation page links to the files)."""

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Deliver]:
        async def deliver(mail: ClaimedMail) -> str | None:
            relative = eml_relative_path(mail.consultation_id, mail.id)
            await asyncio.to_thread(_write_atomically, self.outbox_dir / relative, mail.message)
            return relative

        yield deliver


def eml_relative_path(consultation_id: str, mail_id: int) -> str:
    return f"{consultation_id}/{mail_id}.eml"


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    os.replace(partial, path)


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return EmlTransport(settings.outbox_dir)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failed attempt, at most an hour."""
    return min(FIRST_RETRY * (1 << max(attempts - 1, 0)), LONGEST_RETRY)


def is_permanent(error: BaseException) -> bool:
    """Whether the server refused this mail for good (5xx, or no SMTPUTF8 for an address that
    needs it), so retrying cannot help."""
    if isinstance(error, SmtpUtf8NotOffered):
        return True
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # reminders whose consultation had already started


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    transport: Transport,
    *,
    batch_size: int = BATCH_SIZE,
) -> DeliveryReport:
    """Send every mail that is due now, batch by batch, and say what happened."""
    report = DeliveryReport()
    async with sessionmaker() as db, db.begin():
        report.dropped = await store.drop_late_reminders(db, clock.now())
    while True:
        claim = new_id()
        now = clock.now()
        async with sessionmaker() as db, db.begin():
            batch = await store.claim_due(
                db, now=now, lease_until=now + LEASE, claim=claim, limit=batch_size
            )
        if not batch:
            return report
        await _deliver_batch(sessionmaker, clock, settings, transport, batch, claim, report)
        if len(batch) < batch_size:
            return report


async def _deliver_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    transport: Transport,
    batch: list[ClaimedMail],
    claim: str,
    report: DeliveryReport,
) -> None:
    pending = list(batch)
    try:
        async with transport.session() as deliver:
            while pending:
                mail = pending[0]
                try:
                    eml_path = await deliver(mail)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
                        raise  # the connection is gone: the rest of the batch waits too
                    pending.pop(0)
                    await _record_failure(
                        sessionmaker,
                        clock,
                        settings,
                        mail,
                        claim,
                        error,
                        report,
                        permanent=is_permanent(error),
                    )
                    continue
                pending.pop(0)
                async with sessionmaker() as db, db.begin():
                    if await store.mark_sent(db, mail.id, claim, at=clock.now(), eml_path=eml_path):
                        report.sent += 1
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        # Could not connect, log in or keep the connection: nothing left in this batch was
        # sent. Always worth retrying, even a refused login: the mails are not at fault.
        # The reason scrubbed: an SMTP reply may quote an address.
        log.warning(
            "mail delivery failed for %d mails: %s: %s",
            len(pending),
            type(error).__name__,
            scrub(str(error)),
        )
        for mail in pending:
            await _record_failure(
                sessionmaker, clock, settings, mail, claim, error, report, permanent=False
            )


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    mail: ClaimedMail,
    claim: str,
    error: BaseException,
    report: DeliveryReport,
    *,
    permanent: bool,
) -> None:
    give_up = permanent or mail.attempts >= settings.mail_max_attempts
    retry_at = None if give_up else clock.now() + retry_delay(mail.attempts)
    # The class name only: SMTP replies may quote the recipient's address.
    reason = type(error).__name__
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reason = f"{reason} {error.code}"
    async with sessionmaker() as db, db.begin():
        await store.mark_failed(db, mail.id, claim, retry_at=retry_at, error=reason)
    if give_up:
        report.failed += 1
        log.error("gave up mail %d after %d attempts (%s)", mail.id, mail.attempts, reason)
    else:
        report.retried += 1
