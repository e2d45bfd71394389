"""`ccmgr-watch revive` end to end: sessions recorded by a real `ccmgr-watch run` on a private
tmux server, killed, and brought back by the real CLI (a process), checked with tmux itself.

Revived panes run `sleep` (CCMGR_WATCH_REVIVE_COMMAND), never a shell; HOME is a temporary
folder (the stand-in for vanished directories, and no ~/.tmux.conf for a server revive starts).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env, query, wait_until
from watcher.capture.events import session_id
from watcher.service_config import local_host

pytestmark = pytest.mark.tmux

WINDOW_FORMAT = "#{window_index}|#{window_name}|#{window_layout}|#{P:#{pane_current_path};}"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data.db"


@pytest.fixture
def watcher(db: Path, tmux: Tmux) -> Iterator[Watcher]:
    tmux.new("base")  # the watcher's own session: the revived ones stay out of its way
    running = Watcher(db, "-L", tmux.name).start()
    try:
        running.wait_connected()
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.stop(signal.SIGKILL)


def revive(
    db: Path, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI as a process."""
    return subprocess.run(
        [CCMGR_WATCH, "revive", "--db", str(db), *args],
        env=clean_env(
            CCMGR_WATCH_REVIVE_COMMAND="sleep 3600",
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            **(env or {}),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def windows_of(tmux: Tmux, target: str) -> list[tuple[str, str, str, list[str]]]:
    """(index, name, layout without checksum and pane ids, pane directories) per window."""
    out = []
    for line in tmux("list-windows", "-t", target, "-F", WINDOW_FORMAT).splitlines():
        index, name, layout, paths = line.split("|", 3)
        out.append((index, name, shape(layout), paths.rstrip(";").split(";")))
    return out


def shape(layout: str) -> str:
    """A layout without what differs between two copies of it (checksum, pane ids)."""
    return re.sub(r"(\d+x\d+,\d+,\d+),\d+", r"\1,P", layout[5:])


def record_work_session(
    tmux: Tmux, db: Path, dirs: dict[str, Path], name: str = "work"
) -> tuple[str, list[tuple[str, str, str, list[str]]]]:
    """A session with three windows (one split in two), recorded, then killed: its stored id
    and its windows as tmux listed them."""
    sid = tmux.new(name, "-n", "main", "-c", str(dirs["a"]), "-x", "120", "-y", "40")
    tmux("new-window", "-t", sid, "-n", "ed", "-c", str(dirs["b"]), "sleep 3600")
    tmux("split-window", "-h", "-l", "30", "-t", f"{sid}:ed", "-c", str(dirs["c"]), "sleep 3600")
    tmux("new-window", "-d", "-t", sid, "-n", "logs", "-c", str(dirs["d"]), "sleep 3600")
    tmux("select-window", "-t", f"{sid}:ed")
    before = windows_of(tmux, sid)

    def recorded() -> bool:
        rows = query(
            db,
            "SELECT json_extract(metadata, '$.tmux_windows.windows') FROM sessions "
            "WHERE name = ? AND status != 'ended'",
            name,
        )
        if not rows or rows[0][0] is None:
            return False
        windows = json.loads(rows[0][0])
        return (
            len(windows) == 3 and len(windows[1]["panes"]) == 2 and windows[1]["panes"][1]["path"]
        )

    wait_until(recorded, what="the window record")
    tmux("kill-session", "-t", sid)
    wait_until(
        lambda: query(db, "SELECT 1 FROM sessions WHERE name = ? AND status = 'ended'", name),
        what="the session's end",
    )
    assert [w[1] for w in before] == ["main", "ed", "logs"]
    return str(query(db, "SELECT id FROM sessions WHERE name = ?", name)[0][0]), before


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for key in "abcd":
        out[key] = tmp_path / f"dir {key}"
        out[key].mkdir()
    return out


def the_new_session(db: Path, old_id: str) -> tuple[str, str, str, str]:
    """(id, name, tmux server, tmux id) of the session revived from ``old_id``."""
    rows = query(
        db,
        "SELECT id, name, tmux_server, tmux_id FROM sessions "
        "WHERE json_extract(metadata, '$.revived_from') = ?",
        old_id,
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_revive_restores_names_order_directories_and_layouts(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, expected = record_work_session(tmux, db, dirs)
    watcher.stop()
    result = revive(db, home, "work")
    assert result.returncode == 0, result.stderr
    assert "revived 'work' as 'work'" in result.stdout
    new_id, name, server, tmux_id = the_new_session(db, old)
    assert name == "work"
    assert windows_of(tmux, tmux_id) == expected
    assert [w[3] for w in expected] == [
        [str(dirs["a"])],
        [str(dirs["b"]), str(dirs["c"])],
        [str(dirs["d"])],
    ]
    # The window that was current is current again.
    assert tmux("display-message", "-t", tmux_id, "-p", "#{window_name}").strip() == "ed"
    # The stored id is the one the watcher gives this tmux session.
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    # With this machine's host, as the watcher keys server lifetimes it first sees (sql/004).
    assert server == f"{tmux.socket}#{pid}@{start}@{local_host()}"
    assert new_id == session_id(server, tmux_id)
    events = query(
        db,
        "SELECT session_id, data FROM session_events WHERE event_type = 'revived' ORDER BY id",
    )
    assert [(s, json.loads(d)) for s, d in events] == [
        (old, {"to": new_id, "name": "work"}),
        (new_id, {"from": old, "windows": 3}),
    ]


def test_session_show_says_what_a_revive_restores(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    shown = subprocess.run(
        [CCMGR_WATCH, "session", "show", "--db", str(db), old],
        env=clean_env(HOME=str(home)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "`ccmgr-watch revive` would restore it" in shown
    assert re.search(r"1\s+ed\s+2\s+" + re.escape(f"{dirs['b']}, {dirs['c']}"), shown), shown
    as_json = json.loads(
        subprocess.run(
            [CCMGR_WATCH, "session", "show", "--db", str(db), old, "--json"],
            env=clean_env(HOME=str(home)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [w["name"] for w in as_json["revive"]["windows"]] == ["main", "ed", "logs"]
    assert as_json["revive"]["windows"][1]["directories"] == [str(dirs["b"]), str(dirs["c"])]


def test_a_taken_name_gets_a_suffix_and_name_chooses_one(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    tmux.new("work")
    tmux.new("work-2")
    result = revive(db, home, old)
    assert result.returncode == 0, result.stderr
    assert "'work' exists: the revived one is 'work-3'" in result.stderr
    assert the_new_session(db, old)[1] == "work-3"
    assert "work-3" in tmux("list-sessions", "-F", "#{session_name}").split()

    chosen = revive(db, home, old, "--name", "fresh start", "--json")
    assert chosen.returncode == 0, chosen.stderr
    data = json.loads(chosen.stdout)
    assert data["name"] == "fresh start" and data["from"] == old
    assert tmux("display-message", "-t", data["tmux_id"], "-p", "#{session_name}").strip() == (
        "fresh start"
    )


def test_a_vanished_directory_falls_back_to_home_with_a_warning(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    dirs["c"].rmdir()
    result = revive(db, home, old)
    assert result.returncode == 0, result.stderr
    assert f"Warning: {dirs['c']} no longer exists; window 'ed' opens in {home}" in result.stderr
    tmux_id = the_new_session(db, old)[3]
    assert windows_of(tmux, tmux_id)[1][3] == [str(dirs["b"]), str(home)]


def test_a_server_that_is_not_running_is_started(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    watcher.stop()
    tmux.kill_server()
    assert tmux("list-sessions", check=False) == ""
    result = revive(db, home, old)
    assert result.returncode == 0, result.stderr
    assert f"no tmux server was running at {tmux.socket}: started one" in result.stderr
    names = tmux("list-sessions", "-F", "#{session_name}").split()
    assert names == ["work"]
    new_id, _, server, tmux_id = the_new_session(db, old)
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    assert server == f"{tmux.socket}#{pid}@{start}@{local_host()}"
    assert new_id == session_id(server, tmux_id)


def test_a_server_recorded_before_hosts_keeps_its_key(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    """A server lifetime recorded before sql/004 (its key has no host) keeps that key while its
    sessions live (watcher.capture.server_task): the revived session must get the same key, or
    the watcher would record it a second time under another id."""
    tmux.new("keeper")
    old, _ = record_work_session(tmux, db, dirs)
    watcher.stop()
    import sqlite3

    suffix = f"@{local_host()}"
    with sqlite3.connect(db) as conn:  # as a database from before hosts holds them
        conn.execute(
            "UPDATE sessions SET tmux_server = substr(tmux_server, 1, length(tmux_server) - ?) "
            "WHERE tmux_server LIKE ?",
            (len(suffix), f"%{suffix}"),
        )
    result = revive(db, home, old)
    assert result.returncode == 0, result.stderr
    new_id, _, server, tmux_id = the_new_session(db, old)
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    assert server == f"{tmux.socket}#{pid}@{start}" and new_id == session_id(server, tmux_id)


def test_a_live_session_is_refused(tmux: Tmux, db: Path, home: Path, watcher: Watcher) -> None:
    sid = tmux.new("alive")
    wait_until(lambda: query(db, "SELECT 1 FROM sessions WHERE name = 'alive'"), what="record")
    result = revive(db, home, "alive")
    assert result.returncode == 2
    assert "Error: the session 'alive'" in result.stderr and "is still running" in result.stderr
    assert f"Hint: attach to it instead: tmux -S {tmux.socket} attach-session -t '{sid}'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert tmux("list-sessions", "-F", "#{session_name}").split().count("alive") == 1


def test_an_unknown_session_is_a_usage_mistake(tmux: Tmux, db: Path, home: Path) -> None:
    subprocess.run([CCMGR_WATCH, "db", "migrate", "--db", str(db)], check=True, capture_output=True)
    for ref in ("nothing-like-it", "s-0000", "--", "x'; rm -rf ~"):
        result = revive(db, home, "--", ref) if ref != "--" else revive(db, home, "--", "--")
        assert result.returncode == 2, (ref, result.stderr)
        assert result.stderr.startswith("Error: ") and "\nHint: " in result.stderr
        assert "Traceback" not in result.stderr
    bad_name = revive(db, home, "x", "--name", "a.b")
    assert bad_name.returncode == 2 and "Hint:" in bad_name.stderr


@pytest.mark.parametrize(
    "name",
    [
        'it\'s "quoted"',
        "$(touch pwned); `id`",
        "semi;colon; kill-server",
        "ünïcødé 宇宙 🚀",
        "-dash",
    ],
)
def test_hostile_names_come_back_as_they_were(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher, name: str
) -> None:
    old, _ = record_work_session(tmux, db, dirs, name=name)
    result = revive(db, home, "--", old)
    assert result.returncode == 0, result.stderr
    tmux_id = the_new_session(db, old)[3]
    assert tmux("display-message", "-t", tmux_id, "-p", "#{session_name}").strip() == name
    assert not (home / "pwned").exists() and not Path("pwned").exists()
    # A name that ends in ';' (tmux's command separator) stays a name.
    again = revive(db, home, "--json", "--name", name + " ;", "--", old)
    assert again.returncode == 0, again.stderr
    again_id = json.loads(again.stdout)["tmux_id"]
    assert tmux("display-message", "-t", again_id, "-p", "#{session_name}").strip() == name + " ;"
    # By name it is now the revived session (the most recent of that name): alive, refused.
    by_name = revive(db, home, "--name", name + " again", "--", name)
    assert by_name.returncode == 2 and f"the session {name!r}" in by_name.stderr


def test_a_running_watcher_records_the_revived_session_once(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    result = revive(db, home, old)
    assert result.returncode == 0, result.stderr
    new_id, _, server, tmux_id = the_new_session(db, old)
    # The watcher sees it appear and records it under the same id: one row, its events there.
    wait_until(
        lambda: query(
            db,
            "SELECT 1 FROM session_events WHERE session_id = ? AND event_type = 'created'",
            new_id,
        ),
        what="the watcher's created event",
    )
    rows = query(
        db, "SELECT id FROM sessions WHERE tmux_server = ? AND tmux_id = ?", server, tmux_id
    )
    assert rows == [(new_id,)]
    types = [
        r[0]
        for r in query(
            db, "SELECT event_type FROM session_events WHERE session_id = ? ORDER BY id", new_id
        )
    ]
    assert "revived" in types and types.count("created") == 1
    # And the watcher records the revived session's own windows.
    wait_until(
        lambda: query(
            db,
            "SELECT 1 FROM sessions WHERE id = ? AND "
            "json_array_length(metadata, '$.tmux_windows.windows') = 3",
            new_id,
        ),
        what="the revived session's window record",
    )


def test_attach_outside_tmux_attaches_a_client_to_the_revived_session(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    env = clean_env(
        CCMGR_WATCH_REVIVE_COMMAND="sleep 3600",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
    )
    command = f"{CCMGR_WATCH} revive --db '{db}' --attach '{old}'"
    # A real terminal (script's pty): revive execs `tmux attach-session` in its place.
    client = subprocess.Popen(
        ["script", "-qfc", command, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        tmux_id = wait_until(
            lambda: query(
                db,
                "SELECT tmux_id FROM sessions WHERE json_extract(metadata, '$.revived_from') = ?",
                old,
            ),
            what="the revived session",
        )[0][0]

        def attached() -> bool:
            lines = tmux("list-clients", "-F", "#{session_id} #{client_control_mode}").split("\n")
            return f"{tmux_id} 0" in lines

        wait_until(attached, what="a client on the revived session")
    finally:
        client.kill()
        client.wait(timeout=5)


def test_attach_inside_tmux_switches_the_client_to_the_revived_session(
    tmux: Tmux, db: Path, home: Path, dirs: dict[str, Path], watcher: Watcher
) -> None:
    old, _ = record_work_session(tmux, db, dirs)
    person = tmux.attach_pty("base")  # a real client, on the watcher's session
    try:
        wait_until(
            lambda: (
                "base 0" in tmux("list-clients", "-F", "#{session_name} #{client_control_mode}")
            ),
            what="the person's client",
        )
        # What the picker does in a popup: run revive --attach from inside that client's tmux.
        tmux(
            "new-window",
            "-t",
            "base",
            "-e",
            "CCMGR_WATCH_REVIVE_COMMAND=sleep 3600",
            "-e",
            f"HOME={home}",
            f"{CCMGR_WATCH} revive --db '{db}' --attach '{old}'; sleep 3600",
        )
        tmux_id = wait_until(
            lambda: query(
                db,
                "SELECT tmux_id FROM sessions WHERE json_extract(metadata, '$.revived_from') = ?",
                old,
            ),
            what="the revived session",
        )[0][0]

        def switched() -> bool:
            lines = tmux("list-clients", "-F", "#{session_id} #{client_control_mode}").split("\n")
            return f"{tmux_id} 0" in lines

        wait_until(switched, what="the person's client on the revived session")
    finally:
        person.kill()
        person.wait(timeout=5)
