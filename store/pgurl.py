"""Telling a PostgreSQL URL from a database file, and showing one without its password.

Cheap to import (no psycopg, no urllib): every command that resolves ``--db``,
``$CCMGR_WATCH_DB`` or ``storage.database`` asks :func:`is_postgres_url` first, and every message,
status and log line that names a PostgreSQL database shows :func:`redact` of it.
"""

from __future__ import annotations

SCHEMES = ("postgresql://", "postgres://")
"""The URL schemes libpq accepts for a connection URI."""
HIDDEN = "***"


def is_postgres_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database (else it is a SQLite file path)."""
    return location.lower().startswith(SCHEMES)


def redact(location: str) -> str:
    """``location`` with any password replaced by ``***``: the ``user:password@`` part of a URL
    and a ``password=`` parameter. A file path is returned as it is."""
    if not is_postgres_url(location):
        return location
    scheme_end = location.index("://") + 3
    rest = location[scheme_end:]
    # The authority ends at the first "/", "?" or "#"; its userinfo at the last "@" in it.
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        userinfo, hostport = authority.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + HIDDEN
        authority = f"{userinfo}@{hostport}"
    query_at = tail.find("?")
    if query_at >= 0:
        path, query = tail[:query_at], tail[query_at + 1 :]
        fragment = ""
        if "#" in query:
            query, fragment = query.split("#", 1)
            fragment = "#" + fragment
        params = [
            f"{p.split('=', 1)[0]}={HIDDEN}" if p.split("=", 1)[0].lower() == "password" else p
            for p in query.split("&")
        ]
        tail = f"{path}?{'&'.join(params)}{fragment}"
    return location[:scheme_end] + authority + tail


def redact_text(text: str) -> str:
    """``text`` with every PostgreSQL URL in it (anywhere in a word, quoted or not) shown
    without its password: for messages that echo what was typed."""
    lowered = text.lower()
    if "postgres" not in lowered:
        return text
    import re

    return re.sub(
        r"postgres(?:ql)?://[^\s'\"]*",
        lambda match: redact(match.group(0)),
        text,
        flags=re.IGNORECASE,
    )


def local_anchor(url: str) -> str:
    """A local path standing for the PostgreSQL database ``url`` names, where the watcher of
    this machine keeps what a database file has beside it: its lock (one watcher per machine
    and database) and its status file (``<anchor>.watcher.json``, read by ``status``)."""
    import hashlib
    import os

    from store.paths import app_dir_text

    digest = hashlib.sha256(redact(url).encode()).hexdigest()[:16]
    return os.path.join(app_dir_text(), f"postgresql-{digest}")
