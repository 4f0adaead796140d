"""Erasing personal data once it is no longer needed, keeping the anonymous facts.

A consultation that ended more than `settings.retention_days` ago loses everything that says
who took part or why: participants' names, addresses, phone numbers, postal codes and join
tokens, the purpose, the link to the patient, its mails (outbox rows and .eml files, survey
links included), the free text of its survey answers and who gave them, and its held times
(bookings). What remains is what the evaluation counts: kind, status, times (planned and
actual), municipality number, patient group and location, hospital and department, the
clinicians' accounts, each participant's role and language, and the survey answers without
their text. Patients that no remaining consultation refers to, and that were registered before
the cutoff, are deleted.

The audit log keeps its ids and roles (it holds no content); see docs/data-retention.md.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.settings import Settings
from service.storage import lifecycle as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation
from service.usecases.audit import audit

BATCH_SIZE = 100
ERASED_NAME = ""


@dataclass
class ErasedCounts:
    consultations: int = 0
    patients: int = 0


def erase_personal_data(c: Consultation, now: datetime) -> None:
    """Blank what identifies people in a consultation (participants must be loaded)."""
    c.purpose = None
    c.patient_id = None
    c.erased_at = now
    c.updated_at = now
    for p in c.participants:
        p.name = ERASED_NAME
        p.email = None
        p.phone = None
        p.postal_code = None
        p.token_hash = None


async def erase_expired(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> ErasedCounts:
    counts = ErasedCounts()
    now = clock.now()
    cutoff = now - timedelta(days=settings.retention_days)
    while True:

        async def batch(db: AsyncSession) -> list[str]:
            rows = await store.expired_unerased(db, ended_before=cutoff, limit=BATCH_SIZE)
            ids = [c.id for c in rows]
            for c in rows:
                erase_personal_data(c, now)
            if ids:
                await store.delete_mails_and_bookings(db, ids)
                await store.anonymise_surveys(db, ids)
                audit(db, at=now, actor=None, action="erase", consultation_ids=ids)
            return ids

        ids = await run_transaction(sessionmaker, batch)
        await asyncio.to_thread(_remove_mail_files, settings.outbox_dir, ids)
        counts.consultations += len(ids)
        if len(ids) < BATCH_SIZE:
            break
    counts.patients = await run_transaction(
        sessionmaker, store.delete_forgotten_patients, created_before=cutoff
    )
    return counts


def _remove_mail_files(outbox_dir: Path, consultation_ids: list[str]) -> None:
    for consultation_id in consultation_ids:
        shutil.rmtree(outbox_dir / consultation_id, ignore_errors=True)
