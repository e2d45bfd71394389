"""tmux control-mode wire protocol: bytes in, message structs out, no I/O (modelled on h11).

``ControlParser.feed(data)`` takes whatever bytes arrived from a ``tmux -C`` client's stdout and
returns the messages completed by them: one frozen msgspec struct per notification of the tmux
3.3a catalogue (plus the 3.4+ ones), :class:`UnknownNotification` for anything newer,
:class:`StrayLine` for non-``%`` lines outside a reply block, and :class:`Reply` for a
``%begin``/``%end``/``%error`` block. Feeding the same bytes whole or one byte at a time gives the
same messages. Broken framing raises :class:`watcher.errors.ProtocolError`; nothing else is raised.

Decisions (see ``docs/capture-tmux.md``):

* Lines end in ``\\n``; a trailing ``\\r`` is dropped (``-C`` on a pty, ``-CC``), and the ``-CC``
  DCS introducer ``ESC P 1000 p`` at the very start of the stream is skipped.
* Text is decoded as UTF-8 with ``surrogateescape`` so no byte is lost.
* Session and window names are kept exactly as tmux sends them, i.e. in tmux's vis encoding
  (a tab in a name is the two characters ``\\t``). ``list-sessions -F '#{session_name}'`` prints
  the same form, so names from notifications and from listings compare equal.
* ``%output``/``%extended-output`` payloads are decoded to bytes (``\\ooo`` octal escapes).
* A block ends only at ``%end``/``%error`` carrying the same three numbers as its ``%begin``;
  a line such as ``%end 1 2 1`` inside a block is content. ``%exit`` inside a block ends the
  block as failed (tmux 1.8 sent no end guard; a server that dies mid-reply sends ``%exit``),
  as iTerm2 does.
* Numbers and ids (``$1``, ``@2``, ``%3``, guards, ages) are ASCII digits only, at most 20 of them
  (tmux prints them with ``%u``/``%lld``); ``$²`` or ``@٣`` is a ``ProtocolError``.
* A line may be at most :data:`MAX_LINE_BYTES` long; a longer one (or an unterminated run of bytes
  past it) is a ``ProtocolError``, so a broken stream cannot fill memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from watcher.errors import ProtocolError

__all__ = [
    "ClientDetached",
    "ClientSessionChanged",
    "ConfigFileError",
    "Continue",
    "ControlParser",
    "DisplayMessage",
    "Exit",
    "ExtendedOutput",
    "LayoutChange",
    "Message",
    "Notification",
    "Output",
    "PaneModeChanged",
    "PasteBufferChanged",
    "PasteBufferDeleted",
    "Pause",
    "Reply",
    "SessionChanged",
    "SessionRenamed",
    "SessionWindowChanged",
    "SessionsChanged",
    "StrayLine",
    "SubscriptionChanged",
    "UnknownNotification",
    "UnlinkedWindowAdd",
    "UnlinkedWindowClose",
    "UnlinkedWindowRenamed",
    "WindowAdd",
    "WindowClose",
    "WindowPaneChanged",
    "WindowRenamed",
    "decode_octal",
]


class Message(msgspec.Struct, frozen=True):
    """Base of everything the parser yields."""


class Notification(Message, frozen=True):
    """Base of every ``%name ...`` line outside a reply block."""


class SessionsChanged(Notification, frozen=True):
    """``%sessions-changed``: some session was created or destroyed (no payload: re-list)."""


class SessionRenamed(Notification, frozen=True):
    """``%session-renamed $ID NAME``: any session was renamed."""

    session_id: str
    name: str


class SessionChanged(Notification, frozen=True):
    """``%session-changed $ID NAME``: *this* client was attached to (or moved to) a session."""

    session_id: str
    name: str


class ClientSessionChanged(Notification, frozen=True):
    """``%client-session-changed CLIENT $ID NAME``: another client attached or switched."""

    client: str
    session_id: str
    name: str


class ClientDetached(Notification, frozen=True):
    """``%client-detached CLIENT``: another client went away."""

    client: str


class WindowAdd(Notification, frozen=True):
    """``%window-add @W``: a window was linked to this client's session."""

    window_id: str


class UnlinkedWindowAdd(Notification, frozen=True):
    """``%unlinked-window-add @W``: a window was linked to another session."""

    window_id: str


class WindowClose(Notification, frozen=True):
    """``%window-close @W``: a window was unlinked from this client's session."""

    window_id: str


class UnlinkedWindowClose(Notification, frozen=True):
    """``%unlinked-window-close @W``: a window was unlinked (tmux 3.3a sends this for own too)."""

    window_id: str


class WindowRenamed(Notification, frozen=True):
    """``%window-renamed @W NAME``: a window of this client's session was renamed."""

    window_id: str
    name: str


class UnlinkedWindowRenamed(Notification, frozen=True):
    """``%unlinked-window-renamed @W NAME``: a window of another session was renamed."""

    window_id: str
    name: str


class SessionWindowChanged(Notification, frozen=True):
    """``%session-window-changed $ID @W``: a session's current window changed."""

    session_id: str
    window_id: str


class WindowPaneChanged(Notification, frozen=True):
    """``%window-pane-changed @W %P``: a window's active pane changed."""

    window_id: str
    pane_id: str


class PaneModeChanged(Notification, frozen=True):
    """``%pane-mode-changed %P``: a pane entered or left a mode (copy mode, ...)."""

    pane_id: str


class LayoutChange(Notification, frozen=True):
    """``%layout-change @W LAYOUT VISIBLE FLAGS`` (older tmux sends only the layout)."""

    window_id: str
    layout: str
    visible_layout: str = ""
    flags: str = ""


class Output(Notification, frozen=True):
    """``%output %P DATA``: pane output, octal escapes decoded to the original bytes."""

    pane_id: str
    data: bytes


class ExtendedOutput(Notification, frozen=True):
    """``%extended-output %P AGE ... : DATA`` (``pause-after`` mode); ``reserved`` keeps extras."""

    pane_id: str
    age_ms: int
    data: bytes
    reserved: tuple[str, ...] = ()


class Pause(Notification, frozen=True):
    """``%pause %P``: output of a pane is paused for this client."""

    pane_id: str


class Continue(Notification, frozen=True):
    """``%continue %P``: output of a pane resumed."""

    pane_id: str


class SubscriptionChanged(Notification, frozen=True):
    """``%subscription-changed NAME $S @W IDX %P : VALUE`` (``-`` for fields that do not apply)."""

    name: str
    session_id: str
    window_id: str
    window_index: str
    pane_id: str
    value: str


class Exit(Notification, frozen=True):
    """``%exit [REASON]``: the control client is about to exit."""

    reason: str | None = None


class ConfigFileError(Notification, frozen=True):
    """``%config-error ERROR`` (tmux 3.4+)."""

    error: str


class DisplayMessage(Notification, frozen=True):
    """``%message MESSAGE`` (tmux 3.4+)."""

    message: str


class PasteBufferChanged(Notification, frozen=True):
    """``%paste-buffer-changed NAME`` (tmux 3.4+)."""

    name: str


class PasteBufferDeleted(Notification, frozen=True):
    """``%paste-buffer-deleted NAME`` (tmux 3.4+)."""

    name: str


class UnknownNotification(Notification, frozen=True):
    """A ``%name`` line this parser does not know; ``args`` is the raw rest of the line."""

    name: str
    args: str


class StrayLine(Message, frozen=True):
    """A non-``%`` line outside any block (e.g. printed by a hook); log and ignore."""

    line: str


class Reply(Message, frozen=True):
    """A ``%begin``...``%end``/``%error`` block.

    ``flags & 1`` means it answers a command this client wrote to stdin; ``ok`` is False for
    ``%error`` (and for a block cut short by ``%exit``); ``lines`` is the output, unescaped.
    """

    time: int
    number: int
    flags: int
    ok: bool
    lines: tuple[str, ...]

    @property
    def from_client(self) -> bool:
        """True when this block answers a command written to this client's stdin."""
        return bool(self.flags & 1)


# --- helpers ------------------------------------------------------------------------------------

_OCTAL = re.compile(rb"\\([0-3][0-7][0-7])")
# tmux prints these numbers with %u, %d or %lld: 20 digits hold any of them, and int() of a
# longer run (4,301 digits) raises ValueError.
_NUMBER = re.compile(r"[0-9]{1,20}")
_GUARD = re.compile(r"([0-9]{1,20}) ([0-9]{1,20}) ([0-9]{1,20})")
MAX_LINE_BYTES = 8 * 1024 * 1024
"""The longest line accepted. The longest text tmux can legitimately put on one line is a name:
a window name set by a program through an escape sequence may be up to tmux's input buffer limit
(1 MiB, ``INPUT_BUF_LIMIT`` in input.c), and tmux vis-encodes names, up to 4 bytes per byte (4 MiB);
paths are PATH_MAX (4 KiB, 16 KiB encoded) and names given on a command line are bounded by tmux's
16 KiB message size. Twice the largest, so no real line is refused and no broken stream is kept."""
_DCS_START = b"\x1bP1000p"


def decode_octal(data: bytes) -> bytes:
    """Decode tmux's ``\\ooo`` escapes (any byte < 0x20 and backslash); other bytes pass through.

    A backslash not followed by three octal digits is kept as it is (tmux never sends one).
    """
    if b"\\" not in data:
        return data
    return _OCTAL.sub(lambda m: bytes((int(m.group(1), 8),)), data)


def _fail(message: str, line: str) -> ProtocolError:
    shown = line if len(line) <= 120 else line[:117] + "..."
    return ProtocolError(
        f"tmux control mode: {message}: {shown!r}",
        hint="this tmux sent something the watcher does not understand; check `tmux -V` "
        "(3.2 or newer is supported) and report the line",
    )


def _check_id(value: str, sigil: str, what: str, line: str) -> str:
    if len(value) < 2 or value[0] != sigil or _NUMBER.fullmatch(value, 1) is None:
        raise _fail(f"malformed {what} {value!r}", line)
    return value


def _words(rest: str, count: int, line: str, name: str) -> list[str]:
    """Split into exactly ``count`` fields, the last one taking the rest of the line."""
    parts = rest.split(" ", count - 1)
    if len(parts) < count:
        raise _fail(f"%{name} with too few fields", line)
    return parts


def _one_id(sigil: str, what: str, cls: type[Notification]) -> Callable[[str, str], Notification]:
    def parse(rest: str, line: str) -> Notification:
        # Later tmux versions may append fields; the id is the first word.
        return cls(_check_id(rest.split(" ", 1)[0], sigil, what, line))

    return parse


def _id_and_name(
    sigil: str, what: str, cls: type[Notification]
) -> Callable[[str, str], Notification]:
    def parse(rest: str, line: str) -> Notification:
        ident, _, text = rest.partition(" ")
        return cls(_check_id(ident, sigil, what, line), text)

    return parse


def _text(cls: type[Notification]) -> Callable[[str, str], Notification]:
    def parse(rest: str, line: str) -> Notification:
        return cls(rest)

    return parse


def _client_session_changed(rest: str, line: str) -> Notification:
    client, session, name = _words(rest, 3, line, "client-session-changed")
    return ClientSessionChanged(client, _check_id(session, "$", "session id", line), name)


def _session_window_changed(rest: str, line: str) -> Notification:
    session, window = _words(rest, 2, line, "session-window-changed")[:2]
    return SessionWindowChanged(
        _check_id(session, "$", "session id", line),
        _check_id(window.split(" ", 1)[0], "@", "window id", line),
    )


def _window_pane_changed(rest: str, line: str) -> Notification:
    window, pane = _words(rest, 2, line, "window-pane-changed")
    return WindowPaneChanged(
        _check_id(window, "@", "window id", line),
        _check_id(pane.split(" ", 1)[0], "%", "pane id", line),
    )


def _layout_change(rest: str, line: str) -> Notification:
    parts = rest.split(" ", 3)
    if len(parts) < 2:
        raise _fail("%layout-change with too few fields", line)
    window = _check_id(parts[0], "@", "window id", line)
    return LayoutChange(window, parts[1], *parts[2:4])


def _subscription_changed(rest: str, line: str) -> Notification:
    head, sep, value = rest.partition(" : ")
    if not sep:
        if not rest.endswith(" :"):
            raise _fail("%subscription-changed without ' : '", line)
        head, value = rest[:-2], ""
    fields = head.split(" ")
    if len(fields) != 5:
        raise _fail("malformed %subscription-changed", line)
    name, session, window, index, pane = fields
    return SubscriptionChanged(name, session, window, index, pane, value)


def _exit(rest: str, line: str) -> Notification:
    return Exit(rest or None)


_NOTIFICATIONS: dict[str, Callable[[str, str], Notification]] = {
    "sessions-changed": lambda rest, line: SessionsChanged(),
    "session-renamed": _id_and_name("$", "session id", SessionRenamed),
    "session-changed": _id_and_name("$", "session id", SessionChanged),
    "client-session-changed": _client_session_changed,
    "client-detached": _text(ClientDetached),
    "window-add": _one_id("@", "window id", WindowAdd),
    "unlinked-window-add": _one_id("@", "window id", UnlinkedWindowAdd),
    "window-close": _one_id("@", "window id", WindowClose),
    "unlinked-window-close": _one_id("@", "window id", UnlinkedWindowClose),
    "window-renamed": _id_and_name("@", "window id", WindowRenamed),
    "unlinked-window-renamed": _id_and_name("@", "window id", UnlinkedWindowRenamed),
    "session-window-changed": _session_window_changed,
    "window-pane-changed": _window_pane_changed,
    "pane-mode-changed": _one_id("%", "pane id", PaneModeChanged),
    "layout-change": _layout_change,
    "pause": _one_id("%", "pane id", Pause),
    "continue": _one_id("%", "pane id", Continue),
    "subscription-changed": _subscription_changed,
    "exit": _exit,
    "config-error": _text(ConfigFileError),
    "message": _text(DisplayMessage),
    "paste-buffer-changed": _text(PasteBufferChanged),
    "paste-buffer-deleted": _text(PasteBufferDeleted),
}


def _parse_output(raw: bytes, line: str) -> Notification:
    # raw = b"%output %P DATA"; the payload stays bytes so octal escapes give the exact bytes back.
    parts = raw.split(b" ", 2)
    if len(parts) < 2:
        raise _fail("%output with too few fields", line)
    pane = _check_id(parts[1].decode("utf-8", "surrogateescape"), "%", "pane id", line)
    return Output(pane, decode_octal(parts[2] if len(parts) == 3 else b""))


def _parse_extended_output(raw: bytes, line: str) -> Notification:
    head, sep, payload = raw.partition(b" : ")
    if not sep:
        if raw.endswith(b" :"):
            head, payload = raw[:-2], b""
        else:
            raise _fail("%extended-output without ' : '", line)
    fields = head.decode("utf-8", "surrogateescape").split(" ")
    if len(fields) < 3 or _NUMBER.fullmatch(fields[2]) is None:
        raise _fail("malformed %extended-output", line)
    pane = _check_id(fields[1], "%", "pane id", line)
    return ExtendedOutput(pane, int(fields[2]), decode_octal(payload), tuple(fields[3:]))


def _guard(rest: str) -> tuple[int, int, int] | None:
    match = _GUARD.fullmatch(rest)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


# --- the parser ---------------------------------------------------------------------------------


class ControlParser:
    """Incremental parser for one control-mode stream (one ``tmux -C`` process's stdout).

    Not thread-safe; one instance per connection. After a :class:`ProtocolError` the parser is
    broken and every further ``feed`` raises the same error again.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0
        self._first_line = True
        self._block: tuple[int, int, int] | None = None
        self._block_lines: list[str] = []
        self._error: ProtocolError | None = None
        self._ended = False

    @property
    def in_block(self) -> bool:
        """True while inside a ``%begin`` block."""
        return self._block is not None

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes from the stream; return every message they complete, in order.

        Raises :class:`ProtocolError` at the first malformed line (or on the next call, when
        messages before it are returned first).
        """
        if self._error is not None:
            raise self._error
        if self._ended:
            raise ProtocolError("tmux control mode: data fed after end of stream")
        buffer = self._buffer
        scan = self._scan_from  # everything before this offset is known to hold no newline
        buffer += data
        messages: list[Message] = []
        start = 0
        while True:
            newline = buffer.find(b"\n", max(start, scan))
            if newline < 0:
                break
            raw = bytes(buffer[start:newline])
            start = newline + 1
            try:
                self._check_length(len(raw), raw)
                self._line(raw, messages)
            except ProtocolError:
                # Hand out what came before the bad line; the (sticky) error is raised by the
                # next call, so results do not depend on how the bytes were chunked.
                if messages:
                    return messages
                raise
        if start:
            del buffer[:start]
        self._scan_from = len(buffer)
        if len(buffer) > MAX_LINE_BYTES + 1:  # +1: a line's trailing "\r" may still be to come
            try:
                self._check_length(len(buffer), bytes(buffer[:120]))
            except ProtocolError:
                buffer.clear()
                self._scan_from = 0
                if messages:
                    return messages
                raise
        return messages

    def _check_length(self, length: int, raw: bytes) -> None:
        """A line longer than MAX_LINE_BYTES (its ``\\r`` aside) breaks the stream."""
        if length - raw.endswith(b"\r") > MAX_LINE_BYTES:
            self._error = _fail(
                f"a line longer than {MAX_LINE_BYTES:,} bytes",
                bytes(raw[:120]).decode("utf-8", "surrogateescape"),
            )
            raise self._error

    def feed_eof(self) -> list[Message]:
        """The stream ended: flush a last unterminated line; an open block is a ProtocolError."""
        if self._error is not None:
            raise self._error
        messages: list[Message] = []
        if self._buffer and not self._ended:
            raw = bytes(self._buffer)
            self._buffer.clear()
            self._scan_from = 0
            self._check_length(len(raw), raw)
            self._line(raw, messages)
        self._ended = True
        if self._block is not None:
            time, number, flags = self._block
            self._block = None
            self._block_lines = []
            self._error = _fail(
                "stream ended inside a reply block", f"%begin {time} {number} {flags}"
            )
            raise self._error
        return messages

    def _line(self, raw: bytes, out: list[Message]) -> None:
        try:
            self._dispatch(raw, out)
        except ProtocolError as exc:
            self._error = exc
            raise

    def _dispatch(self, raw: bytes, out: list[Message]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._first_line:
            self._first_line = False
            if raw.startswith(_DCS_START):
                raw = raw[len(_DCS_START) :]
        line = raw.decode("utf-8", "surrogateescape")

        if self._block is not None:
            if line.startswith(("%end ", "%error ")):
                tag, _, rest = line.partition(" ")
                if _guard(rest) == self._block:
                    time, number, flags = self._block
                    out.append(Reply(time, number, flags, tag == "%end", tuple(self._block_lines)))
                    self._block = None
                    self._block_lines = []
                    return
            elif line == "%exit" or line.startswith("%exit "):
                # The server went away mid-reply (or tmux 1.8 skipped the end guard).
                time, number, flags = self._block
                out.append(Reply(time, number, flags, False, tuple(self._block_lines)))
                self._block = None
                self._block_lines = []
                out.append(Exit(line[6:] or None))
                return
            self._block_lines.append(line)
            return

        if not line.startswith("%"):
            if line:
                out.append(StrayLine(line))
            return

        name, _, rest = line[1:].partition(" ")
        if name == "begin":
            guard = _guard(rest)
            if guard is None:
                raise _fail("malformed %begin guard (expected three numbers)", line)
            self._block = guard
            self._block_lines = []
            return
        if name in ("end", "error"):
            raise _fail(f"%{name} outside a reply block", line)
        if name == "output":
            out.append(_parse_output(raw, line))
            return
        if name == "extended-output":
            out.append(_parse_extended_output(raw, line))
            return
        parse = _NOTIFICATIONS.get(name)
        if parse is None:
            out.append(UnknownNotification(name, rest))
            return
        out.append(parse(rest, line))
