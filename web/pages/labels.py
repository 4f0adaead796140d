"""Words for the stored codes (statuses, kinds, groups, roles, history actions) as msgids.

Templates translate these with `_()`; keeping them here marks each one for extraction once.
"""

from __future__ import annotations

from typing import Final

from service.domain.i18n import N_

STATUS: Final = {
    "requested": N_("Requested"),
    "confirmed": N_("Confirmed"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "no_show": N_("Did not take place"),
}

AWAITING: Final = {
    "hospital_side": N_("Waiting for the hospital"),
    "gp_side": N_("Waiting for the GP"),
}

KIND: Final = {
    "joint": N_("Joint consultation"),
    "guidance": N_("Guidance (without the patient)"),
}

PATIENT_GROUP: Final = {
    "children_youth": N_("Children and young people"),
    "mental_health_addiction": N_("Severe mental illness and addiction"),
    "frail_elderly": N_("Frail elderly"),
    "multiple_chronic": N_("Several chronic conditions"),
    "other": N_("Other"),
}

PATIENT_LOCATION: Final = {
    "home": N_("From home"),
    "gp_office": N_("At the GP office"),
    "institution": N_("At an institution (e.g. nursing home)"),
}

PARTICIPANT_ROLE: Final = {
    "gp": N_("GP"),
    "specialist": N_("Specialist"),
    "patient": N_("Patient"),
    "relative": N_("Relative"),
    "interpreter": N_("Interpreter"),
    "municipal_staff": N_("Municipal staff"),
}

# Who someone is in a video call: a participant role, or a department's coordinator, who joins
# with a login like a clinician.
CALL_ROLE: Final = {**PARTICIPANT_ROLE, "coordinator": N_("Coordinator")}

HISTORY_ACTION: Final = {
    "book": N_("Booked"),
    "accept": N_("Accepted"),
    "propose_time": N_("New time proposed"),
    "reschedule": N_("Moved by the GP"),
    "cancel": N_("Cancelled"),
    "start": N_("Started"),
    "complete": N_("Completed"),
    "mark_no_show": N_("Marked as not taken place"),
    "expire": N_("Lapsed: not answered before the start"),
}

LANGUAGE: Final = {
    "nn": N_("Norwegian Nynorsk"),
    "nb": N_("Norwegian Bokmål"),
    "en": N_("English"),
}


def label(table: dict[str, str], code: str | None) -> str:
    """The msgid for a code; an unknown code is shown as it is rather than failing the page."""
    if code is None:
        return ""
    return table.get(code, code)


MAIL_KIND: Final = {
    "invite": N_("Invitation"),
    "update": N_("Change"),
    "cancel": N_("Cancellation"),
    "reminder": N_("Reminder"),
    "survey": N_("Survey"),
}

MAIL_STATUS: Final = {
    "pending": N_("Waiting"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "superseded": N_("Replaced"),
}

# The statistics page: column names for the report's measures (the JSON and CSV exports keep
# these keys), every participant role with the total, and the three-way survey answers.
MEASURE: Final = {
    "booked": N_("Booked"),
    "completed": STATUS["completed"],
    "cancelled": STATUS["cancelled"],
    "no_show": STATUS["no_show"],
    "open": N_("Not finished"),
    "person_km": N_("Person-km"),
    "vehicle_km": N_("Vehicle-km"),
    "hours": N_("Hours of travel"),
    "co2e_kg": N_("Kg CO2e"),
    "health_sector_kr": N_("Kroner, health sector"),
    "societal_kr": N_("Kroner, society"),
    "work_hours_not_lost": N_("Work hours not lost"),
}

PARTICIPANT_ROLE_OR_ALL: Final = {**PARTICIPANT_ROLE, "all": N_("All")}

ANSWER: Final = {
    "yes": N_("Yes"),
    "no": N_("No"),
    "unknown": N_("Don't know"),
    "blank": N_("No answer"),
}
