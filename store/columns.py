"""Column names of the tables as the migrations in ``sql/`` define them, in one place.

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
)
"""``sessions``' columns, in the order rows are selected and decoded."""
