"""Survey mails from the scheduler: after a completed consultation has been over for the set
delay, each participant with an e-mail address gets one mail with a personal survey link, in
their language, over real SMTP (aiosmtpd); the link opens the survey and the answer corrects the
travel assumption. Never for cancelled or no-show consultations, never twice, not even with two
schedulers on one database; retention erases these mails like the others. Time moves by
advancing the fake clock."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.models import Consultation, OutboxMail, Survey
from service.usecases.survey import invite_finished
from tests.factories import Client, build_world, login
from tests.mail_support import (
    SmtpSink,
    act,
    book_confirmed,
    decoded_text,
    deliver,
    mail_jobs,
    outbox_rows,
)

OSLO = ZoneInfo("Europe/Oslo")
SLOT = "2026-01-07T10:00:00+01:00"  # Wednesday; the clock stands at Monday 09:00 Oslo
ENDS = datetime(2026, 1, 7, 10, 30, tzinfo=OSLO)
# The specialist takes part through their account (no participant row) and is surveyed through
# it; the municipal staff member has no address.
SURVEYED = {
    "gp@test.no": "nn",
    "spes@test.no": "nn",
    "p1@test.no": "nn",
    "dotter@test.no": "nb",
    "tolk@test.no": "en",
}
SUBJECT_START = {"nn": "Korleis gjekk", "nb": "Hvordan gikk", "en": "How did"}
SURVEY_URL = re.compile(r"https?://[^\s<>\"]+/sporjeskjema/[A-Za-z0-9_\-]+")
HEALTH_WORDS = ("Oppfølging etter innlegging", "frail", "skrøpeleg", "skrøpelig")

OWN_LOGGERS = {"service", "scheduler", "samkons", "web", "signalling", "aiohttp"}

Db = async_sessionmaker[AsyncSession]


async def take_place(
    db: Db, clock: FakeClock, settings: Settings, sink: SmtpSink, cid: str
) -> None:
    """The call ran (someone joined: in progress), and the sweep completes it after its end."""
    async with db() as s, s.begin():
        await s.execute(
            update(Consultation).where(Consultation.id == cid).values(status="in_progress")
        )
    clock.set(ENDS + timedelta(minutes=settings.sweep_grace_minutes))
    await mail_jobs(db, clock, settings, sink).close_finished()
    async with db() as s:
        assert (await s.get(Consultation, cid)).status == "completed"  # type: ignore[union-attr]


def survey_mails(sink: SmtpSink) -> list[tuple[str, str]]:
    """(recipient, subject) of each survey mail received."""
    return [
        (address, str(r.message["Subject"]))
        for r in sink.received
        if str(r.message["Subject"]).startswith(tuple(SUBJECT_START.values()))
        for address in r.recipients
    ]


def survey_link(sink: SmtpSink, address: str) -> str:
    (message,) = sink.to(address)
    body = message.get_body(("plain",))
    assert body is not None
    found = SURVEY_URL.search(body.get_content())
    assert found is not None, "no survey link in the mail"
    return found.group(0)


async def completed_and_invited(
    client: Client, db: Db, clock: FakeClock, settings: Settings, smtp: SmtpSink
) -> str:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    smtp.received.clear()  # the invitations
    await take_place(db, clock, settings, smtp, cid)
    clock.set(ENDS + timedelta(minutes=settings.survey_delay_minutes))
    assert await mail_jobs(db, clock, settings, smtp).send_surveys() == len(SURVEYED)
    assert (await deliver(db, clock, settings, smtp)).sent == len(SURVEYED)
    return cid


async def test_each_participant_with_an_address_gets_one_survey_mail_after_the_delay(
    client: Client,
    db: Db,
    settings: Settings,
    clock: FakeClock,
    smtp: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the service's own loggers, at every level
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await deliver(db, clock, settings, smtp)
    smtp.received.clear()
    await take_place(db, clock, settings, smtp, cid)
    run = mail_jobs(db, clock, settings, smtp)

    assert settings.survey_delay_minutes == 120  # the default
    clock.set(ENDS + timedelta(minutes=119))
    assert await run.send_surveys() == 0
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    clock.set(ENDS + timedelta(minutes=120))
    assert await run.send_surveys() == len(SURVEYED)
    assert (await deliver(db, clock, settings, smtp)).sent == len(SURVEYED)

    received = survey_mails(smtp)
    assert Counter(address for address, _ in received) == Counter(list(SURVEYED))
    for address, subject in received:
        assert subject.startswith(SUBJECT_START[SURVEYED[address]])
        assert "onsdag 7. januar 2026" in subject or "Wednesday 7 January 2026" in subject
    links = {address: survey_link(smtp, address) for address in SURVEYED}
    assert len(set(links.values())) == len(SURVEYED)
    for address in SURVEYED:
        (message,) = smtp.to(address)
        assert message["Content-Language"] == SURVEYED[address]
        assert message["Auto-Submitted"] == "auto-generated"
        text = decoded_text(message)
        for word in HEALTH_WORDS:
            assert word not in text

    # Later runs find nobody left to invite and nothing left to send.
    clock.advance(timedelta(hours=5))
    assert await run.send_surveys() == 0
    assert (await deliver(db, clock, settings, smtp)).sent == 0
    assert len(survey_mails(smtp)) == len(SURVEYED)
    rows = [r for r in await outbox_rows(db, cid) if r.kind == "survey"]
    assert {(r.recipient, r.status, r.message) for r in rows} == {
        (address, "sent", None) for address in SURVEYED
    }
    # The tokens are in the mails only: not in any log line, not stored in the clear. (The
    # test's own SMTP server and database driver log what passes through them at DEBUG.)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] in OWN_LOGGERS)
    assert f"survey: {len(SURVEYED)} invited" in ours
    for link in links.values():
        assert link.rsplit("/", 1)[1] not in ours
    async with db() as s:
        hashes = set((await s.scalars(select(Survey.token_hash))).all())
    assert not hashes & {link.rsplit("/", 1)[1] for link in links.values()}


async def test_the_link_from_the_mail_opens_the_survey_and_the_answer_corrects_travel(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    cid = await completed_and_invited(client, db, clock, settings, smtp)
    async with db() as s:
        assert (await s.get(Consultation, cid)).patient_travel_confirmed is None  # type: ignore[union-attr]

    path = survey_link(smtp, "p1@test.no").removeprefix(settings.base_url)
    page = await client.get(path)
    assert page.status == 200
    assert "Kor nøgd var du med samkonsultasjonen?" in await page.text()
    english = await client.get(survey_link(smtp, "tolk@test.no").removeprefix(settings.base_url))
    assert "How satisfied were you" in await english.text()

    form = {"satisfaction": "5", "would_travel": "no", "physical_visit_needed": "no"}
    answered = await client.post(path, data=form)
    assert answered.status == 200, await answered.text()
    async with db() as s:
        consultation = await s.get(Consultation, cid)
        survey = await s.scalar(
            select(Survey).where(Survey.consultation_id == cid, Survey.role == "patient")
        )
    # The booking assumed the patient would have travelled; the patient says not.
    assert consultation is not None and consultation.patient_travel_confirmed is False
    assert survey is not None and (survey.satisfaction, survey.would_travel) == (5, False)
    assert (await client.get(path)).status == 410  # one answer per link

    # The specialist, who has no participant row, answers through their own link too.
    specialist_path = survey_link(smtp, "spes@test.no").removeprefix(settings.base_url)
    answered = await client.post(specialist_path, data={"satisfaction": "4"})
    assert answered.status == 200, await answered.text()
    async with db() as s:
        by_specialist = await s.scalar(
            select(Survey).where(Survey.consultation_id == cid, Survey.role == "specialist")
        )
    assert by_specialist is not None and by_specialist.satisfaction == 4

    # The GP sees the survey mails in the consultation's mail list, named in their language.
    await login(client, "gp")
    mail_list = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    assert mail_list.count("<td>Spørjeskjema</td>") == len(SURVEYED)


async def test_no_survey_for_cancelled_or_no_show_consultations(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cancelled = await book_confirmed(client, world, SLOT)
    await act(client, "gp", cancelled, "cancel")
    no_show = await book_confirmed(client, world, SLOT)  # nobody joins
    run = mail_jobs(db, clock, settings, smtp)
    clock.set(ENDS + timedelta(minutes=settings.sweep_grace_minutes))
    await run.close_finished()
    async with db() as s:
        statuses = {cid: (await s.get(Consultation, cid)).status for cid in (cancelled, no_show)}  # type: ignore[union-attr]
    assert statuses == {cancelled: "cancelled", no_show: "no_show"}

    clock.set(ENDS + timedelta(days=1))
    assert await run.send_surveys() == 0
    await deliver(db, clock, settings, smtp)
    assert survey_mails(smtp) == []
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(Survey)) == 0


async def test_consultations_long_over_are_not_surveyed(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await take_place(db, clock, settings, smtp, cid)
    # The scheduler was down (or the service newly upgraded) for longer than the window.
    clock.set(ENDS + timedelta(days=settings.survey_within_days, minutes=1))
    assert await mail_jobs(db, clock, settings, smtp).send_surveys() == 0


async def test_two_schedulers_on_one_database_invite_each_participant_once(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cids = [
        await book_confirmed(client, world, SLOT),
        await book_confirmed(client, world, "2026-01-07T11:00:00+01:00"),
        await book_confirmed(client, world, "2026-01-07T13:00:00+01:00"),
    ]
    async with db() as s, s.begin():
        await s.execute(
            update(Consultation).where(Consultation.id.in_(cids)).values(status="completed")
        )
    clock.set(ENDS + timedelta(hours=6))
    engines = [make_engine(settings.database_url) for _ in range(2)]
    try:
        invited = await asyncio.gather(
            *(
                # One consultation per batch, so the two take turns locking them.
                invite_finished(make_sessionmaker(e), clock, settings, batch_size=1)
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()

    assert sum(invited) == 3 * len(SURVEYED)
    await deliver(db, clock, settings, smtp)
    assert Counter(address for address, _ in survey_mails(smtp)) == Counter(
        {address: 3 for address in SURVEYED}
    )
    async with db() as s:
        per_participant = (
            await s.execute(
                select(Survey.participant_id, Survey.user_id, func.count()).group_by(
                    Survey.consultation_id, Survey.participant_id, Survey.user_id
                )
            )
        ).all()
        mails = await s.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "survey")
        )
    assert len(per_participant) == 3 * len(SURVEYED)
    assert {n for _, _, n in per_participant} == {1}
    assert mails == 3 * len(SURVEYED)


async def test_retention_erases_survey_mails_and_free_text(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    cid = await completed_and_invited(client, db, clock, settings, smtp)
    path = survey_link(smtp, "p1@test.no").removeprefix(settings.base_url)
    text = "Takk til Kari på Haukeland"
    resp = await client.post(path, data={"satisfaction": "4", "free_text": text})
    assert resp.status == 200
    assert any(r.kind == "survey" for r in await outbox_rows(db, cid))

    clock.set(ENDS + timedelta(days=settings.retention_days + 1))
    await mail_jobs(db, clock, settings, smtp).erase_expired()

    assert await outbox_rows(db, cid) == []
    async with db() as s:
        survey = await s.scalar(
            select(Survey).where(Survey.consultation_id == cid, Survey.role == "patient")
        )
    # The anonymous answer stays for the evaluation; the text that may name people goes.
    assert survey is not None
    assert (survey.satisfaction, survey.has_free_text, survey.free_text) == (4, True, None)
    async with db() as s:
        specialist = await s.scalar(
            select(Survey).where(Survey.consultation_id == cid, Survey.role == "specialist")
        )
    # Nor does the answer say which specialist gave it any more.
    assert specialist is not None and specialist.user_id is None
