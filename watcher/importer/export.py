"""Sessions as ccmgr-ultra's ``tmux-sessions.json``, byte for byte as its Go code writes it. Pure.

``json.MarshalIndent(sessions, "", "  ")`` of a ``map[string]*PersistedSession``: keys sorted,
fields in declaration order, two-space indent, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped,
times in RFC 3339 with nanoseconds (trailing zeros trimmed). What the format has no field for
(status, end, tmux identity) goes into ``metadata.ccmgr_watch``, and ``environment`` and
``last_state`` come back out of ``metadata.ccmgr_ultra``, so that importing an export changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from store.reads import SessionRecord
from watcher.importer.formats import ULTRA_KEY, WATCH_KEY

_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def go_time(stored: str | None) -> str:
    """Stored time text (``...:58.123400Z``) as Go's RFC 3339 (``...:58.1234Z``)."""
    if not stored:
        return "0001-01-01T00:00:00Z"
    body = stored[:-1] if stored.endswith("Z") else stored
    if "." in body:
        body = body.rstrip("0").rstrip(".")
    return body + "Z"


def state_entry(session: SessionRecord) -> dict[str, Any]:
    """One ``PersistedSession``, fields in Go's order (its maps as sorted raw JSON)."""
    metadata = session.metadata
    ultra = metadata.get(ULTRA_KEY)
    ultra = ultra if isinstance(ultra, dict) else {}
    if ULTRA_KEY in metadata:
        metadata = {k: v for k, v in metadata.items() if k != ULTRA_KEY}
    metadata = {
        **metadata,
        WATCH_KEY: {
            "status": session.status,
            "ended_at": session.ended_at,
            "tmux_server": session.tmux_server,
            "tmux_id": session.tmux_id,
        },
    }
    environment = ultra.get("environment")
    last_state = ultra.get("last_state")
    return {
        "id": session.id,
        "name": session.name,
        "project": session.project or "",
        "worktree": session.worktree or "",
        "branch": session.branch or "",
        "directory": session.directory or "",
        "created": go_time(session.created_at),
        "last_access": go_time(session.last_access),
        "last_state": last_state if isinstance(last_state, int) else 0,
        # Go sorts every map's keys: msgspec does it in C ("sorted"), not a Python walk.
        "environment": msgspec.Raw(
            _encode_sorted(environment) if isinstance(environment, dict) else b"{}"
        ),
        "metadata": msgspec.Raw(_encode_sorted(metadata)),
    }


def render_state(sessions: Iterable[SessionRecord]) -> bytes:
    """The whole file: an object of sessions keyed by id, as Go's MarshalIndent writes it."""
    entries = {s.id: state_entry(s) for s in sessions}
    text = msgspec.json.format(_encode(dict(sorted(entries.items()))), indent=2)
    # Go's encoder escapes these for HTML safety; they only occur inside strings.
    for raw, escaped in (
        (b"&", b"\\u0026"),
        (b"<", b"\\u003c"),
        (b">", b"\\u003e"),
        ("\u2028".encode(), b"\\u2028"),
        ("\u2029".encode(), b"\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text
