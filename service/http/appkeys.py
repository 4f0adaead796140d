"""Typed keys for everything the application object carries."""

from __future__ import annotations

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.passwords import Passwords
from service.domain.travel.factors import FactorSet
from service.domain.travel.keys import TravelPerKey
from service.domain.travel.reference import ReferenceData
from service.http.sessions import SessionStore
from service.settings import Settings
from service.usecases.throttle import LoginThrottle
from signalling.echo import EchoService
from signalling.hub import SignallingHub

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
# Sessions for work that only reads (no write lock on SQLite): see service/storage/engine.py.
READ_DB = web.AppKey("read_db", async_sessionmaker[AsyncSession])
SESSIONS = web.AppKey("sessions", SessionStore)
THROTTLE = web.AppKey("throttle", LoginThrottle)
PASSWORDS = web.AppKey("passwords", Passwords)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
SIGNALLING_HUB = web.AppKey("signalling_hub", SignallingHub)
ECHO = web.AppKey("echo", EchoService)
# «Grønn helse»: the shipped reference data and the factor set with the settings' overrides.
REFERENCE_DATA = web.AppKey("reference_data", ReferenceData)
FACTOR_SET = web.AppKey("factor_set", FactorSet)
# The calculation per travel key under that factor set, kept between statistics reports.
TRAVEL_PER_KEY = web.AppKey("travel_per_key", TravelPerKey)
