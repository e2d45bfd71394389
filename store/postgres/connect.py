"""Opening a PostgreSQL connection: psycopg imported here (lazily), errors mapped once.

libpq finds the password itself (``~/.pgpass``, ``PGPASSWORD``, a ``passfile=`` parameter, or
the URL): this module never reads or prints it; every message names the database through
:func:`store.pgurl.redact`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store.errors import StoreError
from store.pgurl import redact

if TYPE_CHECKING:
    from psycopg import Connection

INSTALL_HINT = "install the PostgreSQL driver: pip install 'ccmgr-watch[postgresql]'"
CONNECT_TIMEOUT = 10  # seconds: a server that does not answer is an error, not a hang


def import_psycopg() -> Any:
    """The psycopg module, or a StoreError saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(
            f"a PostgreSQL database was given, but psycopg is not installed ({exc})",
            hint=INSTALL_HINT,
        ) from None
    return psycopg


def connect_sync(url: str, *, autocommit: bool = True) -> Connection[Any]:
    """A sync connection to the database at ``url`` (the CLI's)."""
    pg = import_psycopg()
    try:
        conn: Connection[Any] = pg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="ccmgr-watch",
        )
    except pg.Error as exc:
        raise connect_error(url, exc) from None
    return conn


def connect_error(url: str, exc: BaseException) -> StoreError:
    """What a failed connection to ``url`` means, with a hint that helps (password hidden)."""
    text = _message(exc)
    if "password" in text.lower() or "authentication" in text.lower():
        hint = (
            "put the password in ~/.pgpass (chmod 600) or PGPASSWORD, or name a passfile= in "
            "the URL; never in a config file others can read"
        )
    elif "does not exist" in text:
        hint = "create the database (createdb NAME) or fix the name in the URL"
    else:
        hint = "check that the server runs and the URL's host, port and user are right"
    return StoreError(f"cannot connect to {redact(url)}: {text}", hint=hint)


def query_error(url: str, exc: BaseException) -> StoreError:
    """A failed statement on ``url``'s database (the schema missing, the server gone)."""
    text = _message(exc)
    if "does not exist" in text and ("relation" in text or "column" in text):
        return StoreError(
            f"{redact(url)} has no ccmgr-watch schema ({text})",
            hint="run `ccmgr-watch db migrate --db URL` or start the watcher to create it",
        )
    return StoreError(f"the database {redact(url)} failed: {text}")


def _message(exc: BaseException) -> str:
    # libpq messages are several lines ("connection to server ... failed: ..."); the first
    # line that says why is enough, and a URL inside it loses its password.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(redact_words(line) for line in lines[:2]) or type(exc).__name__


def redact_words(text: str) -> str:
    """``text`` with every URL in it shown without its password."""
    return " ".join(redact(word) for word in text.split(" "))
