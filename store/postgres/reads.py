"""The reads of :mod:`store.reads` on PostgreSQL: the same functions, records and statements.

:class:`PgReader` is the connection they are given. The reads' statements are plain SQL that
both databases run alike but for two spellings, which :func:`to_postgres` rewrites once per
statement: SQLite's ``?`` placeholders become ``%s`` and the ``rowid`` tie-breaker becomes
``seq`` (the insertion order, sql/postgresql/001_initial.sql). Failures become a StoreError that
names the database without its password.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from store.postgres.connect import connect_sync, import_psycopg, query_error

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import Connection


@lru_cache(maxsize=256)
def to_postgres(sql: str) -> bytes:
    """A read statement of store.reads in PostgreSQL's spelling (placeholders, tie-breaker).

    Only placeholders outside string literals are rewritten; the reads' statements hold no
    ``%`` of their own (patterns are parameters).
    """
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        out.append("%s" if char == "?" and not quoted else char)
    text = "".join(out)
    for old, new in (("rowid DESC", "seq DESC"), ("rowid ASC", "seq ASC")):
        text = text.replace(old, new)
    return text.encode()


class PgReader:
    """A read-only PostgreSQL connection with the interface store.reads uses (``execute``)."""

    def __init__(self, url: str, conn: Connection[Any]) -> None:
        self.url = url
        self.conn = conn
        self._error = import_psycopg().Error

    @classmethod
    def open(cls, url: str) -> PgReader:
        """Connect (a StoreError with a hint when the server or the database is not there)."""
        conn = connect_sync(url)
        # Never prepared: psycopg prepares a statement on its 5th run, and after 5 more the
        # server may switch to a generic plan that ignores the parameters; for a search such as
        # `auth login` at 1 M sessions that plan took 0.5-0.9 s a run instead of 5-10 ms (a
        # picker runs many searches in one process). Planning each search costs ~1 ms.
        conn.prepare_threshold = None
        try:
            # A read command never writes: the server refuses it if one ever tried.
            conn.execute("SET default_transaction_read_only = on")
        except Exception:
            conn.close()
            raise
        return cls(url, conn)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """Run one of store.reads' statements; the cursor (rows, fetchone, fetchall)."""
        try:
            return self.conn.execute(to_postgres(sql), list(parameters))
        except self._error as exc:
            raise query_error(self.url, exc) from None

    def run(self, sql: bytes, parameters: Sequence[Any]) -> list[Any]:
        """Run a statement already in PostgreSQL's spelling (the search compiler's); its rows."""
        try:
            return self.conn.execute(sql, list(parameters)).fetchall()
        except self._error as exc:
            raise query_error(self.url, exc) from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
