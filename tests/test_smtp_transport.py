"""SMTP delivery as configured: STARTTLS and login against a real aiosmtpd server that demands
both, a refused login kept for later, a refused mailbox given up, backoff and the attempt limit."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.outbox import retry_delay
from service.domain.clock import FakeClock
from service.settings import Settings
from tests.factories import Client, build_world
from tests.mail_support import EVERYONE_WITH_MAIL, SmtpSink, book_confirmed, deliver, outbox_rows

SLOT = "2026-01-07T10:00:00+01:00"
USER, PASSWORD = "samkons", "hemmeleg-passord"
Db = async_sessionmaker[AsyncSession]


def _certificate_authority(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it; returns the CA file and the
    server's TLS context."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samkons test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    ca_file, context = _certificate_authority(tmp_path)
    # The client checks the certificate against the default trust store; point it at our CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    sink = SmtpSink(
        server_options={
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "auth_require_tls": True,
            "authenticator": _check_login,
        }
    )
    sink.start()
    yield sink
    sink.stop()


def configured(settings: Settings, sink: SmtpSink, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_starttls": True,
        "smtp_username": USER,
        "smtp_password": SecretStr(PASSWORD),
    }
    return settings.model_copy(update=values | changes)


async def test_starttls_and_login_as_configured(
    client: Client, db: Db, settings: Settings, clock: FakeClock, tls_smtp: SmtpSink
) -> None:
    world = await build_world(db)
    await book_confirmed(client, world, SLOT)
    report = await deliver(db, clock, configured(settings, tls_smtp))
    assert report.sent == len(EVERYONE_WITH_MAIL)
    assert sorted(r for m in tls_smtp.received for r in m.recipients) == sorted(EVERYONE_WITH_MAIL)


async def test_without_starttls_the_server_refuses_and_the_mails_wait(
    client: Client, db: Db, settings: Settings, clock: FakeClock, tls_smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    report = await deliver(db, clock, configured(settings, tls_smtp, smtp_starttls=False))
    assert (report.sent, report.retried, report.failed) == (0, len(EVERYONE_WITH_MAIL), 0)
    assert tls_smtp.received == []
    invites = [r for r in await outbox_rows(db, cid) if r.kind == "invite"]
    assert {r.status for r in invites} == {"pending"}


async def test_a_refused_login_is_retried_not_given_up(
    client: Client, db: Db, settings: Settings, clock: FakeClock, tls_smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    wrong = configured(settings, tls_smtp, smtp_password=SecretStr("feil"))
    report = await deliver(db, clock, wrong)
    assert (report.sent, report.retried, report.failed) == (0, len(EVERYONE_WITH_MAIL), 0)
    invites = [r for r in await outbox_rows(db, cid) if r.kind == "invite"]
    assert {(r.status, r.last_error) for r in invites} == {
        ("pending", "SMTPAuthenticationError 535")
    }
    clock.advance(retry_delay(1))
    assert (await deliver(db, clock, configured(settings, tls_smtp))).sent == len(
        EVERYONE_WITH_MAIL
    )


async def test_a_refused_mailbox_is_given_up_and_the_others_delivered(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    sink = SmtpSink(refuse={"dotter@test.no"})
    sink.start()
    try:
        world = await build_world(db)
        cid = await book_confirmed(client, world, SLOT)
        plain = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_starttls": False}
        )
        report = await deliver(db, clock, plain)
    finally:
        sink.stop()
    assert (report.sent, report.failed) == (len(EVERYONE_WITH_MAIL) - 1, 1)
    refused = next(r for r in await outbox_rows(db, cid) if r.recipient == "dotter@test.no")
    assert (refused.status, refused.message) == ("failed", None)
    assert refused.last_error is not None
    assert "dotter" not in refused.last_error  # no addresses in stored errors


async def test_gives_up_after_the_attempt_limit(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    down = SmtpSink()  # never started
    limited = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": down.port,
            "smtp_starttls": False,
            "mail_max_attempts": 2,
        }
    )
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    assert (await deliver(db, clock, limited)).retried == len(EVERYONE_WITH_MAIL)
    clock.advance(retry_delay(1))
    assert (await deliver(db, clock, limited)).failed == len(EVERYONE_WITH_MAIL)
    invites = [r for r in await outbox_rows(db, cid) if r.kind == "invite"]
    assert {(r.status, r.attempts, r.message) for r in invites} == {("failed", 2, None)}


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert retry_delay(7) == timedelta(hours=1)
    assert retry_delay(30) == timedelta(hours=1)
