"""ccmgr-ultra's session files, recognised from their content and checked: bytes in, sessions out.

Two JSON shapes (docs/import.md): ``tmux-sessions.json``, a map keyed by session id whose values
have ``created``, ``last_access`` and an integer ``last_state``; and the migrator's
``state.json``, ``{"sessions": [...]}`` with ``created_at``. Rows of a ``data.db`` (read by
:mod:`store.imports`) are checked here too. Pure: no file, no database.

Nothing a hostile file holds gets past this module unchecked: invalid UTF-8, malformed or
truncated JSON, nesting deeper than :data:`MAX_DEPTH`, duplicate keys, numbers out of range,
lone surrogates, strings or objects over their size limits, wrong types and impossible
timestamps. A problem of the whole file raises :class:`store.errors.DataError` located by line and
column; a problem of one session is a :class:`Problem` located by its JSON path, so that
``--skip-bad`` can leave that session out and import the rest.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated, Any, Final

import msgspec

from store.errors import DataError
from store.timefmt import format_ts, parse_ts, utcnow

TMUX_FORMAT: Final = "tmux-sessions.json"
STATE_FORMAT: Final = "state.json"
DB_FORMAT: Final = "data.db"
EMPTY_FORMAT: Final = "empty"

MAX_DEPTH: Final = 64
"""Deepest nesting inside one session (SQLite's JSON functions stop at 1000; no real metadata
is more than a few levels deep)."""
MAX_OBJECT_BYTES: Final = 1024 * 1024
"""Largest ``metadata``/``environment``/event ``data`` of one session, encoded."""
MAX_ID: Final = 512
MAX_TEXT: Final = 1024
MAX_PATH: Final = 4096
FUTURE_SLACK: Final = timedelta(days=1)
"""Timestamps later than now plus this are refused: a clock far ahead would make the file's
values win every later merge."""
WATCH_KEY: Final = "ccmgr_watch"
"""The metadata key under which exports keep what ccmgr-ultra's format has no field for."""
ULTRA_KEY: Final = "ccmgr_ultra"
"""The metadata key under which imports keep ``environment`` and ``last_state``."""
SQLITE_MAGIC: Final = b"SQLite format 3\x00"

_Id = Annotated[str, msgspec.Meta(max_length=MAX_ID)]
_Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
_Path = Annotated[str, msgspec.Meta(max_length=MAX_PATH)]
_Stamp = Annotated[str, msgspec.Meta(max_length=64)]
_State = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
_EnvValue = Annotated[str, msgspec.Meta(max_length=65536)]


class ImportedSession(msgspec.Struct, frozen=True, kw_only=True):
    """One session as a source file describes it, checked and normalised (stored time text)."""

    id: str
    name: str
    created_at: str
    last_access: str
    project: str | None = None
    worktree: str | None = None
    branch: str | None = None
    directory: str | None = None
    metadata: dict[str, Any] = {}
    status: str | None = None
    ended_at: str | None = None
    tmux_server: str | None = None
    tmux_id: str | None = None
    where: str = "$"


class ImportedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event row of an imported ``data.db``."""

    session_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any] = {}


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A session (or event) that cannot be imported: the file, its place, why."""

    file: str
    where: str
    message: str

    def render(self) -> str:
        """``file: place: message``."""
        return f"{self.file}: {self.where}: {self.message}"


class ParsedFile(msgspec.Struct, kw_only=True):
    """What one source file holds."""

    file: str
    format: str
    sessions: list[ImportedSession] = []
    events: list[ImportedEvent] = []
    problems: list[Problem] = []


# --- typed entries (msgspec checks types and sizes, and says where) ------------------------------


class _TmuxEntry(msgspec.Struct, kw_only=True):
    # internal/tmux/state.go PersistedSession; Go leaves a field at its zero value when the key
    # is missing or null, so every field is optional and may be null.
    id: _Id | None = None
    name: _Text | None = None
    project: _Text | None = None
    worktree: _Text | None = None
    branch: _Text | None = None
    directory: _Path | None = None
    created: _Stamp | None = None
    last_access: _Stamp | None = None
    last_state: _State | None = None
    environment: dict[_Text, _EnvValue] | None = None
    metadata: dict[str, Any] | None = None


class _StateEntry(msgspec.Struct, kw_only=True):
    # internal/storage/migrate.go JSONSession
    id: _Id | None = None
    name: _Text | None = None
    project: _Text | None = None
    worktree: _Text | None = None
    branch: _Text | None = None
    directory: _Path | None = None
    created_at: _Stamp | None = None


class _WatchBlock(msgspec.Struct, kw_only=True):
    # What an export keeps in metadata.ccmgr_watch (see export.py).
    status: Annotated[str, msgspec.Meta(pattern="^(attached|detached|ended)$")] | None = None
    ended_at: _Stamp | None = None
    tmux_server: _Path | None = None
    tmux_id: Annotated[str, msgspec.Meta(pattern=r"^\$[0-9]{1,10}$")] | None = None


# --- reading JSON with every hostile case caught -------------------------------------------------


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it had more than once."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.duplicates: list[str] = []
        if len(self) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen and key not in self.duplicates:
                    self.duplicates.append(key)
                seen.add(key)


class _BadNumber:
    """A number that does not fit (kept as its text, reported with its path)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_INT_LIMIT = 2**63


def _parse_int(text: str) -> int | _BadNumber:
    # Python would build any integer (and refuse past 4300 digits with an unlocated error).
    if len(text) > 20:
        return _BadNumber(text)
    value = int(text)
    return value if -_INT_LIMIT <= value < _INT_LIMIT else _BadNumber(text)


def _parse_float(text: str) -> float | _BadNumber:
    if len(text) > 400:
        return _BadNumber(text)
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


# The text is tokenised by the standard library's C scanner, not msgspec: msgspec keeps the last of
# two equal keys without a word (checked with msgspec 0.18-0.22), and a duplicate key must be an
# error located by its path. msgspec then checks each session's types and sizes (msgspec.convert
# with the structs above), which is where its located messages ("at `$.name`") come from.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_Object,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_BadNumber,  # NaN, Infinity: not JSON
)
_SURROGATE = re.compile("[\ud800-\udfff]")
NUL_IN_TEXT = "NUL character (U+0000) in text"
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _located(file: str, text: str, offset: int, message: str) -> DataError:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return DataError(
        f"{file}:{line}:{column}: {message}",
        hint="the file is damaged or not a ccmgr-ultra state file; fix or move it, or leave it "
        "out (--skip-bad imports the other files)",
    )


def _too_deep_at(text: str) -> int:
    """Where nesting first passes :data:`MAX_DEPTH` (strings skipped); 0 if it never does."""
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def decode_json(data: bytes, file: str) -> Any:
    """The JSON value of ``data``; raises a located DataError for invalid UTF-8, malformed or
    truncated JSON and nesting Python cannot follow. Values may hold :class:`_BadNumber` and
    :class:`_Object` with duplicates: :func:`_check_tree` reports those by path."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = data[exc.start : exc.start + 1].hex()
        prefix = data[: exc.start].decode("utf-8", "replace")
        raise _located(file, prefix, len(prefix), f"invalid UTF-8 (byte 0x{shown})") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        ended = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "truncated JSON" if ended else "malformed JSON"
        raise _located(file, text, exc.pos, f"{what}: {exc.msg}") from None
    except RecursionError:
        at = _too_deep_at(text)
        raise _located(file, text, at, f"nested deeper than {MAX_DEPTH} levels") from None


def _key_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)[:80]}]"


_WALKED = (_Object, list, str, _BadNumber)  # what the walk looks into (numbers are fine)


def _path_text(base: str, keys: tuple[Any, ...]) -> str:
    """``keys`` (nested pairs ``(parent, key)``, built lazily) as a JSON path under ``base``."""
    parts: list[str | int] = []
    while keys:
        keys, key = keys
        parts.append(key)
    where = base
    for part in reversed(parts):
        where = f"{where}[{part}]" if isinstance(part, int) else _key_path(where, part)
    return where


def _check_tree(value: Any, path: str) -> str | None:
    """The first hostile thing under ``value`` as ``"path: message"``, or None (iterative; the
    path is only spelled out for a problem: a 10 k-session file has a million values)."""
    stack: list[tuple[Any, tuple[Any, ...], int]] = [(value, (), 0)]
    while stack:
        item, keys, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{_path_text(path, keys)}: nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return f"{_path_text(path, keys)}: a lone surrogate (\\ud800-\\udfff) is not text"
            if "\x00" in item:
                # Not text to any tool that reads it back, and PostgreSQL's jsonb cannot hold
                # it: refused on both stores alike.
                return f"{_path_text(path, keys)}: {NUL_IN_TEXT}"
        elif isinstance(item, _Object):
            if item.duplicates:
                return f"{_path_text(path, (keys, item.duplicates[0]))}: duplicate key"
            for key, child in reversed(item.items()):  # popped in document order
                if _SURROGATE.search(key):
                    return f"{_path_text(path, keys)}: a key holds a lone surrogate"
                if "\x00" in key:
                    return f"{_path_text(path, keys)}: a key holds a {NUL_IN_TEXT}"
                if isinstance(child, _WALKED):
                    stack.append((child, (keys, key), depth + 1))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                child = item[index]
                if isinstance(child, _WALKED):
                    stack.append((child, (keys, index), depth + 1))
        elif isinstance(item, _BadNumber):
            return f"{_path_text(path, keys)}: number out of range: {item.text[:40]}"
    return None


def _convert(value: Any, kind: type[Any], where: str) -> Any:
    try:
        return msgspec.convert(value, type=kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        inner = "$"
        match = re.search(r" - at `(\$[^`]*)`$", message)
        if match:
            message, inner = message[: match.start()], match.group(1)
        raise _EntryError(where + inner[1:], message) from None


class _EntryError(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


# --- recognising and reading a file --------------------------------------------------------------


def sniff(data: bytes) -> str:
    """The format a file's first bytes say it is: ``data.db``, ``empty`` or ``json``."""
    if data.startswith(SQLITE_MAGIC):
        return DB_FORMAT
    if not data.strip():
        return EMPTY_FORMAT
    return "json"


def parse_json_state(data: bytes, file: str, *, fallback_time: str) -> ParsedFile:
    """Recognise and check a JSON state file; ``fallback_time`` (stored text, e.g. the file's
    mtime) stands in for creation times a session does not have."""
    if not data.strip():
        return ParsedFile(file=file, format=EMPTY_FORMAT)
    tree = decode_json(data, file)
    if isinstance(tree, _Object) and isinstance(tree.get("sessions"), list):
        if "sessions" in tree.duplicates:
            raise DataError(f"{file}: $.sessions: duplicate key", hint=_FIX_HINT)
        return _parse_state(tree["sessions"], file, fallback_time)
    if isinstance(tree, _Object) and list(tree) == ["sessions"]:
        # state.json's one key with something else than its array (a session *named*
        # "sessions" in tmux-sessions.json would have that id among others, or a name).
        value = tree["sessions"]
        if not (isinstance(value, _Object) and ("name" in value or "id" in value)):
            raise DataError(
                f"{file}: $.sessions: expected an array of sessions, got {_kind(value)}",
                hint=_FIX_HINT,
            )
    if isinstance(tree, _Object) and (
        not tree or any(isinstance(v, _Object) for v in tree.values())
    ):
        return _parse_tmux(tree, file, fallback_time)
    kind = _kind(tree)
    raise DataError(
        f"{file}: $: not a ccmgr-ultra state file (the top level is {kind})",
        hint="expected tmux-sessions.json (an object of sessions keyed by id) or state.json "
        '({"sessions": [...]})',
    )


_FIX_HINT = "fix the file, or import the rest with --skip-bad"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object whose values are not sessions"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number or boolean"


def _parse_tmux(tree: _Object, file: str, fallback: str) -> ParsedFile:
    parsed = ParsedFile(file=file, format=TMUX_FORMAT)
    now = utcnow()
    for key, value in tree.items():
        where = _key_path("$", key)
        if key in tree.duplicates:
            parsed.problems.append(Problem(file=file, where=where, message="duplicate key"))
            continue
        try:
            parsed.sessions.append(_tmux_session(key, value, where, fallback, now))
        except _EntryError as exc:
            parsed.problems.append(Problem(file=file, where=exc.where, message=exc.message))
    return parsed


def _parse_state(items: list[Any], file: str, fallback: str) -> ParsedFile:
    parsed = ParsedFile(file=file, format=STATE_FORMAT)
    now = utcnow()
    names: set[str] = set()
    for index, value in enumerate(items):
        where = f"$.sessions[{index}]"
        try:
            session = _state_session(value, where, fallback, now)
            if session.name in names and session.id.startswith("json-"):
                raise _EntryError(where + ".name", f"duplicate session name: {session.name}")
            names.add(session.name)
            parsed.sessions.append(session)
        except _EntryError as exc:
            parsed.problems.append(Problem(file=file, where=exc.where, message=exc.message))
    return parsed


def _checked(value: Any, where: str) -> None:
    problem = _check_tree(value, where)
    if problem is not None:
        place, message = problem.split(": ", 1)
        raise _EntryError(place, message)
    if not isinstance(value, dict):
        raise _EntryError(where, f"expected an object (a session), got {_kind(value)}")


def _column(value: str | None, where: str) -> str | None:
    if value and "\x00" in value:
        raise _EntryError(where, "NUL character in text")
    return value or None


def _stamp(value: str | None, where: str, now: Any) -> str | None:
    if not value:
        return None
    try:
        moment = parse_ts(value)
    except (ValueError, OverflowError):  # OverflowError: year 1 with an offset east of UTC
        raise _EntryError(where, f"not a timestamp: {value[:40]!r}") from None
    if moment.year <= 1:  # Go's zero time: "not set"
        return None
    if moment > now + FUTURE_SLACK:
        raise _EntryError(where, f"timestamp in the future: {value}")
    return format_ts(moment)


def _object_size(value: dict[str, Any], where: str) -> None:
    size = len(msgspec.json.encode(value))
    if size > MAX_OBJECT_BYTES:
        raise _EntryError(where, f"{size:,} bytes; at most {MAX_OBJECT_BYTES:,} are imported")


def _tmux_session(key: str, value: Any, where: str, fallback: str, now: Any) -> ImportedSession:
    if not key or len(key) > MAX_ID or _CONTROL.search(key):
        raise _EntryError(where, "a session id must be 1-512 characters without control codes")
    _checked(value, where)
    entry: _TmuxEntry = _convert(value, _TmuxEntry, where)
    created = _stamp(entry.created, where + ".created", now)
    last = _stamp(entry.last_access, where + ".last_access", now)
    metadata = dict(entry.metadata or {})
    block = _watch_block(metadata, where)
    ultra: dict[str, Any] = {}
    if entry.environment:
        ultra["environment"] = dict(entry.environment)
    if entry.last_state:
        ultra["last_state"] = entry.last_state
    if ultra:
        metadata[ULTRA_KEY] = ultra
    _object_size(metadata, where + ".metadata")
    name = _column(entry.name, where + ".name") or key
    if _CONTROL.search(name):
        raise _EntryError(where + ".name", "control characters in a session name")
    created = created or last or fallback
    return ImportedSession(
        id=key,
        name=name,
        created_at=created,
        last_access=max(last or created, created),
        project=_column(entry.project, where + ".project"),
        worktree=_column(entry.worktree, where + ".worktree"),
        branch=_column(entry.branch, where + ".branch"),
        directory=_column(entry.directory, where + ".directory"),
        metadata=metadata,
        status=block.status if block else None,
        ended_at=_stamp(block.ended_at, where + ".metadata.ccmgr_watch.ended_at", now)
        if block
        else None,
        tmux_server=block.tmux_server if block and block.tmux_id else None,
        tmux_id=block.tmux_id if block and block.tmux_server else None,
        where=where,
    )


def _watch_block(metadata: dict[str, Any], where: str) -> _WatchBlock | None:
    raw = metadata.pop(WATCH_KEY, None)
    if raw is None:
        return None
    block: _WatchBlock = _convert(raw, _WatchBlock, where + ".metadata.ccmgr_watch")
    return block


def derived_id(name: str, created: str) -> str:
    """A stable id for a state.json session without one (ccmgr-ultra would make a random UUID:
    a second import must find the same session again)."""
    digest = hashlib.sha256(f"{name}\0{created}".encode()).hexdigest()
    return f"json-{digest[:16]}"


def _state_session(value: Any, where: str, fallback: str, now: Any) -> ImportedSession:
    _checked(value, where)
    entry: _StateEntry = _convert(value, _StateEntry, where)
    name = _column(entry.name, where + ".name")
    if not name:
        raise _EntryError(where + ".name", "session has empty name")
    if _CONTROL.search(name):
        raise _EntryError(where + ".name", "control characters in a session name")
    given = _column(entry.id, where + ".id")
    if given and _CONTROL.search(given):
        raise _EntryError(where + ".id", "control characters in a session id")
    created = _stamp(entry.created_at, where + ".created_at", now)
    return ImportedSession(
        id=given or derived_id(name, entry.created_at or ""),
        name=name,
        created_at=created or fallback,
        last_access=created or fallback,
        project=_column(entry.project, where + ".project"),
        worktree=_column(entry.worktree, where + ".worktree"),
        branch=_column(entry.branch, where + ".branch"),
        directory=_column(entry.directory, where + ".directory"),
        where=where,
    )


# --- rows of a data.db ---------------------------------------------------------------------------


def _row_text(value: object, where: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise _EntryError(where, "missing")
        return None
    if isinstance(value, bytes | bytearray):
        raise _EntryError(where, "a binary value where text belongs")
    text = str(value)
    if len(text) > limit:
        raise _EntryError(where, f"{len(text):,} characters; at most {limit:,}")
    if "\x00" in text or _SURROGATE.search(text):
        raise _EntryError(where, "NUL or surrogate characters in text")
    return text


def _row_json(value: object, where: str) -> dict[str, Any]:
    if value is None or value in ("", "null"):
        return {}
    if not isinstance(value, str):
        raise _EntryError(where, "not JSON text")
    if len(value) > MAX_OBJECT_BYTES:
        raise _EntryError(where, f"{len(value):,} bytes; at most {MAX_OBJECT_BYTES:,}")
    try:
        tree = decode_json(value.encode("utf-8", "surrogatepass"), where)
    except DataError as exc:
        raise _EntryError(where, exc.message.split(": ", 1)[-1]) from None
    _checked(tree, where)
    return dict(tree)


def sessions_from_rows(
    rows: Iterator[dict[str, object]] | list[dict[str, object]], file: str, fallback: str
) -> ParsedFile:
    """Check the ``sessions`` rows of a ``data.db`` (ccmgr-ultra's or ccmgr-watch's columns)."""
    parsed = ParsedFile(file=file, format=DB_FORMAT)
    now = utcnow()
    for number, row in enumerate(rows, 1):
        where = f"sessions row {number}"
        try:
            sid = _row_text(row.get("id"), where + " id", MAX_ID, required=True)
            assert sid is not None
            where = f"sessions row {number} (id {sid[:40]!r})"
            name = _row_text(row.get("name"), where + " name", MAX_TEXT) or sid
            created = _stamp(
                _row_text(row.get("created_at"), where, 64), where + " created_at", now
            )
            last = _stamp(_row_text(row.get("last_access"), where, 64), where + " last_access", now)
            metadata = _row_json(row.get("metadata"), where + " metadata")
            _object_size(metadata, where + " metadata")
            status = _row_text(row.get("status"), where + " status", 16)
            if status not in (None, "attached", "detached", "ended"):
                raise _EntryError(where + " status", f"unknown status {status!r}")
            server = _row_text(row.get("tmux_server"), where + " tmux_server", MAX_PATH)
            tmux_id = _row_text(row.get("tmux_id"), where + " tmux_id", 16)
            created = created or last or fallback
            parsed.sessions.append(
                ImportedSession(
                    id=sid,
                    name=name,
                    created_at=created,
                    last_access=max(last or created, created),
                    project=_row_text(row.get("project"), where + " project", MAX_TEXT),
                    worktree=_row_text(row.get("worktree"), where + " worktree", MAX_TEXT),
                    branch=_row_text(row.get("branch"), where + " branch", MAX_TEXT),
                    directory=_row_text(row.get("directory"), where + " directory", MAX_PATH),
                    metadata=metadata,
                    status=status,
                    ended_at=_stamp(
                        _row_text(row.get("ended_at"), where, 64), where + " ended_at", now
                    ),
                    tmux_server=server if server and tmux_id else None,
                    tmux_id=tmux_id if server and tmux_id else None,
                    where=where,
                )
            )
        except _EntryError as exc:
            parsed.problems.append(Problem(file=file, where=exc.where, message=exc.message))
    return parsed


def events_from_rows(
    rows: list[dict[str, object]], parsed: ParsedFile, known: Callable[[str], bool]
) -> None:
    """Check a ``data.db``'s ``session_events`` rows into ``parsed`` (events of sessions that
    ``known`` does not accept are problems)."""
    now = utcnow()
    for number, row in enumerate(rows, 1):
        where = f"session_events row {number}"
        try:
            sid = _row_text(row.get("session_id"), where + " session_id", MAX_ID, required=True)
            assert sid is not None
            if not known(sid):
                raise _EntryError(where, f"its session {sid[:40]!r} is not imported")
            kind = _row_text(row.get("event_type"), where + " event_type", 64, required=True)
            stamp = _stamp(_row_text(row.get("timestamp"), where, 64), where + " timestamp", now)
            if stamp is None:
                raise _EntryError(where + " timestamp", "missing")
            data = _row_json(row.get("data"), where + " data")
            _object_size(data, where + " data")
            assert kind is not None
            parsed.events.append(
                ImportedEvent(session_id=sid, event_type=kind, timestamp=stamp, data=data)
            )
        except _EntryError as exc:
            parsed.problems.append(Problem(file=parsed.file, where=exc.where, message=exc.message))
