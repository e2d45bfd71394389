"""``ccmgr-watch revive`` on a PostgreSQL store: a session recorded by a real watcher on the URL
(private tmux server) is killed and brought back by the real CLI, and the running watcher records
the revived session into the same row; a session recorded on another host comes back on this
machine's server of the same name and is left as it is on its own host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.postgres.connect import connect_sync
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, clean_env, wait_until
from tests.postgres.test_watchers import HostWatcher
from tests.revive.test_revive_cli import WINDOW_FORMAT, shape
from watcher.capture.events import session_id

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

HOST = "laptop"


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect_sync(url) as conn:
        return conn.execute(sql.encode(), params).fetchall()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    # Its own socket folder: a revive of another host's session finds this server by name.
    folder = tmp_path / "tmuxdir"
    folder.mkdir(mode=0o700)
    server = Tmux(folder)
    try:
        yield server
    finally:
        server.kill_server()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "laptop"


@pytest.fixture
def watcher(pg_url: str, tmux: Tmux, home: Path) -> Iterator[HostWatcher]:
    tmux.new("base")  # the watcher's own session: the revived ones stay out of its way
    running = HostWatcher(pg_url, tmux, HOST, home)
    running.env["TMUX_TMPDIR"] = tmux.env["TMUX_TMPDIR"]
    running.start()
    try:
        wait_until(
            lambda: rows(pg_url, "SELECT 1 FROM sessions WHERE name = 'base'"),
            timeout=30,
            what="the watcher to record the first session",
        )
        yield running
    finally:
        log = running.stop()
        assert "Traceback" not in log, log


def revive(watcher: HostWatcher, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI as a process, on the watcher's machine (its config, host and URL)."""
    return subprocess.run(
        [CCMGR_WATCH, "revive", *args],
        env=clean_env(**watcher.env, CCMGR_WATCH_REVIVE_COMMAND="sleep 3600"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def windows_of(tmux: Tmux, target: str) -> list[tuple[str, str, str, list[str]]]:
    out = []
    for line in tmux("list-windows", "-t", target, "-F", WINDOW_FORMAT).splitlines():
        index, name, layout, paths = line.split("|", 3)
        out.append((index, name, shape(layout), paths.rstrip(";").split(";")))
    return out


def test_revive_on_postgresql_with_the_watcher_writing_into_the_same_row(
    pg_url: str, tmux: Tmux, watcher: HostWatcher, tmp_path: Path
) -> None:
    dirs = {}
    for key in "abc":
        dirs[key] = tmp_path / f"dir {key}"
        dirs[key].mkdir()
    sid = tmux.new("work", "-n", "main", "-c", str(dirs["a"]), "-x", "120", "-y", "40")
    tmux("new-window", "-t", sid, "-n", "ed", "-c", str(dirs["b"]), "sleep 3600")
    tmux("split-window", "-h", "-t", f"{sid}:ed", "-c", str(dirs["c"]), "sleep 3600")
    expected = windows_of(tmux, sid)

    def recorded() -> bool:
        found = rows(
            pg_url,
            "SELECT metadata->'tmux_windows'->'windows' FROM sessions "
            "WHERE name = 'work' AND status != 'ended'",
        )
        windows: Any = found[0][0] if found else None
        return bool(windows) and len(windows) == 2 and len(windows[1]["panes"]) == 2

    wait_until(recorded, timeout=30, what="the window record in PostgreSQL")
    tmux("kill-session", "-t", sid)
    wait_until(
        lambda: rows(pg_url, "SELECT 1 FROM sessions WHERE name = 'work' AND status = 'ended'"),
        timeout=30,
        what="the session's end",
    )
    ((old,),) = rows(pg_url, "SELECT id FROM sessions WHERE name = 'work'")

    result = revive(watcher, "work", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["from"] == old and out["name"] == "work" and out["socket"] == tmux.socket
    assert windows_of(tmux, out["tmux_id"]) == expected
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    server = f"{tmux.socket}#{pid}@{start}@{HOST}"
    assert out["id"] == session_id(server, out["tmux_id"])
    # The watcher sees it appear and writes into the same row: one row, one `created`.
    wait_until(
        lambda: rows(
            pg_url,
            "SELECT 1 FROM session_events WHERE session_id = %s AND event_type = 'created'",
            out["id"],
        ),
        timeout=30,
        what="the watcher's created event on the revived row",
    )
    assert rows(
        pg_url,
        "SELECT id, host, metadata->>'revived_from' FROM sessions "
        "WHERE tmux_server = %s AND tmux_id = %s",
        server,
        out["tmux_id"],
    ) == [(out["id"], HOST, old)]
    types = [
        r[0]
        for r in rows(
            pg_url,
            "SELECT event_type FROM session_events WHERE session_id = %s ORDER BY id",
            out["id"],
        )
    ]
    assert "revived" in types and types.count("created") == 1
    revived = rows(
        pg_url,
        "SELECT session_id, data::text, host FROM session_events WHERE event_type = 'revived' "
        "ORDER BY id",
    )
    assert [(s, json.loads(d), h) for s, d, h in revived] == [
        (old, {"to": out["id"], "name": "work"}, HOST),
        (out["id"], {"from": old, "windows": 2}, HOST),
    ]
    # The watcher records the revived session's own windows over revive's record.
    wait_until(
        lambda: rows(
            pg_url,
            "SELECT 1 FROM sessions WHERE id = %s AND "
            "jsonb_array_length(metadata->'tmux_windows'->'windows') = 2 "
            "AND metadata->'tmux_windows'->'windows'->1->'panes'->1->>'id' IS NOT NULL",
            out["id"],
        ),
        timeout=30,
        what="the revived session's window record",
    )
    # By name it is now the revived session, alive: refused, with how to get there.
    again = revive(watcher, "work")
    assert again.returncode == 2 and "is still running" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_session_of_another_host_comes_back_here_and_stays_as_it_was_there(
    pg_url: str, tmux: Tmux, home: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    gone = "/nowhere/on/this/machine"
    # Recorded on "desk" (still running there as far as the store knows), on a socket of the
    # same name in another user's folder on that machine.
    other_server = f"/tmp/tmux-4242/{tmux.name}#999@1700000000@desk"
    windows = {
        "recorded_at": "2026-11-20T10:00:00.000000Z",
        "windows": [
            {"index": 0, "name": "code", "layout": "", "panes": [{"id": "%0", "path": str(kept)}]},
            {"index": 1, "name": "logs", "layout": "", "panes": [{"id": "%1", "path": gone}]},
        ],
    }
    old = "s-00000000000d0e5c"
    with connect_sync(pg_url) as conn:
        conn.execute(
            b"INSERT INTO sessions (id, name, directory, created_at, updated_at, last_access, "
            b"metadata, status, tmux_server, tmux_id, host) VALUES (%s, 'deskwork', %s, "
            b"'2026-11-20T09:00:00.000000Z', '2026-11-20T10:00:00.000000Z', "
            b"'2026-11-20T10:00:00.000000Z', %s::jsonb, 'detached', %s, '$4', 'desk')",
            (old, str(kept), json.dumps({"tmux_windows": windows}), other_server),
        )
    config = home / ".config" / "ccmgr-ultra"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text(f"watcher:\n    host: {HOST}\n")
    env = clean_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        TMUX_TMPDIR=tmux.env["TMUX_TMPDIR"],
        CCMGR_WATCH_REVIVE_COMMAND="sleep 3600",
    )
    result = subprocess.run(
        [CCMGR_WATCH, "revive", "--db", pg_url, "deskwork"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert f"Warning: {gone} no longer exists; window 'logs' opens in {home}" in err
    assert "'deskwork' is still recorded as running on desk: this is a copy" in err
    assert f"no tmux server was running at {tmux.socket}: started one" in err
    # On this machine's server of the same name, in this user's socket folder.
    assert tmux("list-sessions", "-F", "#{session_name}").split() == ["deskwork"]
    assert [(w[1], w[3]) for w in windows_of(tmux, "deskwork")] == [
        ("code", [str(kept)]),
        ("logs", [str(home)]),
    ]
    new = rows(
        pg_url,
        "SELECT id, host, tmux_server, status FROM sessions WHERE metadata->>'revived_from' = %s",
        old,
    )
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    assert len(new) == 1 and new[0][1:] == (HOST, f"{tmux.socket}#{pid}@{start}@{HOST}", "detached")
    # Desk's session is desk's watcher's business: not ended from here.
    assert rows(pg_url, "SELECT status, ended_at FROM sessions WHERE id = %s", old) == [
        ("detached", None)
    ]
    assert rows(
        pg_url, "SELECT host FROM session_events WHERE event_type = 'revived' ORDER BY id"
    ) == [(HOST,), (HOST,)]


def test_revive_on_a_url_names_what_is_missing(pg_url: str, tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))
    for ref, code in (("nothing-like-it", 2), ("s-0000", 2)):
        result = subprocess.run(
            [CCMGR_WATCH, "revive", "--db", pg_url, "--", ref],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == code, result.stderr
        assert result.stderr.startswith("Error: ") and "\nHint: " in result.stderr
    gone = subprocess.run(
        [CCMGR_WATCH, "revive", "--db", "postgresql://me:s3cret@/nope?host=/nonexistent", "x"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gone.returncode == 5 and "s3cret" not in gone.stderr and "Hint:" in gone.stderr
