"""The control-mode parser: real transcripts (whole and byte by byte), table tests, fuzzing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.capture import protocol as p
from watcher.capture.protocol import ControlParser, Reply, StrayLine
from watcher.errors import ProtocolError

# Real tmux 3.3a captures, copied from the project's shared reference (reference/transcripts/).
TRANSCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"

# --- turning the rendered transcripts back into the bytes tmux sent ------------------------------

_RECEIVED = re.compile(r"^<<< (?:\[(?P<tag>.+?)\] )?(?:\+\s*-?[\d.]+ms )?(?P<line>.*)$")
_RENDERED_BYTE = re.compile(r"\\x([0-9a-f]{2})")


def _unrender(text: str) -> bytes:
    """The transcript renderer showed non-ASCII bytes as \\xNN; everything else is literal."""
    out = bytearray()
    pos = 0
    for match in _RENDERED_BYTE.finditer(text):
        out += text[pos : match.start()].encode()
        out.append(int(match.group(1), 16))
        pos = match.end()
    out += text[pos:].encode()
    return bytes(out)


def transcript_streams(path: Path) -> dict[str, bytes]:
    """Every control client's stdout in a transcript, keyed ``<tag>#<spawn number>``."""
    text = path.read_text(encoding="utf-8")
    streams: dict[str, bytearray] = {}
    if path.name.startswith("09_"):
        # Raw pty bytes as Python reprs, one section per mode.
        section = "start"
        for line in text.splitlines():
            if line.startswith("=== "):
                section = line
            elif line.startswith("b'") or line.startswith('b"'):
                streams.setdefault(section, bytearray()).extend(ast.literal_eval(line))
        return {k: bytes(v) for k, v in streams.items() if b"%begin" in v}
    if path.name.startswith("15_"):
        # One run per line, lines joined by '|'.
        return {
            f"run{i}": line.replace("|", "\n").encode()
            for i, line in enumerate(text.splitlines())
            if line.startswith("%")
        }
    if path.name.startswith("19_"):
        # cat -A output: '$' marks each end of line.
        lines = [line[:-1] for line in text.splitlines() if line.endswith("$")]
        return {"cat-A": "".join(line + "\n" for line in lines).encode()}
    spawns: dict[str, int] = {}
    for line in text.splitlines():
        spawn = re.match(r"^### \[(.+?)\] spawn", line) or re.match(r"^### (spawn)", line)
        if spawn:
            spawns[spawn.group(1)] = spawns.get(spawn.group(1), 0) + 1
            if spawn.group(1) == "spawn":
                spawns["auto"] = spawns.get("auto", 0) + 1
            continue
        match = _RECEIVED.match(line)
        if match is None:
            continue
        content = match.group("line")
        if content.startswith("<EOF on stdout>"):
            continue
        tag = match.group("tag") or "auto"
        key = f"{tag}#{spawns.get(tag, 0)}"
        streams.setdefault(key, bytearray()).extend(_unrender(content) + b"\n")
    return {k: bytes(v) for k, v in streams.items()}


def all_streams() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(TRANSCRIPTS.glob("*.txt")):
        for key, data in transcript_streams(path).items():
            out.append((f"{path.name}:{key}", data))
    return out


STREAMS = all_streams()


def parse_whole(data: bytes) -> list[p.Message]:
    parser = ControlParser()
    return parser.feed(data) + parser.feed_eof()


def parse_bytewise(data: bytes) -> list[p.Message]:
    parser = ControlParser()
    out: list[p.Message] = []
    for i in range(len(data)):
        out += parser.feed(data[i : i + 1])
    return out + parser.feed_eof()


def parse(text: str | bytes) -> list[p.Message]:
    data = text.encode() if isinstance(text, str) else text
    return parse_whole(data)


# --- transcripts ---------------------------------------------------------------------------------


def test_every_transcript_has_control_streams() -> None:
    assert len(list(TRANSCRIPTS.glob("*.txt"))) == 19  # a missing folder must not pass silently
    names = {key.split(":")[0] for key, _ in STREAMS}
    expected = {
        path.name
        for path in TRANSCRIPTS.glob("*.txt")
        if not path.name.startswith(("08_", "13_", "16_", "17_"))  # no control-client bytes
    }
    assert expected <= names


@pytest.mark.parametrize(("key", "data"), STREAMS, ids=[k for k, _ in STREAMS])
def test_transcript_whole_equals_bytewise(key: str, data: bytes) -> None:
    whole = parse_whole(data)
    assert whole, key
    assert parse_bytewise(data) == whole
    # Two arbitrary split points give the same too.
    parser = ControlParser()
    third = len(data) // 3
    chunks = parser.feed(data[:third]) + parser.feed(data[third : 2 * third])
    assert chunks + parser.feed(data[2 * third :]) + parser.feed_eof() == whole
    for message in whole:
        assert isinstance(message, p.Message)
        assert not isinstance(message, p.UnknownNotification), message


def _stream(prefix: str) -> list[p.Message]:
    matches = [data for key, data in STREAMS if key.startswith(prefix)]
    assert matches, prefix
    return parse_whole(matches[0])


def test_transcript_01_lifecycle_messages() -> None:
    messages = _stream("01_lifecycle.txt:C1#1")
    assert messages[0] == Reply(1795690493, 264, 0, True, ())
    assert messages[1] == p.SessionChanged("$0", "s0")
    assert p.SessionRenamed("$1", "s1-renamed") in messages
    assert p.ClientSessionChanged("/dev/pts/3", "$1", "s1-renamed") in messages
    assert p.ClientDetached("/dev/pts/3") in messages
    assert p.UnlinkedWindowClose("@3") in messages
    assert p.WindowRenamed("@3", "win-own") in messages
    assert p.SessionWindowChanged("$0", "@4") in messages
    assert messages[-1] == p.Exit(None)
    replies = [m for m in messages if isinstance(m, Reply) and m.from_client]
    assert replies[0].lines == ("$0 s0 1795690493 /tmp 1 1",)
    outputs = [m for m in messages if isinstance(m, p.Output)]
    assert any(b"A\\B\tC\x1b[1mD\xc3\xa9\r\n" in m.data for m in outputs)
    layout = next(m for m in messages if isinstance(m, p.LayoutChange))
    assert layout.window_id == "@4" and layout.flags == "*"


def test_transcript_04_spoofed_end_flags_zero_and_stray() -> None:
    messages = _stream("04_command_protocol.txt:C1#1")
    replies = [m for m in messages if isinstance(m, Reply)]
    spoofed = next(r for r in replies if r.number == 279)
    assert spoofed.lines == ("%end 1 2 1",) and spoofed.ok
    errors = [r for r in replies if not r.ok]
    assert [r.lines for r in errors] == [
        ("parse error: unknown command: no-such-command",),
        ("can't find session: nosuch",),
    ]
    hooked = next(r for r in replies if r.number == 305)
    assert hooked.flags == 0 and hooked.lines == ("HOOKED",)
    assert StrayLine("SC-HOOK") in messages
    assert p.SessionRenamed("$1", "séance ☃") in messages
    assert p.SessionRenamed("$2", "has space\\ttab") in messages
    multi = next(r for r in replies if r.number == 280)
    assert multi.lines == ("x", "y")


def test_transcript_05_utf8_names() -> None:
    messages = _stream("05_utf8_locale.txt:UTF8(LANG=C.UTF-8)#1")
    reply = next(m for m in messages if isinstance(m, Reply) and m.number == 281)
    assert reply.lines == ("$1 café☃", "$0 s0")
    assert p.SessionRenamed("$1", "naïve") in messages


def test_transcript_09_cc_wrapper_and_crlf() -> None:
    cc = _stream("09_CC_dcs_wrapper.txt:=== -CC on a pty")
    assert cc[0] == Reply(1795690712, 264, 0, True, ())
    assert p.Exit(None) in cc
    assert cc[-1] == StrayLine("\x1b\\")
    plain = _stream("09_CC_dcs_wrapper.txt:=== -C on a pty")
    assert StrayLine("display-message -p hello") in plain  # the pty echo
    assert Reply(1795690714, 279, 1, True, ("hello",)) in plain


def test_transcript_10_extended_output_pause_continue() -> None:
    messages = _stream("10_flow_control_pause.txt:C1#1")
    ext = next(m for m in messages if isinstance(m, p.ExtendedOutput))
    assert ext == p.ExtendedOutput("%0", 0, b"echo hi\r\n")
    pause = next(m for m in messages if isinstance(m, Reply) and m.number == 273)
    assert pause.lines == ("%pause %0",)  # inside a block it is content, not a notification


def test_transcript_07_subscription_changed() -> None:
    messages = _stream("07_subscriptions.txt:C1#1")
    assert p.SubscriptionChanged("cwd", "$0", "@0", "0", "%0", "/tmp") in messages
    assert p.SubscriptionChanged("win", "$0", "@0", "0", "-", "bash") in messages
    assert StrayLine("dir") in messages  # newline in a path, outside a block


def test_transcript_19_path_newline_inside_block() -> None:
    messages = _stream("19_newline_in_path_escaping.txt")
    replies = [m for m in messages if isinstance(m, Reply) and m.from_client]
    assert replies[0].lines == ("$0 /tmp/x/nl\\ndir", "$1 /tmp")
    assert replies[1].lines == ("$0 /tmp/x/nl", "dir", "$1 /tmp")


# --- table tests: one per notification -----------------------------------------------------------

NOTIFICATIONS: list[tuple[str, p.Message]] = [
    ("%sessions-changed", p.SessionsChanged()),
    ("%session-renamed $1 a name  with  spaces", p.SessionRenamed("$1", "a name  with  spaces")),
    ("%session-renamed $1 ", p.SessionRenamed("$1", "")),
    ("%session-changed $0 s0", p.SessionChanged("$0", "s0")),
    (
        "%client-session-changed /dev/pts/3 $1 x y z",
        p.ClientSessionChanged("/dev/pts/3", "$1", "x y z"),
    ),
    ("%client-detached /dev/pts/3", p.ClientDetached("/dev/pts/3")),
    ("%client-detached client-123", p.ClientDetached("client-123")),
    ("%window-add @3", p.WindowAdd("@3")),
    ("%unlinked-window-add @3", p.UnlinkedWindowAdd("@3")),
    ("%window-close @3", p.WindowClose("@3")),
    ("%unlinked-window-close @3", p.UnlinkedWindowClose("@3")),
    ("%window-renamed @3 win own", p.WindowRenamed("@3", "win own")),
    ("%unlinked-window-renamed @3 x", p.UnlinkedWindowRenamed("@3", "x")),
    ("%session-window-changed $0 @4", p.SessionWindowChanged("$0", "@4")),
    ("%window-pane-changed @1 %3", p.WindowPaneChanged("@1", "%3")),
    ("%pane-mode-changed %1", p.PaneModeChanged("%1")),
    ("%layout-change @4 b261,80x24,0,0,4", p.LayoutChange("@4", "b261,80x24,0,0,4")),
    ("%layout-change @4 a b *", p.LayoutChange("@4", "a", "b", "*")),
    ("%output %0 hi\\015\\012\\134", p.Output("%0", b"hi\r\n\\")),
    ("%output %0 ", p.Output("%0", b"")),
    ("%output %0 bad\\9xx\\1", p.Output("%0", b"bad\\9xx\\1")),
    ("%extended-output %0 12 : data\\011", p.ExtendedOutput("%0", 12, b"data\t")),
    ("%extended-output %0 12 x y : d", p.ExtendedOutput("%0", 12, b"d", ("x", "y"))),
    ("%pause %0", p.Pause("%0")),
    ("%continue %0", p.Continue("%0")),
    (
        "%subscription-changed s $0 - - - : a : b",
        p.SubscriptionChanged("s", "$0", "-", "-", "-", "a : b"),
    ),
    ("%subscription-changed s $0 - - - :", p.SubscriptionChanged("s", "$0", "-", "-", "-", "")),
    ("%exit", p.Exit(None)),
    ("%exit server exited unexpectedly", p.Exit("server exited unexpectedly")),
    ("%config-error /x:1: bad", p.ConfigFileError("/x:1: bad")),
    ("%message hello there", p.DisplayMessage("hello there")),
    ("%paste-buffer-changed buffer0", p.PasteBufferChanged("buffer0")),
    ("%paste-buffer-deleted buffer0", p.PasteBufferDeleted("buffer0")),
    ("%brand-new-thing a b  c", p.UnknownNotification("brand-new-thing", "a b  c")),
    ("%", p.UnknownNotification("", "")),
    ("stray text", StrayLine("stray text")),
]


@pytest.mark.parametrize(("line", "expected"), NOTIFICATIONS, ids=[n[0] for n in NOTIFICATIONS])
def test_notification_table(line: str, expected: p.Message) -> None:
    assert parse(line + "\n") == [expected]
    assert parse(line + "\r\n") == [expected]
    assert parse_bytewise((line + "\n").encode()) == [expected]


MALFORMED = [
    "%begin 1 2",
    "%begin a b c",
    "%begin 1 2 3 4",
    "%begin",
    "%end 1 2 1",
    "%error 1 2 1",
    "%session-renamed 1 x",
    "%session-renamed",
    "%window-add 3",
    "%window-add",
    "%client-session-changed /dev/pts/3 $1",
    "%client-session-changed c @1 x",
    "%output",
    "%output 0 x",
    "%extended-output %0 12 data",
    "%extended-output %0 x : d",
    "%subscription-changed s $0 : v",
    "%session-window-changed $0",
    "%window-pane-changed @1",
    "%layout-change @1",
    "%pause 0",
    # Numbers that int() refuses or that are not ASCII digits (issue 9 §4).
    "%begin 1 " + "9" * 4301 + " 1",
    "%begin 1 2 " + "9" * 21,
    "%begin ¹ 2 1",
    "%extended-output %0 ² : x",
    "%extended-output %0 " + "9" * 4301 + " : x",
    "%session-renamed $² x",
    "%window-add @٣",
    "%pause %٣",
    "%window-pane-changed @1 %¹",
    "%session-window-changed $１ @1",
]


@pytest.mark.parametrize("line", MALFORMED)
def test_malformed_lines_raise_protocol_error(line: str) -> None:
    parser = ControlParser()
    with pytest.raises(ProtocolError):
        parser.feed(line.encode() + b"\n")
    # The error is sticky: the parser is broken from then on.
    with pytest.raises(ProtocolError):
        parser.feed(b"%sessions-changed\n")


# --- blocks --------------------------------------------------------------------------------------


def test_reply_matched_on_all_three_numbers() -> None:
    data = (
        "%begin 10 20 1\n%end 10 20 0\n%end 10 21 1\n%end 11 20 1\n%error 10 20 0\n"
        "%begin 1 2 3\n%sessions-changed\n%end 10 20 1\n"
    )
    assert parse(data) == [
        Reply(
            10,
            20,
            1,
            True,
            (
                "%end 10 20 0",
                "%end 10 21 1",
                "%end 11 20 1",
                "%error 10 20 0",
                "%begin 1 2 3",
                "%sessions-changed",
            ),
        )
    ]


def test_error_block_and_empty_block() -> None:
    assert parse("%begin 1 2 1\n%end 1 2 1\n%begin 1 3 1\noops\n%error 1 3 1\n") == [
        Reply(1, 2, 1, True, ()),
        Reply(1, 3, 1, False, ("oops",)),
    ]


def test_flags_zero_block_is_a_reply_with_flags_zero() -> None:
    (reply,) = parse("%begin 5 6 0\nHOOKED\n%end 5 6 0\n")
    assert reply == Reply(5, 6, 0, True, ("HOOKED",))
    assert not reply.from_client


def test_exit_inside_a_block_ends_it() -> None:
    assert parse("%begin 1 2 1\npartial\n%exit server exited unexpectedly\n") == [
        Reply(1, 2, 1, False, ("partial",)),
        p.Exit("server exited unexpectedly"),
    ]


def test_eof_inside_a_block_is_a_protocol_error() -> None:
    parser = ControlParser()
    assert parser.feed(b"%begin 1 2 1\nline\n") == []
    assert parser.in_block
    with pytest.raises(ProtocolError):
        parser.feed_eof()


def test_unterminated_last_line_is_flushed_at_eof() -> None:
    parser = ControlParser()
    assert parser.feed(b"%sessions-changed\n%exit") == [p.SessionsChanged()]
    assert parser.feed_eof() == [p.Exit(None)]


def test_empty_lines_outside_blocks_are_ignored_but_kept_inside() -> None:
    assert parse("\n\n%begin 1 2 1\n\n%end 1 2 1\n") == [Reply(1, 2, 1, True, ("",))]


def test_invalid_utf8_survives_with_surrogateescape() -> None:
    (message,) = parse(b"%session-renamed $1 caf\xe9\n")
    assert isinstance(message, p.SessionRenamed)
    assert message.name.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_decode_octal() -> None:
    assert p.decode_octal(b"a\\000b\\377\\400") == b"a\x00b\xff\\400"


# --- fuzzing -------------------------------------------------------------------------------------

_FRAGMENTS = [
    b"%begin 1 2 1\n",
    b"%begin 1 2 0\n",
    b"%end 1 2 1\n",
    b"%error 1 2 1\n",
    b"%end 1 2 0\n",
    b"%exit\n",
    b"%sessions-changed\n",
    b"%session-renamed $1 a b\n",
    b"%client-session-changed /dev/pts/1 $2 x\n",
    b"%output %1 \\033x\n",
    b"%window-add @",
    b"\r\n",
    b"\n",
    b"%",
    b"plain\n",
    b"\xff\xfe",
    "%begin 1 \u00b2 1\n".encode(),
    "%extended-output %1 \u00b2 : x\n".encode(),
    "%window-add @\u0663\n".encode(),
    b"%begin 1 " + b"9" * 30 + b" 1\n",
    b"0123456789",
]


def _run(chunks: list[bytes]) -> list[p.Message]:
    parser = ControlParser()
    out: list[p.Message] = []
    try:
        for chunk in chunks:
            out += parser.feed(chunk)
        out += parser.feed_eof()
    except ProtocolError:
        out.append(p.StrayLine("<protocol error>"))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(_FRAGMENTS)), max_size=30))
def test_any_bytes_give_structs_or_protocol_error(chunks: list[bytes]) -> None:
    messages = _run(chunks)
    assert all(isinstance(m, p.Message) for m in messages)
    # Splitting differently never changes the result.
    data = b"".join(chunks)
    assert _run([data[i : i + 1] for i in range(len(data))]) == _run([data])


# --- line length ---------------------------------------------------------------------------------


def test_a_line_past_the_limit_without_newline_is_refused_not_kept() -> None:
    """64 MB without a newline: ProtocolError once the limit is passed, and the buffer freed."""
    parser = ControlParser()
    chunk = b"x" * (1 << 20)
    with pytest.raises(ProtocolError, match="longer than"):
        for _ in range(64):
            parser.feed(chunk)
    assert len(parser._buffer) == 0  # nothing of it is kept
    with pytest.raises(ProtocolError):  # sticky
        parser.feed(b"%sessions-changed\n")


def test_messages_before_a_too_long_line_are_returned_first() -> None:
    parser = ControlParser()
    out = parser.feed(b"%sessions-changed\n" + b"y" * (p.MAX_LINE_BYTES + 10))
    assert out == [p.SessionsChanged()]
    with pytest.raises(ProtocolError):
        parser.feed(b"\n")


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_a_line_of_exactly_the_limit_is_accepted_whole_and_in_pieces(ending: bytes) -> None:
    name = b"n" * (p.MAX_LINE_BYTES - len(b"%window-renamed @1 "))
    data = b"%window-renamed @1 " + name + ending
    whole = ControlParser().feed(data)
    pieces = ControlParser()
    got: list[p.Message] = []
    for i in range(0, len(data), 1 << 20):
        got += pieces.feed(data[i : i + (1 << 20)])
    assert whole == got == [p.WindowRenamed("@1", name.decode())]


@pytest.mark.parametrize("split", [False, True])
def test_a_line_one_byte_past_the_limit_is_refused_however_it_arrives(split: bool) -> None:
    data = b"%window-renamed @1 " + b"n" * p.MAX_LINE_BYTES + b"\n"
    parser = ControlParser()
    with pytest.raises(ProtocolError, match="longer than"):
        if split:
            for i in range(0, len(data), 1 << 20):
                parser.feed(data[i : i + (1 << 20)])
        else:
            parser.feed(data)
