"""Fødselsnummer: checking a Norwegian national identity number and reading its birth date.

Pure functions, no I/O. A number is ``DDMMYY`` (birth date) + ``III`` (individual number) +
``K1 K2`` (two mod-11 control digits). Accepted kinds:

- ordinary fødselsnummer;
- D-number (foreign nationals and others without a fødselsnummer): day + 40;
- H-number (a help number given by health services): month + 40; NAV's synthetic test numbers
  use the same shift;
- synthetic test numbers from Skatteetaten's test register Tenor: month + 80 (also on top of
  a D-number's day + 40), so test data can never collide with a real person.

FH-numbers (first digit 8 or 9) carry no birth date and are refused. The year's century comes
from the individual number (Skatteetaten's ranges below). A birth date in the future is not
refused here, for want of a clock. From 2032 Skatteetaten issues numbers whose first control
digit may take several values; those are not accepted yet.

Error details never repeat the number: it is personal data and details may be logged.
"""

from __future__ import annotations

from datetime import date

from service.domain.errors import InvalidInput

_FIELD = "fnr"
# str.isdigit() would also let through other scripts' digits, such as full-width ones.
_ASCII_DIGITS = frozenset("0123456789")
_LENGTH = 11
_FIRST_CONTROL_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_SECOND_CONTROL_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_D_NUMBER_DAY_SHIFT = 40
_FH_NUMBER_FIRST_DAY = 80
_H_NUMBER_MONTH_SHIFT = 40
_TENOR_MONTH_SHIFT = 80


def validate_fnr(value: str) -> str:
    """The number as 11 digits, spaces removed, or ``InvalidInput`` (field ``fnr``) saying why."""
    digits = "".join(value.split())
    if not set(digits) <= _ASCII_DIGITS:
        raise InvalidInput("A fødselsnummer may contain only digits.", field=_FIELD)
    if len(digits) != _LENGTH:
        raise InvalidInput(
            f"A fødselsnummer has {_LENGTH} digits, this has {len(digits)}.",
            field=_FIELD,
        )
    if not _control_digits_match(digits):
        raise InvalidInput(
            "The control digits do not match; the number is probably mistyped.",
            field=_FIELD,
        )
    _birth_date(digits)
    return digits


def birth_date_of(fnr: str) -> date:
    """The birth date in a valid number, the century read off the individual number.

    For H-numbers and synthetic test numbers the date may be made up.
    """
    return _birth_date(validate_fnr(fnr))


def _control_digits_match(digits: str) -> bool:
    first = _control_digit(digits[:9], _FIRST_CONTROL_WEIGHTS)
    second = _control_digit(digits[:10], _SECOND_CONTROL_WEIGHTS)
    return first == int(digits[9]) and second == int(digits[10])


def _control_digit(digits: str, weights: tuple[int, ...]) -> int:
    """11 minus the weighted sum mod 11, where 11 means 0.

    A result of 10 matches no digit, so nine digits that need it never make a valid number.
    """
    return (11 - sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11) % 11


def _birth_date(digits: str) -> date:
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if day >= _FH_NUMBER_FIRST_DAY:
        raise InvalidInput(
            "FH-numbers carry no birth date and are not accepted here.", field=_FIELD
        )
    if day > _D_NUMBER_DAY_SHIFT:
        day -= _D_NUMBER_DAY_SHIFT
    if month > _TENOR_MONTH_SHIFT:
        month -= _TENOR_MONTH_SHIFT
    elif month > _H_NUMBER_MONTH_SHIFT:
        month -= _H_NUMBER_MONTH_SHIFT

    century = _century(int(digits[6:9]), year)
    if century is None:
        raise InvalidInput(
            "The individual number (digits 7–9) does not fit the birth year.",
            field=_FIELD,
        )
    try:
        return date(century + year, month, day)
    except ValueError:
        raise InvalidInput(
            "The first six digits are not a valid birth date.", field=_FIELD
        ) from None


def _century(individual: int, year: int) -> int | None:
    """Skatteetaten's ranges of individual numbers per century of birth."""
    if individual <= 499:
        return 1900
    if individual <= 749 and year >= 54:
        return 1800
    if year <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None
