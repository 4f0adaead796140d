"""The signalling codec: every message type both ways, and every kind of refusal."""

from __future__ import annotations

import json

import pytest

from signalling.codec import (
    MAX_MESSAGE_BYTES,
    Admit,
    AdmitAll,
    Admitted,
    Answer,
    AnswerFrom,
    Candidate,
    CandidateFrom,
    CodecError,
    Error,
    IceCandidate,
    IceServer,
    Join,
    Joined,
    Leave,
    Media,
    MediaState,
    Offer,
    OfferFrom,
    Participant,
    Participants,
    Ping,
    Pong,
    Remove,
    Removed,
    encode,
    parse_client_message,
    parse_relayed_frame,
    parse_server_message,
    relay_frame,
    relayed_from,
)

CANDIDATE = IceCandidate(
    candidate="candidate:1 1 UDP 2122252543 192.0.2.2 50000 typ host",
    sdpMid="0",
    sdpMLineIndex=0,
)
PARTICIPANT = Participant(
    participant_id="pa1",
    connection="c-1",
    display_name="Kari Nordmann",
    role="patient",
    is_clinician=False,
    state="waiting",
    media=MediaState(audio=True, video=False),
)

CLIENT_MESSAGES = [
    Join(protocol=1),
    Join(protocol=1, media=MediaState(audio=False, video=True)),
    Admit(participant_id="pa1"),
    AdmitAll(),
    Remove(participant_id="re1"),
    Offer(to="pa1", sdp="v=0\r\n"),
    Answer(to="gp1", sdp="v=0\r\n"),
    Candidate(to="gp1", candidate=CANDIDATE),
    Candidate(to="gp1", candidate=None),
    Candidate(to="gp1", candidate=IceCandidate(candidate="")),
    Media(audio=False, video=False),
    Leave(),
    Ping(),
    Ping(nonce="42"),
]

SERVER_MESSAGES = [
    Joined(
        you=PARTICIPANT,
        participants=[PARTICIPANT],
        ice_servers=[IceServer(urls=["turn:t:3478"], username="1:pa1", credential="x")],
        ice_servers_ttl=3600,
    ),
    Participants(participants=[PARTICIPANT]),
    Admitted(),
    Removed(),
    OfferFrom.model_validate({"from": "gp1", "from_connection": "c-2", "sdp": "v=0"}),
    AnswerFrom.model_validate({"from": "gp1", "from_connection": "c-2", "sdp": "v=0"}),
    CandidateFrom.model_validate({"from": "gp1", "from_connection": "c-2", "candidate": CANDIDATE}),
    Pong(nonce="42"),
    Error(code="not_admitted", message="wait", ref="offer"),
]


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_client_messages_round_trip(message: object) -> None:
    assert isinstance(
        message,
        Join | Admit | AdmitAll | Remove | Offer | Answer | Candidate | Media | Leave | Ping,
    )
    assert parse_client_message(encode(message)) == message


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_round_trip(message: object) -> None:
    assert isinstance(
        message,
        Joined
        | Participants
        | Admitted
        | Removed
        | OfferFrom
        | AnswerFrom
        | CandidateFrom
        | Pong
        | Error,
    )
    assert parse_server_message(encode(message)) == message


def test_relayed_messages_name_their_sender_as_from() -> None:
    relayed = relayed_from(Offer(to="pa1", sdp="v=0"), "gp1", "c-9")
    assert json.loads(encode(relayed)) == {
        "type": "offer",
        "from": "gp1",
        "from_connection": "c-9",
        "sdp": "v=0",
    }
    frame = relay_frame(Offer(to="pa1", sdp="v=0"), "gp1", "c-9")
    assert parse_relayed_frame(frame.encode()) == frame


# Texts that JSON must escape or keep: quotes, backslashes, control characters, line and
# paragraph separators, non-ASCII letters and characters outside the BMP.
AWKWARD = ['v=0\r\no=- 1 2 IN IP4 "x"', "a\\b\t\x01\x1f\x7f", "\u2028\u2029 ø 😀 </script>"]
PEER_MESSAGES = [
    *(Offer(to="pa1", sdp=text) for text in AWKWARD),
    *(Answer(to="pa1", sdp=text) for text in AWKWARD),
    *(
        Candidate(to="pa1", candidate=IceCandidate(candidate=text, sdpMid=text[:32]))
        for text in AWKWARD
    ),
    Candidate(to="pa1", candidate=CANDIDATE),
    Candidate(to="pa1", candidate=IceCandidate(candidate="", sdpMid=None, sdpMLineIndex=None)),
    Candidate(to="pa1", candidate=IceCandidate(candidate="c", sdpMLineIndex=1023)),
    Candidate(to="pa1", candidate=IceCandidate(candidate="c", usernameFragment='u"\\ø')),
    Candidate(to="pa1", candidate=None),
]


@pytest.mark.parametrize("message", PEER_MESSAGES)
def test_a_relay_frame_is_the_relayed_message(message: Offer | Answer | Candidate) -> None:
    # The hot path writes the frame by hand; the models say what it must be.
    frame = relay_frame(message, "gp_1", "c-Jf0q")
    expected = relayed_from(message, "gp_1", "c-Jf0q")
    assert parse_server_message(frame) == expected
    assert json.loads(frame) == json.loads(encode(expected))
    assert parse_relayed_frame(frame) == frame


@pytest.mark.parametrize("sender", [("gp 1", "c1"), ("gp1", 'c"1'), ("", "c1"), ("gp1", "c" * 65)])
def test_a_relay_frame_needs_plain_sender_ids(sender: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        relay_frame(Offer(to="pa1", sdp="v=0"), *sender)


def test_a_relayed_frame_is_checked_against_the_schema() -> None:
    for bad in (
        '{"type":"offer","from":"gp1","from_connection":"c1"}',
        '{"type":"offer","from":"gp 1","from_connection":"c1","sdp":"v=0"}',
        '{"type":"joined","from":"gp1","from_connection":"c1","sdp":"v=0"}',
        '{"type":"offer","from":"gp1","from_connection":"c1","sdp":"v=0","x":1}',
        "not json",
    ):
        with pytest.raises(ValueError):
            parse_relayed_frame(bad)


def test_relayed_candidate_keeps_the_candidate() -> None:
    relayed = relayed_from(Candidate(to="pa1", candidate=CANDIDATE), "gp1", "c-9")
    assert isinstance(relayed, CandidateFrom) and relayed.candidate == CANDIDATE


def test_browser_shaped_frames_parse() -> None:
    frame = json.dumps(
        {
            "type": "candidate",
            "to": "gp1",
            "candidate": {
                "candidate": CANDIDATE.candidate,
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        }
    )
    assert parse_client_message(frame) == Candidate(to="gp1", candidate=CANDIDATE)
    assert parse_client_message(b'{"type":"join","protocol":1}') == Join(protocol=1)


def test_a_candidate_as_chromium_serialises_it_is_accepted_and_relayed_whole() -> None:
    # RTCIceCandidate.toJSON() in Chromium and Firefox includes usernameFragment.
    frame = json.dumps(
        {
            "type": "candidate",
            "to": "gp1",
            "candidate": {
                "candidate": CANDIDATE.candidate,
                "sdpMid": "0",
                "sdpMLineIndex": 0,
                "usernameFragment": "Wq3b",
            },
        }
    )
    message = parse_client_message(frame)
    assert isinstance(message, Candidate) and message.candidate is not None
    assert message.candidate.usernameFragment == "Wq3b"
    relayed = json.loads(relay_frame(message, "pa1", "c-1"))
    assert relayed["candidate"]["usernameFragment"] == "Wq3b"


@pytest.mark.parametrize("end", ["null", '""'])
def test_end_of_candidates_is_null_or_an_empty_string(end: str) -> None:
    message = parse_client_message('{"type":"candidate","to":"gp1","candidate":' + end + "}")
    assert message == Candidate(to="gp1", candidate=None)
    assert json.loads(relay_frame(message, "pa1", "c-1"))["candidate"] is None


@pytest.mark.parametrize("depth", [201, 975, 5000])
def test_deeply_nested_json_is_malformed(depth: int) -> None:
    # 975 levels in under 2 KB raised RecursionError (a traceback, and the socket closed).
    for frame in (
        "[" * depth + "]" * depth,
        '{"type":"ping","x":' + '{"a":' * depth + "1" + "}" * (depth + 1),
    ):
        assert refusal(frame)[0] == "malformed"


def refusal(frame: str | bytes) -> tuple[str, str | None]:
    with pytest.raises(CodecError) as refused:
        parse_client_message(frame)
    return refused.value.code, refused.value.ref


def test_frame_over_64_kb_is_too_large() -> None:
    frame = json.dumps({"type": "offer", "to": "gp1", "sdp": "a" * MAX_MESSAGE_BYTES})
    assert refusal(frame) == ("too_large", None)


def test_size_is_counted_in_utf8_bytes() -> None:
    padding = MAX_MESSAGE_BYTES // 2
    frame = '{"type":"ping","nonce":"' + "ø" * padding + '"}'
    assert len(frame) < MAX_MESSAGE_BYTES
    assert refusal(frame)[0] == "too_large"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("", ("malformed", None)),
        ("{", ("malformed", None)),
        ("null", ("malformed", None)),
        ('"join"', ("malformed", None)),
        ("{}", ("malformed", None)),
        ('{"type": 7}', ("malformed", None)),
        ('{"type": "dance"}', ("unknown_type", "dance")),
        ('{"type": "joined", "you": {}}', ("unknown_type", "joined")),
        ('{"type": "join", "protocol": 2}', ("malformed", "join")),
        # As documented: `protocol: 1` is required, as an integer, and `media` has both fields.
        ('{"type": "join"}', ("malformed", "join")),
        ('{"type": "join", "protocol": true}', ("malformed", "join")),
        ('{"type": "join", "protocol": 1.0}', ("malformed", "join")),
        ('{"type": "join", "protocol": "1"}', ("malformed", "join")),
        ('{"type": "join", "protocol": 1, "media": {"audio": false}}', ("malformed", "join")),
        ('{"type": "join", "protocol": 1, "media": {}}', ("malformed", "join")),
        ('{"type": "candidate", "to": "gp1", "candidate": "x"}', ("malformed", "candidate")),
        ('{"type": "join", "room": "x"}', ("malformed", "join")),
        ('{"type": "media", "audio": "yes", "video": true}', ("malformed", "media")),
        ('{"type": "media", "audio": 1, "video": true}', ("malformed", "media")),
        ('{"type": "admit"}', ("malformed", "admit")),
        ('{"type": "admit", "participant_id": "a b"}', ("malformed", "admit")),
        ('{"type": "admit", "participant_id": ""}', ("malformed", "admit")),
        ('{"type": "offer", "to": "gp1", "sdp": ""}', ("malformed", "offer")),
        ('{"type": "candidate", "to": "gp1"}', ("malformed", "candidate")),
        (
            '{"type": "candidate", "to": "gp1", "candidate": {"sdpMid": "0"}}',
            ("malformed", "candidate"),
        ),
        ('{"type": "ping", "nonce": 5}', ("malformed", "ping")),
    ],
)
def test_refusals(frame: str, expected: tuple[str, str | None]) -> None:
    assert refusal(frame) == expected


def test_refusal_becomes_an_error_frame() -> None:
    with pytest.raises(CodecError) as refused:
        parse_client_message('{"type": "dance"}')
    frame = json.loads(encode(refused.value.to_frame()))
    assert frame == {
        "type": "error",
        "code": "unknown_type",
        "message": "unknown message type",
        "ref": "dance",
    }


def test_oversized_sdp_is_refused_even_under_the_frame_limit() -> None:
    assert refusal(json.dumps({"type": "offer", "to": "gp1", "sdp": "a" * 60_001})) == (
        "malformed",
        "offer",
    )
