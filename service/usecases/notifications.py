"""What each participant is told when a consultation changes, written into the outbox.

A change's mails are planned, rendered and written in three steps (`plan_*`, `render`,
`write`). `service.usecases.booking` plans them in a read-only draft of the change, renders them
with no transaction open (rendering about 15 mails takes some 180 ms, and SQLite's write lock
would stop every other writer meanwhile), then in the change's own transaction plans again and
writes the rendered mails only if the plan is unchanged (else it drafts again). So a change is
never committed without its mails, a mail never leaves for a change that was rolled back, and
the write lock is held only for statements. Delivery happens later (`scheduler/outbox.py`);
nothing here talks to a mail server.

When mails go out:

- **Confirmation** (accept): a calendar REQUEST to every participant with an e-mail address
  (GP, specialist, patient, relatives, interpreter, municipal staff), plus the reminders.
- **A new time for a consultation that was confirmed before** (the GP reschedules it, or the
  hospital side proposes yet another time): a REQUEST update to everyone, with new reminders,
  so no one keeps the old time in their calendar. While a request has never been confirmed it
  is a matter between the two clinicians, who follow it in the service; no one is mailed.
- **Cancellation**: a CANCEL to everyone who got an invitation, and always to the GP and the
  specialist (so a request cancelled before confirmation still reaches the clinicians).
- **Survey** (after a completed consultation; `service.usecases.survey.invite_finished` decides
when):
  each invited participant's personal survey link, in their language (`queue_survey_mails`).

Every REQUEST mints (when rendered) a new personal join link for each participant who joins
without logging in (the old link stops working; see `service.domain.join`), and renders the
reminders with that same link right away, with `not_before` set to when they are due; moving
the consultation replaces them and cancelling it deletes them. Mails are rendered with the
consultation's `revision` as the change leaves it as the iCalendar SEQUENCE, and one UID per
consultation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.invites import InviteAttendee, InviteEvent, build_invite
from service.domain.join import clinician_join_url, guest_join_url, uses_join_token
from service.domain.mail import MailKind, build_invite_email, build_survey_email, message_bytes
from service.domain.roles import ACCOUNT_PARTICIPANTS
from service.domain.schemas import printable_name
from service.domain.tokens import hash_token, new_token
from service.settings import Settings
from service.storage import consultations
from service.storage import outbox as store
from service.storage.models import Consultation, OutboxMail, Participant, User


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person who can be mailed about a consultation: a participant, or the specialist."""

    participant: Participant | None
    user_id: int | None
    attendee: InviteAttendee

    @property
    def address(self) -> str:
        return self.attendee.email.lower()


def invite_uid(consultation_id: str) -> str:
    return f"{consultation_id}@samkons"


def recipients_of(c: Consultation, specialist: User | None) -> list[Recipient]:
    """Everyone taking part who has an e-mail address, in a stable order.

    The specialist is a participant by virtue of `specialist_id` (booking does not store a
    participant row for them), so their account supplies the name and address.
    """
    return recipients_among(c.participants, specialist)


def recipients_among(
    participants: Sequence[Participant], specialist: User | None
) -> list[Recipient]:
    """Those of the participants who have an address, and the specialist's account unless a
    participant row already stands for them."""
    result = [
        Recipient(p, p.user_id, InviteAttendee(printable_name(p.name), p.email, p.role, p.language))
        for p in participants
        if p.email
    ]
    has_specialist_row = any(p.role == "specialist" for p in participants)
    if specialist is not None and not has_specialist_row:
        result.append(
            Recipient(
                None,
                specialist.id,
                InviteAttendee(
                    printable_name(specialist.name),
                    specialist.email,
                    "specialist",
                    specialist.language,
                ),
            )
        )
    return result


def invite_event(
    c: Consultation, organizer: User, recipients: list[Recipient], settings: Settings
) -> InviteEvent:
    return InviteEvent(
        uid=invite_uid(c.id),
        sequence=c.revision,
        start=c.starts_at,
        end=c.ends_at,
        organizer_email=parseaddr(settings.mail_from)[1],
        organizer_name=printable_name(organizer.name),
        attendees=tuple(r.attendee for r in recipients),
        cancelled=c.status == "cancelled",
        tentative=c.status == "requested",
    )


@dataclass(frozen=True, slots=True)
class PlannedMail:
    """One mail to write: to whom, what kind, with which link, due when.

    `join_url` None means a new personal join link, minted when the mails are rendered.
    """

    recipient: Recipient
    kind: MailKind
    join_url: str | None
    not_before: datetime

    def key(self) -> tuple[object, ...]:
        r = self.recipient
        participant_id = r.participant.id if r.participant else None
        return (participant_id, r.user_id, r.attendee, self.kind, self.join_url, self.not_before)


@dataclass(frozen=True, slots=True)
class MailPlan:
    """The mails a change sends, planned from the consultation as the change leaves it.

    `withdraw`: take back what has not left yet first; `clear_links`: every personal join link
    dies (a cancellation). An empty plan that withdraws nothing writes nothing.
    """

    consultation_id: str
    event: InviteEvent | None
    mails: tuple[PlannedMail, ...]
    withdraw: bool
    clear_links: bool = False

    def key(self) -> tuple[object, ...]:
        """Everything the rendered bytes depend on: equal keys, identical mails."""
        return (
            self.consultation_id,
            self.event,
            tuple(m.key() for m in self.mails),
            self.withdraw,
            self.clear_links,
        )


@dataclass(frozen=True, slots=True)
class RenderedMails:
    """A plan's mails as bytes, and the personal join tokens minted for them."""

    plan: MailPlan
    messages: tuple[bytes, ...]
    tokens: dict[str, str]  # participant id -> the new join token its mails carry
    at: datetime


async def plan_confirmed(
    db: AsyncSession, c: Consultation, settings: Settings, now: datetime
) -> MailPlan:
    return await _plan_requests(db, c, settings, now)


async def plan_moved(
    db: AsyncSession, c: Consultation, settings: Settings, now: datetime
) -> MailPlan:
    if await store.ever_requested(db, c.id):
        return await _plan_requests(db, c, settings, now)
    return MailPlan(c.id, None, (), withdraw=False)


async def plan_cancelled(
    db: AsyncSession, c: Consultation, settings: Settings, now: datetime
) -> MailPlan:
    invited = await store.invited_addresses(db, c.id)
    organizer, specialist = await _clinicians(db, c)
    everyone = recipients_of(c, specialist)
    plans = tuple(
        # The old personal links are dead; the cancellation points at the service itself.
        PlannedMail(r, "cancel", _link_without_token(r, c, settings), now)
        for r in everyone
        if r.address in invited or r.attendee.role in ACCOUNT_PARTICIPANTS
    )
    event = invite_event(c, organizer, everyone, settings)
    return MailPlan(c.id, event, plans, withdraw=True, clear_links=True)


async def _plan_requests(
    db: AsyncSession, c: Consultation, settings: Settings, now: datetime
) -> MailPlan:
    invited = await store.invited_addresses(db, c.id)
    organizer, specialist = await _clinicians(db, c)
    everyone = recipients_of(c, specialist)
    # Moved back to a request (the GP rescheduled): everyone hears of the new time, marked as
    # not confirmed. The personal links stay as they are (they say the time is not confirmed
    # yet) and no reminders go out until the hospital confirms; then this runs again.
    confirmed = c.status != "requested"
    plans = []
    for r in everyone:
        # A confirmed time gets a new personal link for each guest (the old one stops working).
        url = None if confirmed and _uses_token(r) else _link_without_token(r, c, settings)
        plans.append(PlannedMail(r, "update" if r.address in invited else "invite", url, now))
        if confirmed:
            plans += [
                PlannedMail(r, "reminder", url, due)
                for due in reminder_times(c.starts_at, settings.reminder_offsets_minutes, now)
            ]
    event = invite_event(c, organizer, everyone, settings)
    return MailPlan(c.id, event, tuple(plans), withdraw=True)


async def render(plan: MailPlan, settings: Settings, now: datetime) -> RenderedMails:
    """Mint the plan's new join links and render its mails, in a worker thread.

    Rendering is pure CPU work (tens of milliseconds a mail): the thread keeps the event loop,
    and with it every open video call's signalling, responsive meanwhile. Call it outside any
    transaction, so no database lock is held while it runs.
    """
    tokens = {
        m.recipient.participant.id: new_token()
        for m in plan.mails
        if m.join_url is None and m.recipient.participant is not None
    }
    if plan.event is None or not plan.mails:
        return RenderedMails(plan, (), tokens, now)
    event = plan.event
    urls = [
        m.join_url
        if m.join_url is not None
        else guest_join_url(settings.base_url, tokens[_participant_id(m)])
        for m in plan.mails
    ]
    messages = await asyncio.to_thread(
        lambda: tuple(
            render_mail(m, url, event, settings, now)
            for m, url in zip(plan.mails, urls, strict=True)
        )
    )
    return RenderedMails(plan, messages, tokens, now)


def _participant_id(m: PlannedMail) -> str:
    assert m.recipient.participant is not None  # only participant rows join without an account
    return m.recipient.participant.id


async def write(db: AsyncSession, c: Consultation, rendered: RenderedMails) -> None:
    """Write rendered mails into the outbox in the change's own transaction: statements only,
    no rendering (so the write lock is held only for them)."""
    plan = rendered.plan
    if plan.withdraw:
        await store.withdraw_pending(db, c.id)
    participants = {p.id: p for p in c.participants}
    if plan.clear_links:
        for p in c.participants:
            p.token_hash = None
    for participant_id, token in rendered.tokens.items():
        participants[participant_id].token_hash = hash_token(token)
    store.add_mails(
        db,
        [
            OutboxMail(
                consultation_id=c.id,
                participant_id=m.recipient.participant.id if m.recipient.participant else None,
                recipient_role=m.recipient.attendee.role,
                recipient=m.recipient.attendee.email,
                kind=m.kind,
                revision=c.revision,
                message=message,
                status="pending",
                not_before=m.not_before,
                attempts=0,
                created_at=rendered.at,
            )
            for m, message in zip(plan.mails, rendered.messages, strict=True)
        ],
    )


async def consultation_cancelled(
    db: AsyncSession, c: Consultation, settings: Settings, now: datetime
) -> None:
    """Plan, render and write the cancellation mails inside the caller's transaction.

    For the sweeper that expires unanswered requests in batches: those reach the two
    clinicians only (a request was never sent to anyone else), so rendering here is short.
    """
    rendered = await render(await plan_cancelled(db, c, settings, now), settings, now)
    await write(db, c, rendered)


def render_mail(
    plan: PlannedMail, join_url: str, event: InviteEvent, settings: Settings, now: datetime
) -> bytes:
    """One planned mail as the bytes to send: the .ics inside for invites, updates and
    cancellations; reminders are dated when they are due."""
    ics: bytes | None = None
    method: Literal["REQUEST", "CANCEL"] | None = None
    if plan.kind != "reminder":
        method = "CANCEL" if plan.kind == "cancel" else "REQUEST"
        ics = build_invite(
            event,
            recipient=plan.recipient.attendee,
            join_url=join_url,
            method=method,
            dtstamp=now,
            tz_name=settings.timezone,
        )
    message: EmailMessage = build_invite_email(
        sender=settings.mail_from,
        recipient=plan.recipient.attendee,
        event=event,
        ics=ics,
        method=method,
        join_url=join_url,
        kind=plan.kind,
        base_url=settings.base_url,
        sent_at=plan.not_before,
        tz_name=settings.timezone,
    )
    return message_bytes(message)


SURVEY_PATH = "/sporjeskjema/"


def survey_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{SURVEY_PATH}{token}"


async def queue_survey_mails(
    db: AsyncSession,
    c: Consultation,
    invitations: list[tuple[Recipient, str]],
    settings: Settings,
    now: datetime,
) -> None:
    """Write one `survey` mail per invitation, in the caller's transaction.

    The token is only ever in the message: `create_survey_invitations` stored its hash.
    """

    addressed = [(r, r.attendee, token) for r, token in invitations]

    def render() -> list[bytes]:
        return [
            message_bytes(
                build_survey_email(
                    sender=settings.mail_from,
                    recipient=attendee,
                    consultation_start=c.starts_at,
                    survey_url=survey_url(settings.base_url, token),
                    sent_at=now,
                    tz_name=settings.timezone,
                )
            )
            for _, attendee, token in addressed
        ]

    messages = await asyncio.to_thread(render)
    store.add_mails(
        db,
        [
            OutboxMail(
                consultation_id=c.id,
                participant_id=r.participant.id if r.participant else None,
                recipient_role=attendee.role,
                recipient=attendee.email,
                kind="survey",
                revision=c.revision,
                message=message,
                status="pending",
                not_before=now,
                attempts=0,
                created_at=now,
            )
            for (r, attendee, _), message in zip(addressed, messages, strict=True)
        ],
    )


def reminder_times(
    starts_at: datetime, offsets_minutes: list[int], now: datetime
) -> list[datetime]:
    """When reminders are due: each offset before the start, leaving out those already past."""
    times = {starts_at - timedelta(minutes=m) for m in offsets_minutes if m > 0}
    return sorted(t for t in times if t > now)


def _uses_token(r: Recipient) -> bool:
    return uses_join_token(r.attendee.role, r.user_id)


def _link_without_token(r: Recipient, c: Consultation, settings: Settings) -> str:
    """Where a mail without a (new) personal link points: a clinician's consultation page, or
    the service itself for a guest."""
    return settings.base_url if _uses_token(r) else clinician_join_url(settings.base_url, c.id)


async def _clinicians(db: AsyncSession, c: Consultation) -> tuple[User, User | None]:
    organizer = await consultations.user(db, c.booked_by_id)
    assert organizer is not None  # a foreign key
    specialist = await consultations.user(db, c.specialist_id) if c.specialist_id else None
    return organizer, specialist
