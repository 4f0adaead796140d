"""Retention: personal data of consultations older than the retention period is erased; the
anonymous facts the evaluation counts are kept; patients no longer in any consultation go."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from scheduler.jobs import Jobs
from scheduler.outbox import EmlTransport
from service.domain.clock import FakeClock
from service.settings import Settings
from service.storage.models import (
    Booking,
    Consultation,
    ConsultationEvent,
    OutboxMail,
    Patient,
)
from service.usecases.retention import ErasedCounts
from tests.factories import Client, World, booking_body, build_world, login
from tests.mail_support import act, book_confirmed

OSLO = ZoneInfo("Europe/Oslo")
Db = async_sessionmaker[AsyncSession]


def jobs(db: Db, clock: FakeClock, settings: Settings) -> Jobs:
    return Jobs(db, clock, settings, EmlTransport(settings.outbox_dir))


async def load(db: Db, cid: str) -> Consultation:
    async with db() as s:
        c = await s.scalar(
            select(Consultation)
            .where(Consultation.id == cid)
            .options(selectinload(Consultation.participants))
        )
    assert c is not None
    return c


async def count(db: Db, model: type, *where: ColumnElement[bool]) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def book_for_patient2(client: Client, world: World, starts_at: str) -> str:
    gp = await login(client, "gp")
    body = booking_body(world, starts_at, patient_id=world.patient2)
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    return cid


async def test_old_consultations_lose_personal_data_and_keep_the_facts(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    old = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    await jobs(db, clock, settings).deliver_outbox()
    mail_folder = settings.outbox_dir / old
    assert any(mail_folder.glob("*.eml"))
    before = await load(db, old)
    history_before = await count(db, ConsultationEvent, ConsultationEvent.consultation_id == old)

    # A year and a few days on, patient 2 has a consultation coming up.
    clock.set(datetime(2027, 1, 11, 9, 0, tzinfo=OSLO))
    recent = await book_for_patient2(client, world, "2027-01-13T10:00:00+01:00")
    await act(client, "specialist", recent, "accept")

    counts = await jobs(db, clock, settings).erase_expired()

    # Patient 1 was only in the old consultation, patient 3 in none since being registered.
    assert counts == ErasedCounts(consultations=1, patients=2)
    after = await load(db, old)
    assert after.erased_at == clock.now()
    assert after.purpose is None
    assert after.patient_id is None
    for p in after.participants:
        assert (p.name, p.email, p.phone, p.postal_code, p.token_hash) == (
            "",
            None,
            None,
            None,
            None,
        )
    # The facts statistics need are all still there.
    kept = (
        "kind",
        "status",
        "starts_at",
        "ends_at",
        "municipality_number",
        "patient_group",
        "patient_location",
        "patient_present",
        "hospital_id",
        "department_id",
        "gp_id",
        "specialist_id",
        "revision",
        "created_at",
    )
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert after.municipality_number == "4631"
    assert sorted(p.role for p in after.participants) == sorted(p.role for p in before.participants)
    assert await count(db, ConsultationEvent, ConsultationEvent.consultation_id == old) == (
        history_before
    )
    # Mails (addresses, names, links) and held times are gone, files included.
    assert await count(db, OutboxMail, OutboxMail.consultation_id == old) == 0
    assert await count(db, Booking, Booking.consultation_id == old) == 0
    assert not mail_folder.exists()
    assert await count(db, Patient, Patient.id == world.patient) == 0
    assert await count(db, Patient, Patient.id == world.other_office_patient) == 0
    # Patient 2 has a recent consultation and stays.
    assert await count(db, Patient, Patient.id == world.patient2) == 1

    fresh = await load(db, recent)
    assert fresh.erased_at is None
    assert fresh.purpose == "Oppfølging etter innlegging"
    assert any(p.email for p in fresh.participants)
    assert await count(db, OutboxMail, OutboxMail.consultation_id == recent) > 0

    # Running again finds nothing more to do.
    assert await jobs(db, clock, settings).erase_expired() == ErasedCounts()


async def test_nothing_is_erased_within_the_retention_period(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, "2026-01-07T10:00:00+01:00")
    clock.set(datetime(2026, 1, 7, 10, 30, tzinfo=OSLO) + timedelta(days=364))
    # Patients 2 and 3 were registered long ago and are in no consultation; patient 1 is.
    assert await jobs(db, clock, settings).erase_expired() == ErasedCounts(patients=2)
    kept = await load(db, cid)
    assert (kept.purpose, kept.patient_id) == ("Oppfølging etter innlegging", world.patient)
    assert await count(db, Patient, Patient.id == world.patient) == 1
    short = settings.model_copy(update={"retention_days": 30})
    assert (await jobs(db, clock, short).erase_expired()).consultations == 1
