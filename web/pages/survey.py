"""The public survey page (`/sporjeskjema/{token}`): the link from the survey mail, no login.

The page is in the language the participant was invited in unless `?lang=` asks for another;
a wrong or used link gets a readable page, a bad answer the form back with what to correct.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from service.domain.errors import NotFound
from service.domain.i18n import N_
from service.domain.schemas import SurveyAnswerInput
from service.http import appkeys
from service.http.auth import csrf_exempt
from service.usecases.survey import OpenSurvey, SurveyAnswered, answer_survey, open_survey
from web.pages.context import render
from web.pages.i18n import language_from_query

FORM_FIELDS = ("satisfaction", "would_travel", "physical_visit_needed", "free_text")
ERROR_TEXTS = {
    "satisfaction": N_("Choose a number from 1 to 5."),
    "would_travel": N_("Choose one of the answers."),
    "physical_visit_needed": N_("Choose one of the answers."),
    "free_text": N_("The text can be at most 2000 characters."),
}
MESSAGES = {
    "invalid": (
        N_("The link does not work"),
        N_("We cannot find this survey. Check that the whole link was copied."),
    ),
    "used": (
        N_("Already answered"),
        N_("This survey has already been answered. Each link takes one answer."),
    ),
    "thanks": (N_("Thank you"), N_("Your answers are saved. You can close this page.")),
}


async def _message(
    request: web.Request, which: str, status: int, language: str | None = None
) -> web.Response:
    heading, text = MESSAGES[which]
    return await render(
        request,
        "survey/message.html",
        {"heading": heading, "text": text},
        status=status,
        language=language_from_query(request) or language,
    )


async def _form(
    request: web.Request,
    survey: OpenSurvey,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status: int,
) -> web.Response:
    language = language_from_query(request) or survey.language
    return await render(
        request,
        "survey/form.html",
        {
            "starts_at": survey.consultation_starts_at,
            "values": values,
            "errors": errors,
            # The answer comes back in the language the form was read in.
            "action": f"{request.path}?{urlencode({'lang': language})}",
        },
        status=status,
        language=language,
    )


async def _open(request: web.Request) -> OpenSurvey | web.Response:
    """The survey behind the link, or the page saying why it cannot be answered."""
    try:
        return await open_survey(request.app[appkeys.DB], request.match_info["token"])
    except NotFound:
        return await _message(request, "invalid", 404)
    except SurveyAnswered:
        return await _message(request, "used", 410)


async def survey_page(request: web.Request) -> web.Response:
    survey = await _open(request)
    if isinstance(survey, web.Response):
        return survey
    return await _form(request, survey, dict.fromkeys(FORM_FIELDS, ""), {}, 200)


@csrf_exempt  # The secret token in the URL is the authority; there is no session to ride on.
async def survey_submit(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    survey = await _open(request)
    if isinstance(survey, web.Response):
        return survey
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    data: dict[str, str] = {k: v for k, v in values.items() if v != ""}
    try:
        answer = SurveyAnswerInput.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "satisfaction"
            errors.setdefault(name, ERROR_TEXTS.get(name, ERROR_TEXTS["would_travel"]))
        return await _form(request, survey, values, errors, 422)
    try:
        await answer_survey(request.app[appkeys.DB], request.app[appkeys.CLOCK], token, answer)
    except SurveyAnswered:
        return await _message(request, "used", 410, survey.language)
    return await _message(request, "thanks", 200, survey.language)


def setup_survey_routes(app: web.Application) -> None:
    app.router.add_get("/sporjeskjema/{token}", survey_page)
    app.router.add_post("/sporjeskjema/{token}", survey_submit)
