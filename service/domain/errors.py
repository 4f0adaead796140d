"""Domain errors, each with what an API client needs: HTTP status, title, the field at fault.

The domain raises these; one middleware turns them into RFC 9457 problem details, so no handler
builds an error response by hand.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

    def problem_members(self) -> dict[str, str | int]:
        """Extra members of the problem+json body, beside type, title, detail and field."""
        return {}


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class NotAuthenticated(DomainError):
    status = 401
    title = "Not logged in"
    type_slug = "not-authenticated"


class NotAllowed(DomainError):
    status = 403
    title = "Not allowed"
    type_slug = "forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class SlotTaken(Conflict):
    title = "Time not available"
    type_slug = "slot-taken"


class PatientExists(Conflict):
    """A new patient's fødselsnummer is a patient already stored, whose details would change."""

    title = "The patient is already registered"
    type_slug = "patient-exists"

    def __init__(self, detail: str, *, patient_id: int, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.patient_id = patient_id

    def problem_members(self) -> dict[str, str | int]:
        return {"patient_id": self.patient_id}


class InvalidTransition(Conflict):
    title = "Not possible in this state"
    type_slug = "invalid-transition"


class TooManyRequests(DomainError):
    status = 429
    title = "Too many attempts"
    type_slug = "too-many-requests"

    def __init__(
        self, detail: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(detail, field=field)
        self.retry_after = retry_after  # seconds, for the Retry-After header


class MalformedBody(DomainError):
    status = 400
    title = "Malformed request body"
    type_slug = "malformed-body"
