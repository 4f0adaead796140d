"""Cell-key perturbation (service/domain/statistics_cellkey.py): the perturbation table's
stated parameters hold row by row, small counts never show, the same records always publish the
same value, and every consultation and survey gets a random record key when it is created."""

from __future__ import annotations

import statistics as pystats
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain import statistics_cellkey as ck
from service.storage.models import Consultation
from tests.factories import World, build_world
from tests.test_statistics import seed


def test_every_row_of_the_table_has_the_stated_parameters() -> None:
    for row in range(1, ck.PTABLE_ROWS + 1):
        values = ck.perturbations(row)
        assert len(values) == ck.RECORD_KEYS
        assert sum(values) == 0, row  # unbiased: the mean perturbation is zero
        assert max(abs(p) for p in values) <= ck.MAX_PERTURBATION
        assert min(values) >= -row  # never a negative count
        if row >= ck.MAX_PERTURBATION:
            assert Counter(values) == Counter(ck.SHARES)  # the full row: exactly the shares
            assert pystats.pvariance(values) == ck.VARIANCE
    assert 1.5 < ck.VARIANCE < 1.55


def test_large_counts_reuse_rows_501_to_750_as_ons_does() -> None:
    assert ck.table_row(750) == 750
    assert ck.table_row(751) == 501
    assert ck.table_row(1000) == 750
    assert ck.table_row(1001) == 501
    assert ck.perturb(10_000, 77) - 10_000 == ck.perturbations(ck.table_row(10_000))[77]


def test_nothing_below_the_threshold_is_shown_and_empty_cells_are_zero() -> None:
    assert ck.publish(0, 0) == 0
    for count in range(1, 40):
        for key in range(ck.RECORD_KEYS):
            value = ck.publish(count, key)
            assert value == ck.SMALL or (isinstance(value, int) and value >= ck.THRESHOLD)
            if isinstance(value, int):
                assert abs(value - count) <= ck.MAX_PERTURBATION
    # One or two people are never more than four after perturbation: always "<5".
    assert {ck.publish(n, k) for n in (1, 2) for k in range(256)} == {ck.SMALL}


def test_the_published_value_depends_on_the_records_only() -> None:
    keys = [17, 201, 99, 3, 250, 64, 128]
    # The same records in any order, or their keys summed beyond 256, give the same value.
    assert ck.publish(len(keys), sum(keys)) == ck.publish(len(keys), sum(reversed(keys)) % 256)
    # Different key sums for the same count perturb differently somewhere.
    assert len({ck.perturb(20, k) for k in range(256)}) == 2 * ck.MAX_PERTURBATION + 1


def test_record_keys_are_uniform_on_0_to_255() -> None:
    keys = Counter(ck.new_record_key() for _ in range(25_600))
    assert set(keys) == set(range(256))
    assert max(keys.values()) < 200  # about 100 each


async def test_every_consultation_and_survey_gets_a_random_record_key(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world: World = await build_world(db)
    seeded = await seed(db, world, n=80)
    async with db() as s:
        stored = (await s.execute(select(Consultation.record_key))).scalars().all()
    assert len(stored) == 80
    assert len(set(stored)) > 40 and all(0 <= k < 256 for k in stored)
    survey_keys = [c["survey"]["record_key"] for c in seeded.consultations if c["survey"]]
    assert len(set(survey_keys)) > 10
