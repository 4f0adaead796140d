"""Calendars outside samkons: a clinician's subscribable feed, and one consultation's .ics.

A clinician creates a feed and gets a secret URL (`/kalender/{token}.ics`, offered as webcal://)
that their calendar program polls without logging in; only the token's SHA-256 is stored on the
account, so the URL is shown once. Creating a new feed replaces the old URL; revoking makes it
answer 404 at once. A feed carries times and the link to the consultation's page (which needs a
login), never names, purpose or patient group (see `service.domain.invites.build_feed`), so it is
not
an audited read of a consultation.

Any clinician who may see a consultation can download its .ics to put it in a calendar by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import NotAllowed, NotFound
from service.domain.i18n import load_translations
from service.domain.invites import InviteEvent, build_feed, summary_in
from service.domain.join import clinician_join_url
from service.domain.roles import CLINICIANS as CLINICIAN_ROLES
from service.domain.tokens import hash_token, new_token
from service.settings import Settings
from service.storage import calendar as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation, User
from service.usecases import booking
from service.usecases.notifications import invite_uid

# Consultations that ended longer ago than this drop out of the feed.
FEED_HISTORY = timedelta(days=30)
# A request not yet confirmed is not in anyone's calendar; everything from confirmation is.
FEED_STATUSES = ("confirmed", "in_progress", "completed", "no_show", "cancelled")


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/kalender/{token}.ics"


def webcal_url(url: str) -> str:
    """The same URL with the webcal scheme, which makes browsers hand it to the calendar."""
    scheme, _, rest = url.partition("://")
    return f"webcal://{rest}" if scheme in ("http", "https") else url


def _require_clinician(actor: Actor) -> None:
    if actor.role not in CLINICIAN_ROLES:
        raise NotAllowed("Only clinicians have a calendar feed.")


async def create_feed(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor) -> str:
    """A new secret feed token for the actor, replacing any earlier one. Shown only once."""
    _require_clinician(actor)
    token = new_token()
    await run_transaction(
        sessionmaker, store.set_calendar_token_hash, actor.user_id, hash_token(token)
    )
    return token


async def revoke_feed(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor) -> None:
    _require_clinician(actor)
    await run_transaction(sessionmaker, store.set_calendar_token_hash, actor.user_id, None)


async def has_feed(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor) -> bool:
    found = await run_transaction(sessionmaker, store.calendar_token_hash_of, actor.user_id)
    return found is not None


async def feed_for_token(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, token: str
) -> bytes:
    now = clock.now()

    async def work(db: AsyncSession) -> tuple[User, list[Consultation]]:
        user = await store.user_by_calendar_token_hash(db, hash_token(token))
        if user is None or user.role not in CLINICIAN_ROLES:
            raise NotFound("No such calendar.")
        rows = await store.consultations_for_feed(
            db, user, ending_after=now - FEED_HISTORY, statuses=FEED_STATUSES
        )
        return user, rows

    user, rows = await run_transaction(sessionmaker, work)
    language = user.language
    return build_feed(
        [(calendar_event(c, settings), clinician_join_url(settings.base_url, c.id)) for c in rows],
        name=load_translations(language).gettext("Joint consultations"),
        dtstamp=now,
        language=language,
        tz_name=settings.timezone,
    )


async def consultation_ics(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
) -> tuple[bytes, str]:
    """One consultation as an .ics file for a clinician who may see it, and its file name."""
    c = await booking.read(sessionmaker, actor, clock, consultation_id)
    ics = build_feed(
        [(calendar_event(c, settings), clinician_join_url(settings.base_url, c.id))],
        name=summary_in(actor.language),
        dtstamp=clock.now(),
        language=actor.language,
        tz_name=settings.timezone,
    )
    return ics, ics_filename(c.starts_at, settings.tz)


def ics_filename(starts_at: datetime, tz: ZoneInfo) -> str:
    return f"samkonsultasjon-{starts_at.astimezone(tz):%Y-%m-%d-%H%M}.ics"


def calendar_event(c: Consultation, settings: Settings) -> InviteEvent:
    """The consultation as a calendar entry without attendees (feeds and downloads)."""
    return InviteEvent(
        uid=invite_uid(c.id),
        sequence=c.revision,
        start=c.starts_at,
        end=c.ends_at,
        organizer_email=parseaddr(settings.mail_from)[1],
        organizer_name=summary_in("nn"),
        attendees=(),
        cancelled=c.status == "cancelled",
        # As in the mails: a time the hospital has not confirmed is in calendars as tentative.
        tentative=c.status == "requested",
    )
