"""The survey after a consultation: invitations with a secret link, and one answer per link.

Owns the rules: only a completed consultation is surveyed; each participant with an e-mail
address gets one link (256 random bits, stored only as a SHA-256); a link takes one answer; and
the answer to "would the patient otherwise have travelled?" corrects the booking's assumption on
the consultation (the patient's own answer first, then a relative's, the GP's, the
specialist's). Sending the links is the scheduler's work: `invite_finished` invites everyone of
each consultation completed `settings.survey_delay_minutes` ago and queues their mails in the
same transaction, so an invitation never exists without its mail, nor a mail without its
invitation.

Free text is personal data: it is stored for the retention period and never logged or shown to
evaluators, who see only how many answers had any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.errors import DomainError, NotFound
from service.domain.schemas import SurveyAnswerInput, YesNoUnknown
from service.domain.tokens import hash_token, new_token
from service.settings import Settings
from service.storage import surveys as store
from service.storage.engine import run_transaction
from service.storage.models import Survey
from service.usecases.notifications import Recipient, queue_survey_mails, recipients_among

MAX_TOKEN_LENGTH = 100
BATCH_SIZE = 50


class SurveyAnswered(DomainError):
    status = 410
    title = "Already answered"
    type_slug = "survey-answered"


async def create_survey_invitations(
    db: AsyncSession, consultation_id: str, now: datetime
) -> list[tuple[Recipient, str]]:
    """Create a survey link for each participant not yet invited; returns them with the token.

    The participants are those with an e-mail address and the specialist, who takes part
    through their account.

    Call inside the caller's transaction and commit once the messages are queued: the token is
    returned only here and is not recoverable later. A consultation that is not completed gets
    no survey (an empty list), so a scheduler may call this for every consultation that ended.
    """
    consultation = await store.consultation(db, consultation_id)
    if consultation is None or consultation.status != "completed":
        return []
    invitees = recipients_among(
        await store.uninvited_participants(db, consultation_id),
        await store.uninvited_specialist(db, consultation),
    )
    invitations = []
    for invitee in invitees:
        token = new_token()
        db.add(
            Survey(
                consultation_id=consultation_id,
                participant_id=invitee.participant.id if invitee.participant else None,
                # A participant's survey is theirs through the participant row alone.
                user_id=None if invitee.participant else invitee.user_id,
                role=invitee.attendee.role,
                language=invitee.attendee.language,
                token_hash=hash_token(token),
                created_at=now,
            )
        )
        invitations.append((invitee, token))
    await db.flush()
    return invitations


async def invite_finished(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    *,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Invite the participants of consultations that ended long enough ago; returns how many.

    Each batch is one transaction: the consultations are locked (SKIP LOCKED, so a second
    scheduler instance takes others), the invitations stored and their mails queued. Cancelled
    and no-show consultations are never surveyed.
    """
    invited = 0
    while True:
        now = clock.now()

        async def batch(db: AsyncSession, now: datetime) -> tuple[int, int]:
            due = await store.due_for_survey(
                db,
                ended_before=now - timedelta(minutes=settings.survey_delay_minutes),
                ended_after=now - timedelta(days=settings.survey_within_days),
                limit=batch_size,
            )
            count = 0
            for consultation in due:
                invitations = await create_survey_invitations(db, consultation.id, now)
                await queue_survey_mails(db, consultation, invitations, settings, now)
                count += len(invitations)
            return len(due), count

        surveyed, count = await run_transaction(sessionmaker, batch, now)
        invited += count
        if surveyed < batch_size:
            return invited


@dataclass(frozen=True, slots=True)
class OpenSurvey:
    """What the survey page may show: the language and the consultation's date, nothing else."""

    language: str
    role: str
    consultation_starts_at: datetime


def _token_hash(token: str) -> str:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("No such survey.")
    return hash_token(token)


async def open_survey(sessionmaker: async_sessionmaker[AsyncSession], token: str) -> OpenSurvey:
    """The survey behind a link; NotFound for a wrong link, SurveyAnswered for a used one."""
    token_hash = _token_hash(token)
    found = await run_transaction(sessionmaker, store.by_token_hash, token_hash)
    if found is None:
        raise NotFound("No such survey.")
    survey, starts_at = found
    if survey.answered_at is not None:
        raise SurveyAnswered("This survey has been answered.")
    return OpenSurvey(survey.language, survey.role, starts_at)


def _yes_no(value: YesNoUnknown) -> bool | None:
    return {"yes": True, "no": False, "unknown": None}[value]


async def answer_survey(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    token: str,
    answer: SurveyAnswerInput,
) -> None:
    """Record the one answer a link takes, and correct the consultation's travel assumption."""
    token_hash = _token_hash(token)
    text = answer.free_text.strip() or None

    async def work(db: AsyncSession) -> None:
        found = await store.by_token_hash(db, token_hash)
        if found is None:
            raise NotFound("No such survey.")
        survey, _ = found
        recorded = await store.record_answer(
            db,
            token_hash,
            at=clock.now(),
            satisfaction=answer.satisfaction,
            would_travel=_yes_no(answer.would_travel),
            physical_visit_needed=_yes_no(answer.physical_visit_needed),
            free_text=text,
        )
        if not recorded:
            raise SurveyAnswered("This survey has been answered.")
        best = await store.best_travel_answer(db, survey.consultation_id)
        await store.set_confirmed_travel(db, survey.consultation_id, best)

    await run_transaction(sessionmaker, work)
