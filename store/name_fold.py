"""Folding the name-order snapshot's delta in, a few dozen sessions per transaction (sql/012).

The snapshot (store.name_order) gives each session a rank in name order; its ranks have gaps
(``RANK_SPACING`` apart at a build), so a session written since the build (inserted, or renamed:
its snapshot row was deleted by the trigger) is folded in by giving it a rank between its
name-neighbours' (NOCASE, then rowid, as the build orders) and indexing its text under it: no
other row moves. When the gap is used up, a few neighbours are given new ranks (a relabel of at
most ``RELABEL_MAX`` rows); when no such window has room, the fold says so (``exhausted``) and
the caller rebuilds (small databases) or leaves it to `db reindex`. docs/search.md, "Dense data,
seventh round".

Every function runs inside the caller's write transaction (the watcher's writer, between its
batches: store.db.Database.fold_name_order).
"""

from __future__ import annotations

import json
import time

from store.name_order import RANK_SPACING
from store.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

PACK_STEP = 1 << 14
"""The largest step a folded session takes from its lower neighbour: names are mostly appended at
one place (a project's sessions named by date or counter each sort right after the previous
one), so a gap is used from its low end, 64 steps of a build's gap, then a relabel moves the
rows after it; and 14 halvings are left between two of them for names inserted later."""
TARGET_STEP = 1 << 10
"""A relabel takes the smallest window whose rows it can spread this far apart (at most
RELABEL_MAX rows) ..."""
MIN_STEP = 16
"""... else the smallest that spreads them at least this far apart (a run of names packed
together is then relabelled locally, not whole). At 1 M sessions, spreading to 16 at once
packed a run of 2,000 appended names 18 apart, and the next name among them found every
window too crowded (a gap used up)."""
RELABEL_MAX = 256
"""The most rows one relabel moves (each an index row deleted and inserted again: ~0.1-0.3 ms
at 1 M sessions)."""
MERGE_PAGES = 32
"""The index pages one fold transaction merges at most, of a level with 8 segments or more
(migration 012 turned FTS5's own merging off for this index: it merged 64 pages times its
levels at once, up to ~250 ms of a fold transaction at 1 M sessions). 32, not 64, since the
writer's commits no longer checkpoint (store.wal): an event waits for the rest of the fold
transaction that runs, and half as long a transaction took the events' median wait at 1 M
sessions from 16 to 11 ms (docs/search.md, "eighth round")."""
FOLD_BATCH = 200
"""The most sessions one fold transaction takes (the watcher's events wait for it)."""
FOLD_BUDGET = 0.002
"""... and the seconds after which it stops taking more (it commits what it folded; 4 ms
before the checkpoints left the writer's commits, as MERGE_PAGES says)."""

# Ranks stay far inside SQLite's 64-bit rowids (a build's highest at 1 M sessions is ~2^40).
_REACH_MAX = 1 << 56
_COLUMNS = "name, project, worktree, branch, directory"
_FTS_INSERT = f"INSERT INTO sessions_name_fts (rowid, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_FTS_DELETE = (
    f"INSERT INTO sessions_name_fts (sessions_name_fts, rowid, {_COLUMNS}) "
    "VALUES ('delete', ?, ?, ?, ?, ?, ?)"
)
# The dirty sessions that have no snapshot row (one written by INSERT OR REPLACE still has its
# old one, whose text is unknown: it waits for `db reindex`), then the inserted ones.
_DIRTY_SQL = (
    "SELECT d.sid FROM sessions_name_dirty AS d WHERE NOT EXISTS "
    "(SELECT 1 FROM sessions_name_rank AS r WHERE r.sid = d.sid) ORDER BY d.sid LIMIT ?"
)
_INSERTED_SQL = "SELECT rowid FROM sessions WHERE rowid > ? ORDER BY rowid LIMIT ?"
_ROWS_SQL = (
    f"SELECT rowid, {_COLUMNS} FROM sessions WHERE rowid IN (SELECT value FROM json_each(?)) "
    "ORDER BY name COLLATE NOCASE, rowid"
)
# The neighbours are clean snapshot rows (a rank row whose session is not dirty), found through
# the NOCASE name index: the highest rank of the same name with a lower rowid, else the highest
# rank of the nearest lower name. The next rank above it (any row: a stale one only narrows the
# gap) bounds the gap from above.
_CLEAN = "NOT EXISTS (SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = s.rowid)"
_JOIN = (
    "FROM sessions AS s INDEXED BY ix_sessions_name_nocase "
    "CROSS JOIN sessions_name_rank AS r ON r.sid = s.rowid"
)
_SAME_NAME_SQL = (
    f"SELECT max(r.rank) {_JOIN} WHERE s.name = ?1 COLLATE NOCASE AND s.rowid < ?2 AND {_CLEAN}"
)
_LOWER_NAME_SQL = (
    f"SELECT max(r.rank) {_JOIN} WHERE s.name = ("
    f"SELECT s.name {_JOIN} WHERE s.name < ?1 COLLATE NOCASE AND {_CLEAN} "
    f"ORDER BY s.name COLLATE NOCASE DESC LIMIT 1) COLLATE NOCASE AND {_CLEAN}"
)
_ABOVE_SQL = "SELECT min(rank) FROM sessions_name_rank WHERE rank > ?"
_FIRST_SQL = "SELECT min(rank) FROM sessions_name_rank"
_COUNT_SQL = "SELECT count(*) FROM sessions_name_rank WHERE rank > ? AND rank < ?"
_WINDOW_SQL = (
    "SELECT r.rank, r.sid, s.rowid IS NULL OR EXISTS "
    "(SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = r.sid), "
    "s.name, s.project, s.worktree, s.branch, s.directory "
    "FROM sessions_name_rank AS r LEFT JOIN sessions AS s ON s.rowid = r.sid "
    "WHERE r.rank > ? AND r.rank < ? ORDER BY r.rank"
)


class FoldResult(Value):
    """What one fold did: sessions folded in, rows relabelled, seconds it took, whether a
    session found no room (the caller rebuilds, or leaves it to `db reindex`), whether more of
    the delta (or of the index's merging) is left, and the sessions the snapshot holds (about:
    as the build counts)."""

    __match_args__ = ("folded", "relabelled", "seconds", "exhausted", "more", "sessions")
    __slots__ = __match_args__

    folded: int
    relabelled: int
    seconds: float
    exhausted: bool
    more: bool
    sessions: int

    def __init__(
        self,
        folded: int,
        relabelled: int,
        seconds: float,
        exhausted: bool,
        more: bool,
        sessions: int,
    ) -> None:
        super().__init__(folded, relabelled, seconds, exhausted, more, sessions)


class _Exhausted(Exception):
    """No window around a gap has room for one more rank (or it holds a stale row)."""


def fold(
    conn: sqlite3.Connection, limit: int = FOLD_BATCH, budget: float | None = None
) -> FoldResult:
    """Fold up to ``limit`` sessions of the delta into the snapshot (stopping early after
    ``budget`` seconds, default FOLD_BUDGET), inside the caller's write transaction: the dirty
    ones first, then the inserted ones (the lowest rowids); the build's highest rowid moves up
    past the inserted ones read, and those not folded (the budget ran out, or no room) are
    marked dirty."""
    started = time.perf_counter()
    budget = FOLD_BUDGET if budget is None else budget
    found = conn.execute("SELECT max_rowid, sessions FROM sessions_name_build").fetchone()
    if found is None:
        return FoldResult(0, 0, 0.0, False, False, 0)
    dirty = [sid for (sid,) in conn.execute(_DIRTY_SQL, (limit + 1,))]
    inserted = [sid for (sid,) in conn.execute(_INSERTED_SQL, (found[0], limit + 1 - len(dirty)))]
    more = len(dirty) + len(inserted) > limit
    dirty, inserted = dirty[:limit], inserted[: limit - min(len(dirty), limit)]
    rows = conn.execute(_ROWS_SQL, (json.dumps([*dirty, *inserted]),)).fetchall()
    # A dirty row whose session is gone (deleted by a path without triggers) is dropped.
    done: list[int] = sorted(set(dirty) - {row[0] for row in rows})
    gone = len(done)
    relabelled = 0
    exhausted = False
    for row in rows:
        if done and time.perf_counter() - started > budget:
            break
        try:
            relabelled += _fold_one(conn, row)
        except _Exhausted:
            exhausted = True
            break
        done.append(row[0])
    more = more or len(done) - gone < len(rows)
    folded = json.dumps(done)
    conn.execute(
        "DELETE FROM sessions_name_dirty WHERE sid IN (SELECT value FROM json_each(?))", (folded,)
    )
    if inserted:
        conn.execute(
            "INSERT OR IGNORE INTO sessions_name_dirty (sid) SELECT value FROM json_each(?) "
            "WHERE value NOT IN (SELECT value FROM json_each(?))",
            (json.dumps(inserted), folded),
        )
        conn.execute(
            "UPDATE sessions_name_build SET max_rowid = max(max_rowid, ?)", (max(inserted),)
        )
        # Counted as in the snapshot from now on, folded or dirty (as the build counts them).
        conn.execute("UPDATE sessions_name_build SET sessions = sessions + ?", (len(inserted),))
    if not exhausted:
        more = merge_step(conn) or more
    seconds = time.perf_counter() - started
    sessions = int(found[1]) + len(inserted)
    return FoldResult(len(done) - gone, relabelled, seconds, exhausted, more, sessions)


def has_work(conn: sqlite3.Connection) -> bool:
    """Whether a fold would do anything (read only: the idle watcher checks this first and
    opens no write transaction when there is nothing to do): a session inserted since the
    build, a dirty one it can fold (one with a snapshot row waits for `db reindex`, as in
    :func:`fold`), or a level of the index that :func:`merge_step` would merge."""
    found = conn.execute("SELECT max_rowid FROM sessions_name_build").fetchone()
    if found is None:
        return False
    if conn.execute("SELECT 1 FROM sessions WHERE rowid > ? LIMIT 1", found).fetchone():
        return True
    if conn.execute(_DIRTY_SQL, (1,)).fetchone():
        return True
    return merge_due(conn)


_STRUCTURE_SQL = "SELECT block FROM sessions_name_fts_data WHERE id = 10"
_USERMERGE_SQL = "SELECT v FROM sessions_name_fts_config WHERE k = 'usermerge'"
_STRUCTURE_V2 = b"\xff\x00\x00\x01"  # FTS5's marker of a structure record with origins


def merge_due(conn: sqlite3.Connection) -> bool:
    """Whether FTS5's 'merge' command (:func:`merge_step`) would merge anything in the
    snapshot's index, read from the index's structure record (FTS5 keeps it in its ``_data``
    table under id 10: a cookie, then varints: levels, segments, a write counter, and per
    level the segments of an ongoing merge and the segments). FTS5 merges the first level
    with a merge under way, else the level with the most segments once it has ``usermerge``
    of them (fts5IndexMerge). A record it cannot read counts as due (the fold then asks FTS5
    itself)."""
    found = conn.execute(_STRUCTURE_SQL).fetchone()
    if found is None or not isinstance(found[0], bytes):
        return False  # an index never written to has no structure: nothing to merge
    setting = conn.execute(_USERMERGE_SQL).fetchone()
    least = int(setting[0]) if setting is not None else 4  # FTS5's default usermerge
    try:
        levels = _levels(found[0])
    except (IndexError, ValueError):
        return True
    best = best_merge = 0
    for segments, merging in levels:
        if merging:
            if merging > best:
                best, best_merge = merging, merging
            break
        if segments > best:
            best, best_merge = segments, 0
    return best >= least or best_merge > 0


def _levels(record: bytes) -> list[tuple[int, int]]:
    """(segments, segments in an ongoing merge) of each level of an FTS5 structure record."""
    v2 = record[4:8] == _STRUCTURE_V2
    count, at = _varint(record, 8 if v2 else 4)
    _, at = _varint(record, at)  # segments in all
    _, at = _varint(record, at)  # the write counter
    per_segment = 8 if v2 else 3  # id, first and last page (V2: origins and tombstones too)
    levels = []
    for _ in range(count):
        merging, at = _varint(record, at)
        segments, at = _varint(record, at)
        for _ in range(segments * per_segment):
            _, at = _varint(record, at)
        levels.append((segments, merging))
    if at > len(record):
        raise ValueError("structure record cut short")
    return levels


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's varint at ``data[at]``: (value, the offset after it)."""
    value = 0
    for n in range(8):
        byte = data[at + n]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + n + 1
    return (value << 8) | data[at + 8], at + 9


def merge_step(conn: sqlite3.Connection, pages: int | None = None) -> bool:
    """Merge up to ``pages`` (default MERGE_PAGES) of the snapshot index's segments (those of
    a level with 8 or more: usermerge, migration 012), inside the caller's write
    transaction; whether it did any work (FTS5 writes at least two rows when it does; the
    pending rows' flush counts too)."""
    before = conn.total_changes
    conn.execute(
        "INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('merge', ?)",
        (MERGE_PAGES if pages is None else pages,),
    )
    return conn.total_changes - before >= 2


def _fold_one(conn: sqlite3.Connection, row: Any) -> int:
    """Give one session a rank between its neighbours' and index it there; returns the rows a
    relabel moved to make room (0 mostly)."""
    rowid, name = row[0], row[1]
    (low,) = conn.execute(_SAME_NAME_SQL, (name, rowid)).fetchone()
    if low is None:
        (low,) = conn.execute(_LOWER_NAME_SQL, (name,)).fetchone()
    if low is None:
        (high,) = conn.execute(_FIRST_SQL).fetchone()
    else:
        (high,) = conn.execute(_ABOVE_SQL, (low,)).fetchone()
    moved = 0
    rank = _place(low, high)
    if rank is None:
        rank, moved = _relabel(conn, int(low), int(high))
    conn.execute("INSERT INTO sessions_name_rank (rank, sid) VALUES (?, ?)", (rank, rowid))
    conn.execute(_FTS_INSERT, (rank, *row[1:]))
    # Clean from now on: the next session of this fold may have it as its neighbour.
    conn.execute("DELETE FROM sessions_name_dirty WHERE sid = ?", (rowid,))
    return moved


def _place(low: int | None, high: int | None) -> int | None:
    """A free rank between ``low`` and ``high`` (None: no neighbour that side), or None when
    the gap has none left."""
    if low is None and high is None:
        return RANK_SPACING
    if low is None:
        return int(high) - RANK_SPACING  # type: ignore[arg-type]
    if high is None:
        return int(low) + RANK_SPACING
    step = min((high - low) // 2, PACK_STEP)
    return low + step if step > 0 else None


def _relabel(conn: sqlite3.Connection, low: int, high: int) -> tuple[int, int]:
    """Make room between the adjacent ranks ``low`` and ``high``: the rows of the smallest
    window around them whose span spreads them and one more row TARGET_STEP apart (else
    MIN_STEP) are given evenly spaced ranks (their index rows deleted and inserted again);
    returns the rank left free for the new row, right after ``low``'s, and how many rows
    moved. Windows grow to the
    right first (names are mostly appended at one place: the rows after the gap have room),
    then left, then both."""
    # From a few steps out: a run of names packed PACK_STEP apart must not be taken whole.
    reach = min(8 * MIN_STEP, _REACH_MAX)
    fallback: tuple[int, int] | None = None
    while True:
        crowded = 0
        for lo, hi in ((low, high + reach), (low - reach, high), (low - reach, high + reach)):
            # Bounds, not rows: the rows strictly between them move.
            (count,) = conn.execute(_COUNT_SQL, (lo, hi)).fetchone()
            if count > RELABEL_MAX:
                crowded += 1
                continue
            step = (hi - lo) // (count + 2)
            if step >= TARGET_STEP:
                return _respace(conn, lo, hi, low)
            if step >= MIN_STEP and fallback is None:
                fallback = (lo, hi)
        if crowded == 3 or reach > _REACH_MAX:
            if fallback is not None:
                return _respace(conn, *fallback, low)
            raise _Exhausted
        reach *= 2


def _respace(conn: sqlite3.Connection, lo: int, hi: int, low: int) -> tuple[int, int]:
    """Spread the rows strictly between ``lo`` and ``hi`` evenly, with one free rank right
    after the row ranked ``low`` (or first, when that row is not in the window); returns it and
    how many rows moved."""
    window = conn.execute(_WINDOW_SQL, (lo, hi)).fetchall()
    if any(stale for _, _, stale, *_ in window):
        raise _Exhausted  # a row whose text is unknown cannot be moved (INSERT OR REPLACE)
    below = [row for row in window if row[0] <= low]
    order = [*below, None, *window[len(below) :]]
    step = (hi - lo) // (len(order) + 1)
    free = lo + step * (len(below) + 1)
    moved = [(lo + step * (n + 1), row) for n, row in enumerate(order) if row is not None]
    moved = [(rank, row) for rank, row in moved if rank != row[0]]
    for _, (rank, _sid, _stale, *text) in moved:
        conn.execute(_FTS_DELETE, (rank, *text))
        conn.execute("DELETE FROM sessions_name_rank WHERE rank = ?", (rank,))
    for rank, (_old, sid, _stale, *text) in moved:
        conn.execute("INSERT INTO sessions_name_rank (rank, sid) VALUES (?, ?)", (rank, sid))
        conn.execute(_FTS_INSERT, (rank, *text))
    return free, len(moved)
