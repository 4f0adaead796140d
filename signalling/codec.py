"""The signalling wire format: every WebSocket message, parsed and serialised in this one place.

Schemas are strict (no extra fields, no type coercion) so a mistake in the browser page shows up
as an `error` frame at once instead of half-working. See docs/signalling.md for the protocol.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal, NewType, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

MAX_MESSAGE_BYTES = 64 * 1024
PROTOCOL_VERSION = 1

# Plain ASCII ids so that "smaller id offers" compares the same in JavaScript and Python.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Sdp = Annotated[str, Field(min_length=1, max_length=60_000)]
Nonce = Annotated[str, Field(max_length=64)]

ErrorCode: TypeAlias = Literal[
    "too_large",
    "malformed",
    "unknown_type",
    "not_joined",
    "already_joined",
    "not_admitted",
    "peer_not_admitted",
    "not_clinician",
    "unknown_participant",
    "ended",
    "internal",
]
ParticipantState: TypeAlias = Literal["admitted", "waiting"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class MediaState(_Message):
    # Both required: a client that says only one of them has a bug worth seeing at once.
    audio: bool
    video: bool


BOTH_ON = MediaState(audio=True, video=True)


class IceCandidate(_Message):
    """What `RTCIceCandidate.toJSON()` gives (Chromium and Firefox include `usernameFragment`)."""

    candidate: Annotated[str, Field(max_length=1000)]
    sdpMid: Annotated[str, Field(max_length=32)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1023)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Participant(_Message):
    participant_id: Id
    connection: Id
    display_name: Annotated[str, Field(max_length=200)]
    role: Annotated[str, Field(max_length=40)]
    is_clinician: bool
    state: ParticipantState
    media: MediaState


# --- client → server -------------------------------------------------------------------------


class Join(_Message):
    type: Literal["join"] = "join"
    # Required on the wire. A strict int: `true` and `1.0` equal 1 in Python, and a Literal
    # alone would let them through.
    protocol: Annotated[int, Field(strict=True, ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION)]
    media: MediaState = BOTH_ON


class Admit(_Message):
    type: Literal["admit"] = "admit"
    participant_id: Id


class AdmitAll(_Message):
    type: Literal["admit_all"] = "admit_all"


class Remove(_Message):
    type: Literal["remove"] = "remove"
    participant_id: Id


class Offer(_Message):
    type: Literal["offer"] = "offer"
    to: Id
    sdp: Sdp


class Answer(_Message):
    type: Literal["answer"] = "answer"
    to: Id
    sdp: Sdp


def _end_of_candidates(value: object) -> object:
    return None if value == "" else value


class Candidate(_Message):
    type: Literal["candidate"] = "candidate"
    to: Id
    # `null`, or an empty string, is the end of candidates; relayed as `null`.
    candidate: Annotated[IceCandidate | None, BeforeValidator(_end_of_candidates)]


class Media(_Message):
    type: Literal["media"] = "media"
    audio: bool
    video: bool


class Leave(_Message):
    type: Literal["leave"] = "leave"


class Ping(_Message):
    type: Literal["ping"] = "ping"
    nonce: Nonce | None = None


ClientMessage: TypeAlias = Annotated[
    Join | Admit | AdmitAll | Remove | Offer | Answer | Candidate | Media | Leave | Ping,
    Field(discriminator="type"),
]
PeerMessage: TypeAlias = Offer | Answer | Candidate

# --- server → client -------------------------------------------------------------------------


class Joined(_Message):
    type: Literal["joined"] = "joined"
    you: Participant
    participants: list[Participant]
    ice_servers: list[IceServer]
    ice_servers_ttl: Annotated[int, Field(ge=0)]


class Participants(_Message):
    type: Literal["participants"] = "participants"
    participants: list[Participant]


class Admitted(_Message):
    type: Literal["admitted"] = "admitted"


class Removed(_Message):
    type: Literal["removed"] = "removed"


EndedReason: TypeAlias = Literal["cancelled", "over"]


class Ended(_Message):
    """The call is over for everyone: the consultation was cancelled, or its room has closed."""

    type: Literal["ended"] = "ended"
    reason: EndedReason


class OfferFrom(_Message):
    type: Literal["offer"] = "offer"
    from_: Id = Field(alias="from")
    from_connection: Id
    sdp: Sdp


class AnswerFrom(_Message):
    type: Literal["answer"] = "answer"
    from_: Id = Field(alias="from")
    from_connection: Id
    sdp: Sdp


class CandidateFrom(_Message):
    type: Literal["candidate"] = "candidate"
    from_: Id = Field(alias="from")
    from_connection: Id
    candidate: IceCandidate | None


class Pong(_Message):
    type: Literal["pong"] = "pong"
    nonce: Nonce | None = None


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: Annotated[str, Field(max_length=500)]
    ref: Annotated[str, Field(max_length=40)] | None = None


ServerMessage: TypeAlias = Annotated[
    Joined
    | Participants
    | Admitted
    | Removed
    | Ended
    | OfferFrom
    | AnswerFrom
    | CandidateFrom
    | Pong
    | Error,
    Field(discriminator="type"),
]
RelayedMessage: TypeAlias = OfferFrom | AnswerFrom | CandidateFrom
# The JSON text of a relayed offer, answer or candidate, made only by `relay_frame` or
# `parse_relayed_frame`: whatever holds one may send it to a browser as it is.
RelayedFrame = NewType("RelayedFrame", str)

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
# The adapter's own validate_json adds about 0.3 µs of Python around this on every frame.
_validate_client_json = _client_adapter.validator.validate_json
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
_relayed_adapter: TypeAdapter[RelayedMessage] = TypeAdapter(
    Annotated[RelayedMessage, Field(discriminator="type")]
)


class CodecError(Exception):
    """A frame that cannot be accepted; `code` and `ref` go into the error frame."""

    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.ref = ref

    def to_frame(self) -> Error:
        return Error(code=self.code, message=self.message, ref=self.ref)


def _check_size(raw: str | bytes) -> None:
    # A str takes at most 4 UTF-8 bytes per character: most frames need no encoding to count.
    if isinstance(raw, str) and len(raw) * 4 <= MAX_MESSAGE_BYTES:
        return
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > MAX_MESSAGE_BYTES:
        raise CodecError("too_large", f"frame of {size} bytes; the limit is {MAX_MESSAGE_BYTES}")


def _decode_object(raw: str | bytes) -> dict[str, object]:
    _check_size(raw)
    try:
        # pydantic-core's parser, not json.loads: it refuses deep nesting (over 200 levels) with
        # a ValueError, where json.loads recursed and raised RecursionError inside the hub.
        value = from_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CodecError("malformed", "not valid JSON (or nested too deeply)") from None
    if not isinstance(value, dict):
        raise CodecError("malformed", "a message is a JSON object")
    return value


def _type_of(value: dict[str, object]) -> str | None:
    kind = value.get("type")
    return kind[:40] if isinstance(kind, str) else None


def _refusal(error: ValidationError, ref: str | None) -> CodecError:
    first = error.errors()[0]
    if first["type"] == "union_tag_invalid" and ref is not None:
        return CodecError("unknown_type", "unknown message type", ref)
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return CodecError("malformed", "a message needs a string 'type'", ref)
    where = ".".join(str(part) for part in first["loc"][1:]) or "message"
    return CodecError("malformed", f"{where}: {first['msg']}", ref)


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one frame from a client, or raise CodecError saying why it is refused."""
    _check_size(raw)
    try:
        # The fast path for the common case: pydantic parses and validates the JSON in one go.
        message: ClientMessage = _validate_client_json(raw, strict=True)
        return message
    except ValidationError:
        pass  # the slower path below says precisely why the frame is refused
    value = _decode_object(raw)
    try:
        return _client_adapter.validate_python(value, strict=True)
    except ValidationError as error:
        raise _refusal(error, _type_of(value)) from None


def parse_server_message(raw: str | bytes) -> ServerMessage:
    """Parse one frame from the server (used by the Python peer and by tests)."""
    value = _decode_object(raw)
    try:
        return _server_adapter.validate_python(value, strict=True)
    except ValidationError as error:
        raise _refusal(error, _type_of(value)) from None


def relayed_from(message: PeerMessage, sender: str, sender_connection: str) -> RelayedMessage:
    """The frame the addressee of an offer, answer or candidate receives."""
    fields: dict[str, object] = {"from": sender, "from_connection": sender_connection}
    match message:
        case Offer():
            return OfferFrom.model_validate({**fields, "sdp": message.sdp})
        case Answer():
            return AnswerFrom.model_validate({**fields, "sdp": message.sdp})
        case Candidate():
            return CandidateFrom.model_validate({**fields, "candidate": message.candidate})


_id_match = re.compile(ID_PATTERN).match


@lru_cache(maxsize=4096)
def _relay_head(sender: str, sender_connection: str) -> str:
    # The ids go into the text unquoted by the encoder, so they must be plain ids. One socket
    # sends many relays with the same two ids: checked once, not on every message.
    if _id_match(sender) is None or _id_match(sender_connection) is None:
        raise ValueError("sender ids must be plain ids")
    return f'"from":"{sender}","from_connection":"{sender_connection}"'


def _json_string(text: str) -> str:
    # pydantic-core writes a JSON string several times faster than json's encode_basestring
    # for an SDP full of CRLFs (0.8 against 3.5 µs for 1 KB).
    return to_json(text).decode()


def relay_frame(message: PeerMessage, sender: str, sender_connection: str) -> RelayedFrame:
    """The frame the addressee of an offer, answer or candidate receives, as JSON text.

    The same message as `encode(relayed_from(...))`, but written straight from the fields the
    parser has already validated: this runs for every relayed message, and a second validation
    and a model dump cost more than the rest of the relay.
    """
    head = _relay_head(sender, sender_connection)
    if isinstance(message, Candidate):
        candidate = message.candidate
        if candidate is None:
            body = "null"
        else:
            mid = "null" if candidate.sdpMid is None else _json_string(candidate.sdpMid)
            index = "null" if candidate.sdpMLineIndex is None else str(candidate.sdpMLineIndex)
            fragment = candidate.usernameFragment
            ufrag = "null" if fragment is None else _json_string(fragment)
            body = (
                f'{{"candidate":{_json_string(candidate.candidate)},'
                f'"sdpMid":{mid},"sdpMLineIndex":{index},"usernameFragment":{ufrag}}}'
            )
        return RelayedFrame(f'{{"type":"candidate",{head},"candidate":{body}}}')
    return RelayedFrame(f'{{"type":"{message.type}",{head},"sdp":{_json_string(message.sdp)}}}')


def parse_relayed_frame(raw: str | bytes) -> RelayedFrame:
    """Check a relayed frame that crossed the backplane before any browser gets it."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    _relayed_adapter.validate_json(text, strict=True)
    return RelayedFrame(text)


def encode(message: _Message) -> str:
    """Serialise any protocol message as the JSON text of one frame."""
    return message.model_dump_json(by_alias=True, exclude_none=False)
