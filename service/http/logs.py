"""Logging for operators, without personal data: the scrubbing formatter and its installation.

Tracebacks are what an operator acts on, but the text of an exception can quote what the
failed work was about: SQLAlchemy appends the statement's `[parameters: …]` (names, e-mail
addresses, phone numbers, postal codes, keyed hashes), PostgreSQL's DETAIL repeats the key or
row that conflicted, and an SMTP reply may name the recipient. `ScrubbingFormatter` keeps every
traceback's frames (file, line, function) and exception types, and redacts those parts from the
message and from the traceback's text: SQL parameters, conflicting keys and rows, e-mail
addresses, 11-digit numbers (fødselsnummer, D-number) and phone numbers. A name standing on its
own cannot be recognised; it reaches a log only through those parts, which is why they go
whole. `configure_logging` installs it on the root logger (`samkons serve` and the other
commands do). Where the service itself logs a failure (a job, an unhandled request error) it
writes `scrubbed_traceback` into the message, so the line is safe under any formatter.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType
from typing import TextIO, TypeAlias

ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_ADDRESS_CHAR = r"[^\s@<>()\[\]{},;:\"'`/\\|=]"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # SQLAlchemy: "[parameters: (1, 'Name', 'e@mail', …)]", on one line however long.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: redacted]"),
    # PostgreSQL DETAIL: "Key (fnr_hash)=(…) already exists." and "Failing row contains (…)."
    (re.compile(r"(Key \([^)\n]*\)=)[^\n]*"), r"\1(redacted)"),
    (re.compile(r"(Failing row contains )[^\n]*"), r"\1(redacted)"),
    # E-mail addresses, also internationalised and percent-encoded ones (mailto: URIs).
    (
        re.compile(rf"{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}*[^\s\W_]"),
        "[e-mail]",
    ),
    # Fødselsnummer and D-number: 11 digits, sometimes written 6 + 5.
    (re.compile(r"(?<![\w.])\d{6} ?\d{5}(?![\w])"), "[fnr]"),
    # Phone numbers: 8 or more digits, perhaps after + or 00, perhaps grouped by spaces.
    (re.compile(r"(?<![\w.+])\+?\d(?: ?\d){7,14}(?![\w])"), "[phone]"),
)


def scrub(text: str) -> str:
    """`text` with SQL parameters, conflicting keys, e-mail addresses, fødselsnummer and phone
    numbers redacted."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def scrubbed_traceback(error: BaseException) -> str:
    """`error`'s traceback (with its causes), scrubbed: for a log line that must be safe
    whichever formatter writes it."""
    return scrub("".join(traceback.format_exception(error)).rstrip("\n"))


class ScrubbingFormatter(logging.Formatter):
    """A `logging.Formatter` whose output never carries the personal data `scrub` recognises,
    in the message, the traceback or the stack."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))

    def formatException(self, ei: ExcInfo) -> str:
        # The record keeps this text (exc_text) for any later handler: scrubbed there too.
        return scrub(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return scrub(super().formatStack(stack_info))


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to `stream` (standard error) through `ScrubbingFormatter`,
    replacing the root logger's handlers; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every run of every job at INFO (the outbox runs every few seconds), which
    # buries the access log; our jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler
