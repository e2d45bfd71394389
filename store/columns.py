"""Column names and value sets of the tables as the migrations in ``sql/`` define them, and
the LIKE escaping every statement uses: in one place.

Cheap to import (no msgspec, no aiosqlite): the query compiler, which must start fast, uses it as
well as the repositories.
"""

from __future__ import annotations

# typing is imported by type checkers only: it costs the read commands' start-up ~10%.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

SESSION_COLUMNS: Final = (
    "id",
    "name",
    "project",
    "worktree",
    "branch",
    "directory",
    "created_at",
    "updated_at",
    "last_access",
    "metadata",
    "status",
    "ended_at",
    "tmux_server",
    "tmux_id",
    "host",
)
"""``sessions``' columns, in the order rows are selected and decoded."""

IMPORT_UPDATABLE: Final = frozenset(
    {
        "name",
        "project",
        "worktree",
        "branch",
        "directory",
        "created_at",
        "last_access",
        "metadata",
        "tmux_server",
        "tmux_id",
    }
)
"""The columns an import may write into a stored session, on either store (its merge rules say
when); the others are never taken from a file."""

EVENT_TYPES: Final = (
    "created",
    "renamed",
    "attached",
    "detached",
    "killed",
    "window_added",
    "window_closed",
    "window_renamed",
    "discovered",
    "vanished",
    "migrated",
    "imported",
    "revived",
)
"""``session_events.event_type`` values the watcher (:data:`store.models.LifecycleType`, the
first ten), the imports and ``revive`` write. Other tools may add their own types."""


LAYOUT_KEY: Final = "tmux_windows"
"""The ``sessions.metadata`` key of a session's windows as last seen (what ``revive``
recreates): ``{"recorded_at": TIMESTAMP, "windows": [{"window_id", "index", "name", "active",
"automatic_rename", "layout", "panes": [{"id", "path"}]}]}``."""


ASCII_FOLD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
"""A-Z to a-z and nothing else (``str.translate``): what SQLite's NOCASE and LIKE fold, and
PostgreSQL's ``lower()`` on a ``COLLATE "C"`` column."""


def ascii_lower(text: str) -> str:
    """``text`` folded as :data:`ASCII_FOLD` folds it."""
    return text.translate(ASCII_FOLD)


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards escaped, for ``LIKE ? ESCAPE '\\'`` (text is user input)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
