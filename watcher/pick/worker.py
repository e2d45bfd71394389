"""Searching off the input loop: the latest query only, on a thread of its own.

The input loop hands every query to :meth:`Searcher.submit` and never waits; the thread runs the
newest query it has when it is free (queries typed while one ran are dropped unseen), and posts a
:class:`Result` followed by a byte on the loop's wake-up pipe. So typing is never blocked by a
search, and a slow search delays only its own results.

Each thread has its own read connection (connections are not shared between threads here):
the searcher's, and the loop's for previews of the row the user moves to. A connection is a
SQLite file's or a PostgreSQL reader (:func:`store.reads.open_store`): the reads are the same,
a search runs the store's own compiler (:func:`search`).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from store.errors import CcmgrError, QueryError
from watcher.pick.view import Preview

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from store.reads import Reader
    from watcher.pick.view import Row

WINDOW_EVENTS = ("window_added", "window_closed", "window_renamed")
PREVIEW_EVENTS = 8


class Result:
    """The answer to one query: its hits and the first hit's preview, or the error it made."""

    __slots__ = ("error", "generation", "hits", "preview", "query")

    def __init__(
        self,
        generation: int,
        query: str,
        hits: list[Row],
        preview: Preview | None = None,
        error: tuple[str, int, str | None] | None = None,
    ) -> None:
        self.generation = generation
        self.query = query
        self.hits = hits
        self.preview = preview
        self.error = error


def open_windows(events: list[tuple[str, dict[str, object]]]) -> list[str]:
    """The names of the windows still open after ``events`` ((type, data), oldest first), in
    the order tmux numbers them."""
    windows: dict[str, str] = {}
    for kind, data in events:
        window = str(data.get("window_id", ""))
        name = str(data.get("window_name", ""))
        if kind == "window_closed":
            windows.pop(window, None)
        elif kind in ("window_added", "window_renamed"):
            windows[window] = name

    def number(window: str) -> int:
        digits = window.lstrip("@")
        return int(digits) if digits.isdigit() else 0

    return [windows[w] for w in sorted(windows, key=number)]


def read_preview(conn: Reader, session_id: str) -> Preview | None:
    """The preview of one session (None when it is no longer in the database)."""
    from store.reads import find_session, list_events

    try:
        session = find_session(conn, session_id)
    except CcmgrError:
        return None
    events = list_events(conn, session_ids=(session_id,), limit=PREVIEW_EVENTS)
    window_events = list_events(conn, session_ids=(session_id,), event_types=WINDOW_EVENTS)
    windows = open_windows([(e.event_type, e.data) for e in reversed(window_events)])
    return Preview(session, windows, events)


class Searcher:
    """A thread that runs the latest submitted query and posts its :class:`Result`."""

    def __init__(self, conn: Reader, wake_fd: int, limit: int, sort: str) -> None:
        self._conn = conn
        self._wake_fd = wake_fd
        self._limit = limit
        self._sort = sort
        self._lock = threading.Condition()
        self._pending: tuple[int, str] | None = None
        self._results: list[Result] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="pick-search", daemon=True)
        self._thread.start()

    def submit(self, generation: int, query: str) -> None:
        """Search ``query`` next (replacing any query not started yet); never blocks long."""
        with self._lock:
            self._pending = (generation, query)
            self._lock.notify()

    def wait(self, timeout: float) -> None:
        """Wait until a result is posted, at most ``timeout`` seconds."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._results), timeout)

    def take(self) -> list[Result]:
        """The results posted since the last call, oldest first."""
        with self._lock:
            results, self._results = self._results, []
        return results

    def close(self) -> None:
        """Stop the thread after the search it runs (if any); the caller closes the connection
        once this returns."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=5)

    def _warm_up(self) -> None:
        """Run one search nobody sees, so the first keystroke's does not pay first-call costs
        (the lexer's patterns, the planner's statements, the index's pages in this
        connection's cache): measured, the first key's results came 4x slower without it."""
        search(self._conn, -1, "a", self._limit, self._sort)

    def _run(self) -> None:
        # The query language's modules are imported here, while the user reads the first
        # frame: the first frame needs none of them (see watcher.pick.app).
        import store.query.compiler
        import store.query.parser
        import store.search  # noqa: F401

        self._warm_up()
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                assert self._pending is not None
                generation, query = self._pending
                self._pending = None
            result = search(self._conn, generation, query, self._limit, self._sort)
            with self._lock:
                self._results.append(result)
                self._lock.notify_all()
            try:
                os.write(self._wake_fd, b"r")
            except BlockingIOError:  # the pipe is full: a wake-up is pending already
                pass
            except OSError:  # the loop has gone
                return


def recent(conn: Reader, limit: int) -> Result:
    """The empty query's result without the query language: the most recently used sessions
    (the same rows in the same order as the empty query in either sort)."""
    from store.reads import list_sessions

    sessions: list[Row] = list(list_sessions(conn, limit=limit))
    preview = read_preview(conn, sessions[0].id) if sessions else None
    return Result(0, "", sessions, preview)


def search(conn: Reader, generation: int, query: str, limit: int, sort: str) -> Result:
    """Run one query: its hits and the first one's preview, or the mistake in it."""
    from store.query.parser import parse_query
    from watcher.cli.search_cmd import _context

    try:
        tree = parse_query(query, **_context())
        hits: list[Row]
        if isinstance(conn, sqlite3.Connection):
            from store.query.compiler import compile_query
            from store.search import search_sync

            compiled = compile_query(tree, sort=sort, limit=limit)  # type: ignore[arg-type]
            hits = list(search_sync(conn, compiled))
        else:  # PostgreSQL (a failure there is a StoreError: a CcmgrError below)
            from store.postgres.reads import PgReader
            from store.postgres.search import search_pg

            assert isinstance(conn, PgReader)
            hits = list(search_pg(conn, tree, sort=sort, limit=limit))
        preview = read_preview(conn, hits[0].id) if hits else None
    except QueryError as exc:
        return Result(generation, query, [], error=(exc.message, exc.position, exc.hint))
    except CcmgrError as exc:
        return Result(generation, query, [], error=(exc.message, 0, exc.hint))
    except sqlite3.Error as exc:
        return Result(generation, query, [], error=(f"reading the database failed: {exc}", 0, None))
    except Exception as exc:  # a bug: said on screen, never a picker stuck on "searching…"
        message = f"internal error: {type(exc).__name__}: {exc}"
        return Result(generation, query, [], error=(message, 0, "this is a bug; please report it"))
    return Result(generation, query, hits, preview)
