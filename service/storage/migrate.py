"""Running Alembic migrations from code (the `samkons migrate` command and the tests)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "service.storage:migrations")
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade_to_head(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


async def upgrade_to_head_async(url: str) -> None:
    # Alembic's env.py runs its own event loop, so keep it off the caller's loop.
    await asyncio.to_thread(upgrade_to_head, url)
