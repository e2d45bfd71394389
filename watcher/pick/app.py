"""The picker's loop: keys in, searches out to the worker, frames drawn, a session chosen.

:func:`pick` runs the whole interaction and returns what the user chose (a session id) or how
they left. The first frame is drawn after one synchronous read: the most recent sessions (one
indexed read, no query language) or the initial query's search. Afterwards every keystroke hands
the query to :class:`watcher.pick.worker.Searcher` and waits for its result at most
:data:`FRAME_WAIT`: a result within it is drawn in the same frame as the typed character, a
slower one in a frame of its own when it arrives (only the latest query's: older ones are
dropped), so typing never waits on a search.
"""

from __future__ import annotations

from datetime import UTC, datetime

from watcher.pick.terminal import Terminal
from watcher.pick.view import Screen, layout, render
from watcher.pick.worker import Result, Searcher, read_preview, recent, search

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable

    from store.reads import Reader
    from watcher.pick.view import Preview

FRAME_WAIT = 0.008
"""How long a keystroke's frame waits for its results before it is drawn without them (half a
frame at 60 Hz: one frame instead of two, without making typing wait on a slow search)."""
LIMIT = 50
"""How many results a query fetches: a screenful and some to move through."""
ESCAPED = "<esc>"
INTERRUPTED = "<ctrl-c>"


class _Picker:
    def __init__(self, term: Terminal, screen: Screen, conn: Reader, sort: str) -> None:
        self.term = term
        self.screen = screen
        self.conn = conn  # this thread's connection: previews of rows moved to
        self.sort = sort
        self.generation = 0
        self.previews: dict[str, Preview | None] = {}

    def apply(self, result: Result) -> None:
        screen = self.screen
        screen.searching = False
        screen.error = result.error
        if result.error is not None:
            return  # the last good results stay under the error
        screen.hits = result.hits
        screen.selected = 0
        screen.top = 0
        if result.hits:
            self.previews[result.hits[0].id] = result.preview
        self.show_preview()

    def show_preview(self) -> None:
        screen = self.screen
        if not screen.hits:
            screen.preview = None
            return
        session_id = screen.hits[screen.selected].id
        if session_id not in self.previews:
            self.previews[session_id] = read_preview(self.conn, session_id)
        screen.preview = self.previews[session_id]

    def draw(self) -> None:
        width, height = self.term.size()
        self.screen.now = datetime.now(UTC)
        lines, cursor = render(self.screen, width, height)
        self.term.draw(lines, cursor)

    def move(self, key: str) -> bool:
        screen = self.screen
        if not screen.hits:
            return False
        page = layout(self.term.size()[1])[0]
        step = {"<up>": -1, "<down>": 1, "<pgup>": -page, "<pgdn>": page}[key]
        chosen = max(0, min(len(screen.hits) - 1, screen.selected + step))
        if chosen == screen.selected:
            return False
        screen.selected = chosen
        self.show_preview()
        return True


def _edit(query: str, key: str) -> str:
    """The query after an editing key (the cursor stays at the end)."""
    if key == "<backspace>":
        return query[:-1]
    if key == "<ctrl-u>":
        return ""
    if key == "<ctrl-w>":
        kept = query.rstrip(" ")
        return kept[: kept.rfind(" ") + 1] if " " in kept else ""
    if len(key) == 1:
        return query + key
    return query


def pick(
    database: str,
    query: str,
    *,
    sort: str,
    color: bool,
    host: Callable[[], str] | None = None,
) -> str:
    """Run the picker on ``database`` (a SQLite file or a PostgreSQL URL) starting from
    ``query``; returns the chosen session's id, :data:`ESCAPED` or :data:`INTERRUPTED`.
    ``host`` gives this machine's host, to tell another host's sessions apart in the preview:
    asked once the first frame is drawn (reading it imports the watcher's settings: ~100 ms)."""
    import sqlite3

    from store.pgurl import redact
    from store.reads import has_sessions, open_store, read_error

    search_conn = open_store(database)
    try:
        preview_conn = open_store(database)
    except BaseException:
        search_conn.close()
        raise
    term: Terminal | None = None
    searcher: Searcher | None = None
    try:
        screen = Screen(database=redact(database), limit=LIMIT, color=color, now=datetime.now(UTC))
        screen.query = query
        try:  # a database that cannot be read is said before the screen is taken
            screen.empty = not has_sessions(preview_conn)
        except sqlite3.Error as exc:
            raise read_error(database, exc) from exc
        term = Terminal()
        with term:
            picker = _Picker(term, screen, preview_conn, sort)
            # Without a query, the first frame needs no query language (its import is most of
            # the start-up): the most recent sessions, as the empty query lists them.
            first = recent(preview_conn, LIMIT) if not query.strip() else None
            picker.apply(first or search(search_conn, 0, query, LIMIT, sort))
            picker.draw()
            searcher = Searcher(search_conn, term.wake_fd, LIMIT, sort)
            if host is not None:
                screen.host = host()
                preview = screen.preview
                if preview is not None and preview.session.host not in (None, screen.host):
                    picker.draw()  # the preview now says the session is on another host
            return _loop(picker, searcher)
    finally:
        if searcher is not None:
            searcher.close()
        if term is not None:
            term.close()
        search_conn.close()
        preview_conn.close()


def _loop(picker: _Picker, searcher: Searcher) -> str:
    screen = picker.screen
    term = picker.term
    while True:
        keys, _ = term.read_keys()
        redraw = False
        before = screen.query
        for key in keys:
            if key == INTERRUPTED:
                return INTERRUPTED
            if key in (ESCAPED, "<hangup>"):
                return ESCAPED
            if key == "<enter>":
                if screen.hits and not screen.empty:
                    return screen.hits[screen.selected].id
                continue
            if key in ("<up>", "<down>", "<pgup>", "<pgdn>"):
                redraw = picker.move(key) or redraw
                continue
            screen.query = _edit(screen.query, key)
        if screen.query != before:
            picker.generation += 1
            searcher.submit(picker.generation, screen.query)
            screen.searching = True
            searcher.wait(FRAME_WAIT)
            redraw = True
        for result in searcher.take():
            if result.generation == picker.generation:
                picker.apply(result)
                redraw = True
        if term.resized:
            term.resized = False
            redraw = True
        if redraw:
            picker.draw()
