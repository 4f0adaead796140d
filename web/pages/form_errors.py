"""Readable, translatable messages for what went wrong with a form or a request.

The domain and pydantic speak English to programmers; a page needs a sentence in the reader's
language next to the right field. Messages here are msgids: templates translate them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from pydantic import ValidationError

from service.domain.errors import Conflict, DomainError, InvalidTransition, NotAllowed, NotFound
from service.domain.i18n import N_

CHECK_FIELD: Final = N_("Check this field.")
REQUIRED: Final = N_("This field is required.")
CHOOSE_FROM_LIST: Final = N_("Choose one of the options.")

# Domain messages that a reader may meet, by their exact English text.
KNOWN_DETAILS: Final = {
    m: m
    for m in (
        N_("Wrong e-mail or password."),
        N_("Too many login attempts. Wait a while and try again."),
        N_("Name the specialist who takes this consultation."),
        N_("No such department."),
        N_("No such patient at your GP office."),
        N_("No such specialist in that department."),
        N_("No such consultation."),
        N_("Someone taking part already has a consultation at that time."),
        N_("The consultation already has a specialist."),
        N_("The department has no specialists to book."),
        N_("This patient is registered at another GP office."),
        N_("The start time is in the past."),
        N_("The time is outside the clinicians' working hours."),
        N_("A clinician already has a consultation at this time."),
        N_("The patient already has a consultation at this time."),
        N_("Only a GP with a GP office can book a joint consultation."),
        N_("Your role has no access to consultations."),
        N_("Your role does not give access to this."),
        N_("The form or request is missing a valid CSRF token. Reload the page and try again."),
    )
}

# Shown when the domain's text is not one we know (it may name internals or be generated).
_BY_ERROR_CLASS: Final[tuple[tuple[type[DomainError], str], ...]] = (
    (InvalidTransition, N_("This is not possible in the consultation's current state.")),
    (Conflict, N_("This collides with something that has changed. Reload and try again.")),
    (NotFound, N_("We could not find what you asked for.")),
    (NotAllowed, N_("You do not have access to do this.")),
)

_BY_FIELD_NAME: Final = {
    "email": N_("Write a valid e-mail address."),
    "phone": N_("Write a phone number using digits, optionally starting with +."),
    "postal_code": N_("Write a postal code of four digits."),
    "fnr": N_("This is not a valid fødselsnummer or D-number."),
    "starts_at": N_("Choose one of the free times."),
}

_BY_ERROR_TYPE: Final = {
    "missing": REQUIRED,
    "string_too_short": REQUIRED,
    "string_too_long": N_("The text is too long."),
    "too_long": N_("There are too many of these."),
    "int_parsing": CHOOSE_FROM_LIST,
    "int_type": CHOOSE_FROM_LIST,
    "literal_error": CHOOSE_FROM_LIST,
    "greater_than_equal": CHOOSE_FROM_LIST,
    "less_than_equal": CHOOSE_FROM_LIST,
}


@dataclass
class FormErrors:
    """Messages by form field name (dotted, as pydantic reports it), plus general ones."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def field_name(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def message_for_validation(loc: Sequence[int | str], error_type: str) -> str:
    last = str(loc[-1]) if loc else ""
    if error_type in ("missing", "string_too_short") and last != "starts_at":
        return REQUIRED
    if last in _BY_FIELD_NAME:
        return _BY_FIELD_NAME[last]
    return _BY_ERROR_TYPE.get(error_type, CHECK_FIELD)


def from_validation(exc: ValidationError, *, rename: dict[str, str] | None = None) -> FormErrors:
    errors = FormErrors()
    for err in exc.errors(include_url=False, include_input=False):
        name = field_name(err["loc"])
        errors.add((rename or {}).get(name, name), message_for_validation(err["loc"], err["type"]))
    return errors


def message_for_domain(exc: DomainError) -> str:
    if exc.detail in KNOWN_DETAILS:
        return KNOWN_DETAILS[exc.detail]
    for cls, message in _BY_ERROR_CLASS:
        if isinstance(exc, cls):
            return message
    return CHECK_FIELD if exc.field else N_("Something in the form is not right.")


def from_domain(exc: DomainError, *, rename: dict[str, str] | None = None) -> FormErrors:
    errors = FormErrors()
    name = (rename or {}).get(exc.field, exc.field) if exc.field else None
    errors.add(name, message_for_domain(exc))
    return errors
