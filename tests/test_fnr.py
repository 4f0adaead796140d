"""Tests for service.domain.fnr: fødselsnummer, D-, H- and Tenor numbers, control digits, birth
dates.

Valid numbers are built here with the control rule as Skatteetaten states it (the weighted sum
of all digits up to and including a control digit is divisible by 11), not with the module's
own "11 minus the remainder" arithmetic, so the two check each other.
"""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.errors import InvalidInput
from service.domain.fnr import birth_date_of, validate_fnr

FIRST_CHECK_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
SECOND_CHECK_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def divisible_by_eleven(digits: str, weights: tuple[int, ...]) -> bool:
    return sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11 == 0


def with_controls(first_nine: str) -> str | None:
    """The 11-digit number for these nine digits, or None if no control digits fit."""
    for first in "0123456789":
        if divisible_by_eleven(first_nine + first, FIRST_CHECK_WEIGHTS):
            for second in "0123456789":
                if divisible_by_eleven(first_nine + first + second, SECOND_CHECK_WEIGHTS):
                    return first_nine + first + second
    return None


def make_number(day: int, month: int, year: int, individual: int) -> str:
    """A number with valid controls, its individual number among the ten from ``individual``."""
    for candidate in range(individual, individual + 10):
        number = with_controls(f"{day:02d}{month:02d}{year:02d}{candidate:03d}")
        if number is not None:
            return number
    raise AssertionError("no valid control digits for these ten individual numbers")


def refusal(value: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        validate_fnr(value)
    assert refused.value.field == "fnr"
    return refused.value


# --- valid numbers and their birth dates ------------------------------------------------------


def test_a_published_example_is_valid() -> None:
    # Worked example on fnrinfo.no («Beregning av kontrollsiffer»): 311299567 gives 15.
    assert validate_fnr("31129956715") == "31129956715"
    # Individual number 567 with year 99 is from the 1800s range.
    assert birth_date_of("31129956715") == date(1899, 12, 31)


def test_a_second_published_example_is_valid() -> None:
    # Example from python-stdnum's documentation of Norwegian birth numbers.
    assert birth_date_of("151086 95088") == date(1986, 10, 15)


@pytest.mark.parametrize(
    ("year", "individual", "born"),
    [
        (86, 0, date(1986, 5, 17)),  # 000–499: 1900–1999
        (5, 490, date(1905, 5, 17)),
        (99, 500, date(1899, 5, 17)),  # 500–749 with year 54–99: 1854–1899
        (54, 700, date(1854, 5, 17)),
        (20, 500, date(2020, 5, 17)),  # 500–999 with year 00–39: 2000–2039
        (39, 900, date(2039, 5, 17)),
        (45, 900, date(1945, 5, 17)),  # 900–999 with year 40–99: 1940–1999
    ],
)
def test_the_century_comes_from_the_individual_number(
    year: int, individual: int, born: date
) -> None:
    number = make_number(17, 5, year, individual)

    assert validate_fnr(number) == number
    assert birth_date_of(number) == born


@pytest.mark.parametrize(
    ("year", "individual"),
    [(40, 500), (45, 600), (53, 500), (60, 750), (99, 800)],
)
def test_an_individual_number_outside_every_range_for_the_year_is_refused(
    year: int, individual: int
) -> None:
    number = make_number(17, 5, year, individual)

    assert "individual number" in refusal(number).detail


def test_the_ends_of_the_1900s_range_of_individual_numbers() -> None:
    # Numbers chosen so that the edge individual number itself has valid control digits.
    ends_1900s_range = with_controls("010505499")
    starts_2000s_range = with_controls("010540500")

    assert ends_1900s_range is not None
    assert birth_date_of(ends_1900s_range) == date(1905, 5, 1)
    assert starts_2000s_range is not None
    assert "individual number" in refusal(starts_2000s_range).detail


def test_spaces_are_accepted_and_removed() -> None:
    number = make_number(1, 2, 80, 123)
    spaced = f" {number[:6]} {number[6:]}\t"

    assert validate_fnr(spaced) == number
    assert validate_fnr(" ".join(number)) == number


def test_a_d_number_adds_forty_to_the_day() -> None:
    number = make_number(31 + 40, 12, 85, 300)

    assert validate_fnr(number) == number
    assert birth_date_of(number) == date(1985, 12, 31)


def test_an_h_number_adds_forty_to_the_month() -> None:
    number = make_number(15, 3 + 40, 90, 200)

    assert birth_date_of(number) == date(1990, 3, 15)


def test_a_tenor_synthetic_number_adds_eighty_to_the_month() -> None:
    number = make_number(15, 12 + 80, 90, 200)

    assert birth_date_of(number) == date(1990, 12, 15)


def test_a_tenor_synthetic_d_number_shifts_day_and_month() -> None:
    number = make_number(1 + 40, 1 + 80, 10, 600)

    assert birth_date_of(number) == date(2010, 1, 1)


def test_the_29th_of_february_in_a_leap_year_is_valid() -> None:
    assert birth_date_of(make_number(29, 2, 0, 500)) == date(2000, 2, 29)


# --- refused numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "1234567890", "123456789012", "12345 678 90 12"])
def test_a_wrong_length_is_refused(value: str) -> None:
    assert "11 digits" in refusal(value).detail


@pytest.mark.parametrize(
    "value",
    ["3112995671a", "311299-56715", "31.12.99 56715", "３１１２９９５６７１５"],
)
def test_anything_but_digits_and_spaces_is_refused(value: str) -> None:
    assert "only digits" in refusal(value).detail


def test_a_wrong_first_control_digit_is_refused() -> None:
    number = make_number(17, 5, 86, 42)
    first_changed = number[:9] + str((int(number[9]) + 1) % 10) + number[10]

    assert "control digits" in refusal(first_changed).detail


def test_a_wrong_second_control_digit_is_refused() -> None:
    number = make_number(17, 5, 86, 42)
    second_changed = number[:10] + str((int(number[10]) + 1) % 10)

    assert "control digits" in refusal(second_changed).detail


def test_a_swap_of_two_digits_is_caught() -> None:
    number = make_number(17, 5, 86, 42)
    swapped = number[1] + number[0] + number[2:]
    assert swapped != number

    refusal(swapped)


def test_nine_digits_with_no_possible_control_digit_are_always_refused() -> None:
    # Find nine digits for which the first control would have to be 10.
    first_nine = next(
        f"170586{individual:03d}"
        for individual in range(500)
        if with_controls(f"170586{individual:03d}") is None
    )

    for last_two in range(100):
        refusal(f"{first_nine}{last_two:02d}")


@pytest.mark.parametrize(
    ("day", "month", "year", "individual"),
    [
        (32, 1, 86, 100),  # no 32nd
        (0, 1, 86, 100),  # no day 0
        (31, 4, 86, 100),  # April has 30 days
        (29, 2, 0, 100),  # 1900 was no leap year
        (29, 2, 1, 500),  # 2001 was no leap year
        (17, 13, 86, 100),  # no 13th month
        (17, 0, 86, 100),  # no month 0
        (17, 53, 86, 100),  # beyond an H-number's months
        (17, 93, 86, 100),  # beyond a Tenor number's months
        (40, 1, 86, 100),  # a D-number's day 0
        (72, 1, 86, 100),  # a D-number's day 32
    ],
)
def test_an_impossible_birth_date_is_refused(
    day: int, month: int, year: int, individual: int
) -> None:
    number = make_number(day, month, year, individual)

    assert "birth date" in refusal(number).detail


def test_an_fh_number_is_refused() -> None:
    number = make_number(81, 1, 86, 100)

    assert "FH-number" in refusal(number).detail


def test_details_do_not_repeat_the_number() -> None:
    number = make_number(17, 5, 86, 42)
    broken = number[:10] + str((int(number[10]) + 1) % 10)

    detail = refusal(broken).detail

    assert broken not in detail
    assert number[:6] not in detail


def test_birth_date_of_refuses_an_invalid_number() -> None:
    with pytest.raises(InvalidInput):
        birth_date_of("31129956716")
