"""A sent mail as shown to someone other than its recipient: personal links taken out.

A guest's mail carries their personal join link (and a survey mail their survey link); whoever
holds it enters the waiting room as that guest. The clinicians who may read a consultation's
mails see every part of them (text, HTML, the calendar attachment) with each such link replaced
by a neutral placeholder, so the copy cannot be used to join as someone else.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

from icalendar import Calendar

# The token of a personal link: `/bli-med/{token}` or `/sporjeskjema/{token}` (urlsafe base64).
PERSONAL_LINK = re.compile(r"(?:https?://[^\s<>\"']*)?/(?:bli-med|sporjeskjema)/[A-Za-z0-9_\-]+")
# RFC 5545 folding: a line break followed by one space or tab continues the line.
_ICS_FOLD = re.compile(r"\r?\n[ \t]")


def redact_text(text: str, placeholder: str) -> str:
    return PERSONAL_LINK.sub(placeholder, text)


def _redact_ics(ics: bytes, placeholder: str) -> bytes:
    # Unfolded first, since a fold may fall inside the link; parsed and written again so the
    # lines are folded as RFC 5545 wants.
    text = _ICS_FOLD.sub("", ics.decode("utf-8", errors="replace"))
    redacted = redact_text(text, placeholder.replace(",", "\\,").replace(";", "\\;"))
    return bytes(Calendar.from_ical(redacted).to_ical())


def _is_calendar(part: EmailMessage) -> bool:
    return part.get_content_type() in {"text/calendar", "application/ics"}


def redact_personal_links(raw: bytes, placeholder: str) -> bytes:
    """The message with every personal link in every text part replaced by `placeholder`."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        if part.is_multipart():
            continue
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
        # The first pair is the content type itself.
        params = dict((part.get_params() or [])[1:])
        disposition, filename = part.get_content_disposition(), part.get_filename()
        if _is_calendar(part):
            ics = _redact_ics(payload, placeholder)
            if ics != payload:
                part.set_content(
                    ics,
                    maintype=maintype,
                    subtype=subtype,
                    params=params,
                    disposition=disposition,
                    filename=filename,
                )
        elif maintype == "text":
            text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
            redacted = redact_text(text, placeholder)
            if redacted != text:
                params.pop("charset", None)
                part.set_content(
                    redacted,
                    subtype=subtype,
                    charset="utf-8",
                    cte="quoted-printable",
                    params=params,
                    disposition=disposition,
                    filename=filename,
                )
    return message.as_bytes(policy=policy.SMTP)
