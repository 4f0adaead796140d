"""The gettext catalogs every user-facing text is translated with: pages, e-mails, invites.

Catalogs are `service/translations/<lang>/LC_MESSAGES/messages.po`, compiled in memory when
first asked for (no compile step). English is the msgids themselves; nynorsk is the default
language. Placeholders are `%(name)s`, filled in after translation.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES: Final = ("nn", "nb", "en")
TRANSLATIONS_DIR: Final = Path(__file__).resolve().parent.parent / "translations"


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; it is translated when shown."""
    return message


def po_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"


@cache
def load_translations(language: str) -> NullTranslations:
    """The catalog of one language, compiled from its .po file in memory (once per process)."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for language {language!r}")
    if language == "en":
        return NullTranslations()
    with po_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo, domain="messages")
