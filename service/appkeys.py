"""Typed keys for everything the application object carries."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.clock import Clock
from service.settings import Settings
from service.throttle import LoginThrottle
from service.travel import FactorSet, ReferenceData

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
THROTTLE = web.AppKey("throttle", LoginThrottle)
# «Grønn helse»: the shipped reference data and the factor set with the settings' overrides.
REFERENCE_DATA = web.AppKey("reference_data", ReferenceData)
FACTOR_SET = web.AppKey("factor_set", FactorSet)
