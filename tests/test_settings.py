"""Settings come from SAMKONS_* variables and refuse unsafe production values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import DEMO_SECRET, Settings


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMKONS_DATABASE_URL", "postgresql+asyncpg://x@h/db")
    monkeypatch.setenv("SAMKONS_BASE_URL", "https://samkons.example/")
    s = Settings()
    assert s.database_url == "postgresql+asyncpg://x@h/db"
    assert s.base_url == "https://samkons.example"
    assert s.timezone == "Europe/Oslo"
    assert s.secure_cookies


def test_production_refuses_demo_secret() -> None:
    with pytest.raises(ValidationError, match="demo secret is refused"):
        Settings(mode="production", base_url="https://samkons.example")
    with pytest.raises(ValidationError, match="SAMKONS_SECRET_KEY"):
        Settings(mode="production", base_url="https://x.example", secret_key="short")
    ok = Settings(mode="production", base_url="https://x.example", secret_key="k" * 40)
    assert ok.secret_key.get_secret_value() != DEMO_SECRET


def test_production_refuses_plain_http() -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(mode="production", base_url="http://x.example", secret_key="k" * 40)


def test_unknown_time_zone_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(timezone="Mars/Olympus")
