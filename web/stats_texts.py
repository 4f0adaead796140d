"""Words on the statistics and survey pages, in nynorsk (default), bokmål and English.

A plain dictionary for now, so these pages stand on their own; when the site's gettext catalogue
arrives, these strings move into it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LANGUAGES = ("nn", "nb", "en")

_NN: dict[str, str] = {
    "lang_name": "Nynorsk",
    "skip": "Hopp til innhaldet",
    "logout": "Logg ut",
    # statistics page
    "stats_title": "Statistikk for samkonsultasjon",
    "stats_intro": (
        "Bruk av tenesta, reiser som vart spart og svar frå spørjeskjema. Ingen namn, "
        "kontaktopplysningar, postnummer eller fritekst er med."
    ),
    "filters": "Utval",
    "from": "Frå (månad)",
    "to": "Til (månad)",
    "group_by": "Grupper etter",
    "month": "Månad",
    "quarter": "Kvartal",
    "municipality": "Kommune",
    "patient_group": "Pasientgruppe",
    "hospital": "Sjukehus",
    "department": "Avdeling",
    "all": "Alle",
    "show": "Vis",
    "download_csv": "Last ned CSV",
    "download_json": "JSON",
    "period": "Periode",
    "total": "Totalt",
    "booked": "Bestilt",
    "completed": "Gjennomført",
    "cancelled": "Avlyst",
    "no_show": "Møtte ikkje",
    "open": "Ikkje avslutta",
    "travel_consultations": "Med reisedata",
    "duration": "Varigheit (minutt)",
    "p25": "25. persentil",
    "median": "Median",
    "p75": "75. persentil",
    "with_relatives": "Med pårørande",
    "relatives_share": "Del med pårørande",
    "trend_title": "Samkonsultasjonar per periode",
    "trend_desc": "Søyler: bestilte. Rundingar: gjennomførte.",
    "by_municipality_title": "Gjennomførte samkonsultasjonar per kommune",
    "by_group_title": "Gjennomførte samkonsultasjonar per pasientgruppe",
    "co2_title": "Kg CO2e spart per periode (anteke)",
    "data_table": "Tal bak figuren",
    "travel_title": "Reiser som vart spart («grønn helse»)",
    "travel_intro": (
        "Tur-retur heim–sjukehus for pasient og pårørande som elles ville ha reist, minus "
        "reisa til legekontoret. «Anteke» byggjer på det fastlegen oppgav ved bestilling, "
        "«stadfesta» rettar det med svaret frå spørjeskjemaet."
    ),
    "assumed": "Anteke",
    "confirmed": "Stadfesta",
    "person_km": "Personkilometer",
    "vehicle_km": "Køyretøykilometer",
    "hours": "Reisetimar",
    "co2e_kg": "Kg CO2e",
    "health_sector_kr": "Kroner, helsesektoren",
    "societal_kr": "Kroner, samfunnet",
    "work_hours_not_lost": "Arbeidstimar ikkje tapt",
    "factor_set": "Faktorsett",
    "factor_set_modified": "endra med eigne faktorar",
    "not_costed": "Ikkje prissett",
    "confirmation_title": "Svar om reise",
    "confirmation_yes": "Ville ha reist",
    "confirmation_no": "Ville ikkje ha reist",
    "confirmation_unanswered": "Ikkje svart",
    "participants_title": "Deltakarar i gjennomførte samkonsultasjonar",
    "role": "Rolle",
    "count": "Tal",
    "role_gp": "Fastlege",
    "role_specialist": "Spesialist",
    "role_patient": "Pasient",
    "role_relative": "Pårørande",
    "role_interpreter": "Tolk",
    "role_municipal_staff": "Kommunalt tilsett",
    "role_all": "Alle",
    "survey_title": "Spørjeskjema",
    "survey_invited": "Invitert",
    "survey_answered": "Svart",
    "survey_satisfaction": "Nøgd (1–5)",
    "survey_would_travel": "Ville pasienten elles ha reist til sjukehuset?",
    "survey_physical_visit": "Trong for fysisk time etterpå?",
    "survey_free_text_count": "Svar med fritekst (berre talet blir vist)",
    "yes": "Ja",
    "no": "Nei",
    "unknown": "Veit ikkje",
    "blank": "Ikkje svart",
    "with": "Med",
    "without": "Utan",
    "suppression_note": (
        "Tal frå 1 til 4 er viste som «<5». Celler merkte «skjult» er haldne tilbake så "
        "små tal ikkje kan reknast ut frå summane."
    ),
    "suppressed": "skjult",
    "group_children_youth": "Barn og unge",
    "group_mental_health_addiction": "Psykisk helse og rus",
    "group_frail_elderly": "Skrøpelege eldre",
    "group_multiple_chronic": "Fleire kroniske lidingar",
    "group_other": "Andre",
    "unknown_municipality": "Ukjend",
    # survey
    "survey_page_title": "Spørjeskjema etter samkonsultasjonen",
    "survey_intro": (
        "Takk for at du tok del i samkonsultasjonen {date}. Svara hjelper oss å gjere tenesta "
        "betre. Det tek under eitt minutt."
    ),
    "q_satisfaction": "Kor nøgd var du med samkonsultasjonen?",
    "q_satisfaction_help": "1 er svært misnøgd, 5 er svært nøgd.",
    "q_would_travel": "Ville pasienten elles ha reist til sjukehuset for denne timen?",
    "q_physical_visit": "Var det likevel trong for ein fysisk time etterpå?",
    "q_free_text": "Anna du vil seie (valfritt)",
    "q_free_text_help": "Ikkje skriv namn eller helseopplysningar.",
    "send": "Send svar",
    "error_summary": "Noko må rettast:",
    "error_satisfaction": "Vel eit tal frå 1 til 5.",
    "error_choice": "Vel eit av svara.",
    "error_free_text": "Teksten kan vere på høgst 2000 teikn.",
    "thanks_title": "Takk for svaret",
    "thanks_text": "Svaret ditt er lagra. Du kan lukke sida.",
    "used_title": "Allereie svart",
    "used_text": "Dette spørjeskjemaet er alt svart på. Kvar lenkje tek imot eitt svar.",
    "invalid_title": "Lenkja verkar ikkje",
    "invalid_text": "Vi finn ikkje dette spørjeskjemaet. Sjekk at heile lenkja er med.",
}

_NB: dict[str, str] = {
    **_NN,
    "lang_name": "Bokmål",
    "skip": "Hopp til innholdet",
    "logout": "Logg ut",
    "stats_intro": (
        "Bruk av tjenesten, reiser som ble spart og svar fra spørreskjema. Ingen navn, "
        "kontaktopplysninger, postnummer eller fritekst er med."
    ),
    "filters": "Utvalg",
    "from": "Fra (måned)",
    "month": "Måned",
    "patient_group": "Pasientgruppe",
    "hospital": "Sykehus",
    "no_show": "Møtte ikke",
    "open": "Ikke avsluttet",
    "duration": "Varighet (minutter)",
    "with_relatives": "Med pårørende",
    "relatives_share": "Andel med pårørende",
    "trend_title": "Samkonsultasjoner per periode",
    "trend_desc": "Søyler: bestilte. Sirkler: gjennomførte.",
    "by_municipality_title": "Gjennomførte samkonsultasjoner per kommune",
    "by_group_title": "Gjennomførte samkonsultasjoner per pasientgruppe",
    "co2_title": "Kg CO2e spart per periode (antatt)",
    "data_table": "Tall bak figuren",
    "travel_title": "Reiser som ble spart («grønn helse»)",
    "travel_intro": (
        "Tur-retur hjem–sykehus for pasient og pårørende som ellers ville ha reist, minus "
        "reisen til legekontoret. «Antatt» bygger på det fastlegen oppga ved bestilling, "
        "«bekreftet» retter det med svaret fra spørreskjemaet."
    ),
    "assumed": "Antatt",
    "confirmed": "Bekreftet",
    "vehicle_km": "Kjøretøykilometer",
    "work_hours_not_lost": "Arbeidstimer ikke tapt",
    "factor_set_modified": "endret med egne faktorer",
    "not_costed": "Ikke priset",
    "confirmation_no": "Ville ikke ha reist",
    "confirmation_unanswered": "Ikke svart",
    "participants_title": "Deltakere i gjennomførte samkonsultasjoner",
    "role_relative": "Pårørende",
    "role_municipal_staff": "Kommunalt ansatt",
    "survey_title": "Spørreskjema",
    "survey_satisfaction": "Fornøyd (1–5)",
    "survey_would_travel": "Ville pasienten ellers ha reist til sykehuset?",
    "survey_physical_visit": "Behov for fysisk time etterpå?",
    "survey_free_text_count": "Svar med fritekst (bare antallet vises)",
    "unknown": "Vet ikke",
    "blank": "Ikke svart",
    "suppression_note": (
        "Tall fra 1 til 4 vises som «<5». Celler merket «skjult» holdes tilbake så små "
        "tall ikke kan regnes ut fra summene."
    ),
    "group_children_youth": "Barn og unge",
    "group_mental_health_addiction": "Psykisk helse og rus",
    "group_frail_elderly": "Skrøpelige eldre",
    "group_multiple_chronic": "Flere kroniske lidelser",
    "unknown_municipality": "Ukjent",
    "survey_page_title": "Spørreskjema etter samkonsultasjonen",
    "survey_intro": (
        "Takk for at du deltok i samkonsultasjonen {date}. Svarene hjelper oss å gjøre "
        "tjenesten bedre. Det tar under ett minutt."
    ),
    "q_satisfaction": "Hvor fornøyd var du med samkonsultasjonen?",
    "q_satisfaction_help": "1 er svært misfornøyd, 5 er svært fornøyd.",
    "q_would_travel": "Ville pasienten ellers ha reist til sykehuset for denne timen?",
    "q_physical_visit": "Var det likevel behov for en fysisk time etterpå?",
    "q_free_text": "Annet du vil si (valgfritt)",
    "q_free_text_help": "Ikke skriv navn eller helseopplysninger.",
    "error_summary": "Noe må rettes:",
    "error_satisfaction": "Velg et tall fra 1 til 5.",
    "error_choice": "Velg et av svarene.",
    "error_free_text": "Teksten kan være på høyst 2000 tegn.",
    "thanks_text": "Svaret ditt er lagret. Du kan lukke siden.",
    "used_title": "Allerede besvart",
    "used_text": "Dette spørreskjemaet er allerede besvart. Hver lenke tar imot ett svar.",
    "invalid_title": "Lenken virker ikke",
    "invalid_text": "Vi finner ikke dette spørreskjemaet. Sjekk at hele lenken er med.",
}

_EN: dict[str, str] = {
    "lang_name": "English",
    "skip": "Skip to content",
    "logout": "Log out",
    "stats_title": "Joint consultation statistics",
    "stats_intro": (
        "Use of the service, travel avoided and survey answers. No names, contact details, "
        "postal codes or free text are included."
    ),
    "filters": "Filters",
    "from": "From (month)",
    "to": "To (month)",
    "group_by": "Group by",
    "month": "Month",
    "quarter": "Quarter",
    "municipality": "Municipality",
    "patient_group": "Patient group",
    "hospital": "Hospital",
    "department": "Department",
    "all": "All",
    "show": "Show",
    "download_csv": "Download CSV",
    "download_json": "JSON",
    "period": "Period",
    "total": "Total",
    "booked": "Booked",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "open": "Not finished",
    "travel_consultations": "With travel data",
    "duration": "Duration (minutes)",
    "p25": "25th percentile",
    "median": "Median",
    "p75": "75th percentile",
    "with_relatives": "With relatives",
    "relatives_share": "Share with relatives",
    "trend_title": "Joint consultations per period",
    "trend_desc": "Bars: booked. Circles: completed.",
    "by_municipality_title": "Completed joint consultations by municipality",
    "by_group_title": "Completed joint consultations by patient group",
    "co2_title": "Kg CO2e avoided per period (assumed)",
    "data_table": "Figures behind the chart",
    "travel_title": "Travel avoided («grønn helse»)",
    "travel_intro": (
        "Round trips home–hospital for the patient and relatives who would otherwise have "
        "travelled, minus the trip to the GP office. «Assumed» uses what the GP gave at "
        "booking; «confirmed» corrects it with the survey answer."
    ),
    "assumed": "Assumed",
    "confirmed": "Confirmed",
    "person_km": "Person-km",
    "vehicle_km": "Vehicle-km",
    "hours": "Hours of travel",
    "co2e_kg": "Kg CO2e",
    "health_sector_kr": "Kroner, health sector",
    "societal_kr": "Kroner, society",
    "work_hours_not_lost": "Work hours not lost",
    "factor_set": "Factor set",
    "factor_set_modified": "modified by local factors",
    "not_costed": "Not costed",
    "confirmation_title": "Answers about travelling",
    "confirmation_yes": "Would have travelled",
    "confirmation_no": "Would not have travelled",
    "confirmation_unanswered": "No answer",
    "participants_title": "Participants in completed consultations",
    "role": "Role",
    "count": "Count",
    "role_gp": "GP",
    "role_specialist": "Specialist",
    "role_patient": "Patient",
    "role_relative": "Relative",
    "role_interpreter": "Interpreter",
    "role_municipal_staff": "Municipal staff",
    "role_all": "All",
    "survey_title": "Survey",
    "survey_invited": "Invited",
    "survey_answered": "Answered",
    "survey_satisfaction": "Satisfaction (1–5)",
    "survey_would_travel": "Would the patient otherwise have travelled to the hospital?",
    "survey_physical_visit": "Physical visit still needed afterwards?",
    "survey_free_text_count": "Answers with free text (only the count is shown)",
    "yes": "Yes",
    "no": "No",
    "unknown": "Don't know",
    "blank": "No answer",
    "with": "With",
    "without": "Without",
    "suppression_note": (
        "Counts from 1 to 4 are shown as «<5». Cells marked «hidden» are held back so that "
        "small counts cannot be worked out from the totals."
    ),
    "suppressed": "hidden",
    "group_children_youth": "Children and young people",
    "group_mental_health_addiction": "Mental health and addiction",
    "group_frail_elderly": "Frail elderly",
    "group_multiple_chronic": "Several chronic conditions",
    "group_other": "Other",
    "unknown_municipality": "Unknown",
    "survey_page_title": "Survey after the joint consultation",
    "survey_intro": (
        "Thank you for taking part in the joint consultation on {date}. Your answers help us "
        "improve the service. It takes less than a minute."
    ),
    "q_satisfaction": "How satisfied were you with the joint consultation?",
    "q_satisfaction_help": "1 is very dissatisfied, 5 is very satisfied.",
    "q_would_travel": "Would the patient otherwise have travelled to the hospital for this?",
    "q_physical_visit": "Was a physical appointment still needed afterwards?",
    "q_free_text": "Anything else you want to say (optional)",
    "q_free_text_help": "Please do not write names or health information.",
    "send": "Send answers",
    "error_summary": "Please correct:",
    "error_satisfaction": "Choose a number from 1 to 5.",
    "error_choice": "Choose one of the answers.",
    "error_free_text": "The text can be at most 2000 characters.",
    "thanks_title": "Thank you",
    "thanks_text": "Your answers are saved. You can close this page.",
    "used_title": "Already answered",
    "used_text": "This survey has already been answered. Each link takes one answer.",
    "invalid_title": "The link does not work",
    "invalid_text": "We cannot find this survey. Check that the whole link was copied.",
}

_TEXTS = {"nn": _NN, "nb": _NB, "en": _EN}


def texts(language: str) -> Mapping[str, str]:
    """The words for a language; unknown languages get nynorsk."""
    return MappingProxyType(_TEXTS.get(language, _NN))


def pick_language(requested: str | None, fallback: str) -> str:
    if requested in LANGUAGES:
        return requested
    return fallback if fallback in LANGUAGES else "nn"
