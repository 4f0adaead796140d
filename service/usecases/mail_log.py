"""What was mailed about a consultation, for the clinicians who may see it.

The consultation page lists every mail (sent, waiting, scheduled reminders, given up) with its
recipient and state; in a setup without a mail server each sent mail is an .eml file that the
page links to, so a demo user sees exactly what a participant would have received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import NotFound
from service.domain.mail_redaction import redact_personal_links
from service.settings import Settings
from service.storage import outbox as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation
from service.usecases import booking


@dataclass(frozen=True, slots=True)
class MailSummary:
    id: int
    kind: str  # invite, update, cancel, reminder
    status: str  # pending, sending, sent, failed, superseded
    recipient_role: str
    recipient_name: str | None
    recipient: str
    revision: int
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    eml_url: str | None


def eml_url(consultation_id: str, mail_id: int) -> str:
    return f"/samkonsultasjonar/{consultation_id}/e-post/{mail_id}.eml"


async def mails_of_consultation(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    consultation_id: str,
) -> list[MailSummary]:
    """Every mail about the consultation, oldest first; raises like `booking.read`."""
    c = await booking.read(sessionmaker, actor, clock, consultation_id)
    return await mails_for(sessionmaker, c)


async def mails_for(
    sessionmaker: async_sessionmaker[AsyncSession], c: Consultation
) -> list[MailSummary]:
    """The mails of a consultation the caller has already read (so authorised and audited)."""
    names = {p.id: p.name for p in c.participants}
    rows = await run_transaction(sessionmaker, store.mails_of, c.id)
    return [
        MailSummary(
            id=m.id,
            kind=m.kind,
            status=m.status,
            recipient_role=m.recipient_role,
            recipient_name=names.get(m.participant_id) if m.participant_id else None,
            recipient=m.recipient,
            revision=m.revision,
            due_at=m.not_before,
            sent_at=m.sent_at,
            attempts=m.attempts,
            eml_url=eml_url(c.id, m.id) if m.eml_path else None,
        )
        for m in rows
    ]


async def eml_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    mail_id: int,
    link_placeholder: str,
) -> bytes:
    """A sent mail as a clinician who may see the consultation reads it.

    Only guests get personal links, and no guest reads this, so every personal link in it is
    replaced by `link_placeholder`: the copy must not let its reader join as the recipient.
    """
    c = await booking.read(sessionmaker, actor, clock, consultation_id)
    mail = await run_transaction(sessionmaker, store.mail_of, c.id, mail_id)
    if mail is None or mail.eml_path is None:
        raise NotFound("No such e-mail.")
    root = settings.outbox_dir.resolve()
    path = (root / mail.eml_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("No such e-mail.")
    return redact_personal_links(path.read_bytes(), link_placeholder)
