"""The `samkons` command: serve, migrate, create-user, invite-signin, totp-enrol, seed-demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from aiohttp import web

from service.http.logs import configure_logging
from service.settings import Settings


def _serve(settings: Settings) -> None:
    from service.http.accesslog import RedactingAccessLogger, access_logger
    from service.http.app import create_app
    from service.http.runtime import tune_garbage_collector

    app = create_app(settings)
    tune_garbage_collector(settings.gc_young_threshold)
    print(f"Serving samkons on http://{settings.host}:{settings.port}", flush=True)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=access_logger(),
        access_log_class=RedactingAccessLogger,
    )


def _migrate(settings: Settings) -> None:
    from service.storage.migrate import upgrade_to_head

    _ensure_sqlite_dir(settings)
    upgrade_to_head(settings.database_url)
    print("Database is up to date.")


def _ensure_sqlite_dir(settings: Settings) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


async def _create_user(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.clock import SystemClock
    from service.domain.passwords import Passwords
    from service.storage.engine import make_engine, make_sessionmaker
    from service.usecases.accounts import create_user

    password = args.password or getpass.getpass("Password: ")
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            user = await create_user(
                db,
                email=args.email,
                name=args.name,
                role=args.role,
                password=password,
                now=SystemClock().now(),
                gp_office_id=args.gp_office_id,
                department_id=args.department_id,
                language=args.language,
                passwords=Passwords(settings.password_hash_cost),
            )
            print(f"Created user {user.id} ({user.role}).")
    finally:
        await engine.dispose()


async def _invite_signin(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.clock import SystemClock
    from service.http.oidc import create_invitation
    from service.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        path = await create_invitation(
            make_sessionmaker(engine), args.email, SystemClock().now(), args.days
        )
    finally:
        await engine.dispose()
    print(f"Send this link to the account's owner (valid {args.days} days, once):")
    print(settings.base_url + path)


async def _totp_enrol(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.clock import SystemClock
    from service.http.totp import enrol
    from service.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        uri = await enrol(make_sessionmaker(engine), settings, args.email, SystemClock().now())
    finally:
        await engine.dispose()
    print("Add this to the account owner's authenticator app (it replaces any earlier one):")
    print(uri)


async def _seed_demo(settings: Settings) -> None:
    from service.demo import open_demo_call, seed_demo

    logins = await seed_demo(settings)
    print("Demo data is in place. Log in at", settings.base_url, "with:")
    for role, email, password in logins:
        print(f"  {role:<12} {email:<32} {password}")
    call = await open_demo_call(settings)
    print("A video call is open now. The GP or specialist, logged in:", call.clinician_page)
    for role, link in call.guest_links.items():
        print(f"  the {role}'s join link (another browser or a private window): {link}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samkons", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the web application")
    sub.add_parser("migrate", help="bring the database schema up to date")
    cu = sub.add_parser("create-user", help="create an account")
    cu.add_argument("--email", required=True)
    cu.add_argument("--name", required=True)
    cu.add_argument(
        "--role", required=True, choices=["gp", "specialist", "coordinator", "evaluator", "admin"]
    )
    cu.add_argument("--password", help="read from the terminal when left out")
    cu.add_argument("--gp-office-id", type=int)
    cu.add_argument("--department-id", type=int)
    cu.add_argument("--language", default="nn", choices=["nn", "nb", "en"])
    inv = sub.add_parser(
        "invite-signin", help="a one-time link that links an account to its owner's HelseID"
    )
    inv.add_argument("--email", required=True)
    inv.add_argument("--days", type=int, default=7)
    totp = sub.add_parser(
        "totp-enrol", help="give an account a second factor for password sign-in (TOTP)"
    )
    totp.add_argument("--email", required=True)
    sub.add_parser("seed-demo", help="fill the database with believable demo data")
    args = parser.parse_args(argv)

    # Tracebacks, and what they may quote, pass the scrubbing formatter (no personal data).
    configure_logging()
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"samkons: configuration refused: {exc}", file=sys.stderr)
        return 2
    from service.domain.errors import DomainError

    try:
        if args.command == "serve":
            _serve(settings)
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "create-user":
            asyncio.run(_create_user(settings, args))
        elif args.command == "invite-signin":
            asyncio.run(_invite_signin(settings, args))
        elif args.command == "totp-enrol":
            asyncio.run(_totp_enrol(settings, args))
        elif args.command == "seed-demo":
            asyncio.run(_seed_demo(settings))
    except DomainError as exc:
        print(f"samkons: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
