"""The collector tuning `samkons serve` applies before it starts serving."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from service import cli
from service.http.runtime import tune_garbage_collector
from service.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tuning_sets_the_young_threshold_and_freezes_what_exists(collector: None) -> None:
    _, middle, oldest = gc.get_threshold()
    survivor: list[object] = [object()]  # lists are always tracked
    tune_garbage_collector(12_345)
    assert gc.get_threshold() == (12_345, middle, oldest)
    assert gc.get_freeze_count() > 0
    assert not any(obj is survivor for obj in gc.get_objects())  # frozen: never scanned


def test_a_threshold_below_one_is_refused(collector: None) -> None:
    with pytest.raises(ValueError):
        tune_garbage_collector(0)


def test_settings_refuse_a_threshold_below_pythons_default() -> None:
    with pytest.raises(ValidationError):
        Settings(gc_young_threshold=100)
    assert Settings().gc_young_threshold == 20_000


def test_serve_tunes_the_collector_before_it_runs_the_app(
    collector: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[int, int, int]] = []

    def run_app(app: web.Application, **_: Any) -> None:
        started.append(gc.get_threshold())

    monkeypatch.setattr(web, "run_app", run_app)
    cli._serve(settings.model_copy(update={"gc_young_threshold": 4_321}))
    assert started and started[0][0] == 4_321
