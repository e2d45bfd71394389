"""``ccmgr-watch pick`` on a PostgreSQL URL, for real: a private tmux server runs it against the
test suite's own PostgreSQL server (tests/pg_server.py); send-keys types, capture-pane reads.

Search, preview and the first frame go through the store; Enter on a live session of this host
switches to it; on another host's live session nothing runs here and the ssh command is
printed (exit 6); an ended one execs ``ccmgr-watch --db URL revive ID --attach``."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from typing import Any

from store.postgres.connect import connect_sync
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, clean_env, wait_until
from tests.pick.conftest import SESSION_FIELDS, Picker, session_row
from tests.pick.test_picker import NAMES, shown_names
from watcher.service_config import local_host

_FIELDS = (*SESSION_FIELDS, "host")


def insert_pg(
    url: str, rows: list[dict[str, Any]], events: Sequence[tuple[str, str, str, str]] = ()
) -> None:
    """tests/pick/conftest.py's ``insert``, into PostgreSQL (rows may carry a host)."""
    with connect_sync(url) as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO sessions ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join(['%s'] * len(_FIELDS))})".encode(),
            [tuple(r.get(f) for f in _FIELDS) for r in rows],
        )
        cur.executemany(
            b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
            b"VALUES (%s, %s, %s, %s::json)",
            events,
        )


def test_search_preview_and_print_on_postgres(picker: Picker, pg_url: str) -> None:
    rows = [
        session_row(n, name, project="myapp" if n % 2 else "infra", branch="main")
        for n, name in enumerate(NAMES)
    ]
    rows[2]["status"] = "ended"
    sid = str(rows[4]["id"])
    window = json.dumps({"window_id": "@1", "window_name": "editor"})
    insert_pg(
        pg_url,
        rows,
        [
            (sid, "created", "2026-11-14T09:00:00.000000Z", "{}"),
            (sid, "window_added", "2026-11-14T09:01:00.000000Z", window),
        ],
    )
    picker.start(pg_url, "--print")  # type: ignore[arg-type]
    screen = picker.wait_for("5 sessions", "the first frame")
    assert shown_names(screen) == NAMES[::-1]
    assert "windows  1: editor" in screen
    picker.type("alp")
    screen = picker.wait_for("2 sessions", "the list to narrow")
    assert shown_names(screen) == ["alpha-web", "alpha-api"]
    picker.type(" project:")
    picker.wait_for("^", "the inline mistake")
    picker.type("infra")
    screen = picker.wait_for("1 session", "the qualifier")
    assert shown_names(screen) == ["alpha-api"]
    assert "── alpha-api · detached" in screen
    picker.keys("Enter")
    assert picker.exit_status() == 0
    assert str(rows[0]["id"]) in picker.screen()


def _live_row(tmux: Tmux, name: str, host: str) -> tuple[dict[str, Any], str]:
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    target = tmux.new(name)
    key = f"{tmux.socket}#{pid}@{start}@{host}"
    return session_row(1, name, tmux_server=key, tmux_id=target, host=host), target


def test_a_live_session_of_this_host_is_switched_to(
    tmux: Tmux, picker: Picker, pg_url: str
) -> None:
    row, _ = _live_row(tmux, "target-work", local_host())
    insert_pg(pg_url, [row])
    client = tmux.attach_pty("holder")
    try:

        def client_session() -> str:
            return tmux("list-clients", "-F", "#{client_session}").strip()

        wait_until(lambda: client_session() == "holder", what="the client on holder")
        picker.start(pg_url, session="holder")  # type: ignore[arg-type]
        picker.wait_for("Enter: switch to it", "the first frame")
        picker.keys("Enter")
        wait_until(lambda: client_session() == "target-work", what="switch-client to the target")
        assert picker.exit_status() == 0
    finally:
        client.kill()
        client.wait(timeout=5)


def test_another_hosts_live_session_prints_the_ssh_command(
    tmux: Tmux, picker: Picker, pg_url: str
) -> None:
    """The other host's socket path and $N exist here too (another server, another session):
    the picker must not touch them."""
    row, target = _live_row(tmux, "their-work", "desk-elsewhere")
    insert_pg(pg_url, [row])
    client = tmux.attach_pty("holder")
    try:

        def client_session() -> str:
            return tmux("list-clients", "-F", "#{client_session}").strip()

        wait_until(lambda: client_session() == "holder", what="the client on holder")
        picker.start(pg_url, session="holder")  # type: ignore[arg-type]
        screen = picker.wait_for("Enter prints the ssh command", "the other host's preview")
        assert "desk-elsewhere: server" in screen
        picker.keys("Enter")
        assert picker.exit_status() == 6
        # -J: lines the pane wrapped are joined back.
        screen = picker.tmux("capture-pane", "-p", "-J", "-t", picker.target, check=False)
        text = " ".join(screen.split())
        assert "Error: 'their-work' (s-0000000000000001) runs on host desk-elsewhere" in text
        remote = f"tmux -S {tmux.socket} attach-session -t '\\{target}'"
        assert f'Hint: attach to it there: ssh -t desk-elsewhere "{remote}"' in text
        assert client_session() == "holder"
    finally:
        client.kill()
        client.wait(timeout=5)


def test_the_ssh_command_survives_two_shells() -> None:
    """The hint's command, as a shell here and one on the host parse it, is the tmux argv."""
    from store.reads import SessionRecord
    from watcher.pick.go import remote_command

    socket = '/tmp/tmux-1000/it\'s "odd" $HOME `x` \\'
    session = SessionRecord(
        id="s-1",
        name="n",
        created_at="2026-11-27T10:00:00.000000Z",
        updated_at="2026-11-27T10:00:00.000000Z",
        last_access="2026-11-27T10:00:00.000000Z",
        tmux_server=f"{socket}#1@2@desk",
        tmux_id="$3",
        host="desk",
    )
    command = remote_command(session)
    # `sh -c 'printf ...' ARGS` stands in for ssh: prints what the remote shell would run.
    here = subprocess.run(
        ["sh", "-c", command.replace("ssh -t desk ", "printf '%s' ", 1)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    there = subprocess.run(
        ["sh", "-c", f"for a in {here}; do printf '%s\\n' \"$a\"; done"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert there == ["tmux", "-S", socket, "attach-session", "-t", "$3"]


def test_an_ended_session_execs_revive_with_the_url(
    tmux: Tmux, picker: Picker, pg_url: str
) -> None:
    """The picker runs `ccmgr-watch --db URL revive ID --attach`; whether revive works on a
    URL is revive's business: it either revives the session on its (private) server or says
    it needs a file."""
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    key = f"{tmux.socket}#{pid}@{start}@{local_host()}"
    insert_pg(
        pg_url,
        [session_row(1, "old-work", status="ended", ended_at="2026-11-12T10:00:00.000000Z",
                     tmux_server=key, tmux_id="$99", host=local_host())],
    )  # fmt: skip
    picker.start(pg_url)  # type: ignore[arg-type]
    picker.wait_for("Enter: revive it", "the ended session's preview")
    picker.keys("Enter")

    def revived_or_refused() -> str:
        if "old-work" in tmux("list-sessions", "-F", "#{session_name}", check=False).split():
            return "revived"
        screen = " ".join(picker.screen().split())
        if re.search(r"\[exit \d+\]", screen):
            return screen
        return ""

    outcome = wait_until(revived_or_refused, what="revive to run")
    if outcome != "revived":
        assert "`ccmgr-watch revive` works on a SQLite database file only" in outcome
        assert "[exit 2]" in outcome


def test_an_empty_database_hides_the_password(picker: Picker, pg_url: str) -> None:
    with_password = pg_url.replace("postgresql://ccmgr@", "postgresql://ccmgr:hunter2@")
    picker.start(with_password)  # type: ignore[arg-type]
    screen = picker.wait_for("No sessions recorded yet.", "the empty state")
    assert "Database: postgresql://ccmgr:***@" in screen and "hunter2" not in screen
    picker.keys("Escape")
    assert picker.exit_status() == 1


def test_an_unreachable_server_is_said_before_the_screen() -> None:
    done = subprocess.run(
        [CCMGR_WATCH, "pick", "--db", "postgresql://me:secret@/x?host=/nonexistent&port=1"],
        capture_output=True,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 5
    assert done.stderr.startswith("Error: cannot connect to postgresql://me:***@")
    assert "Hint: " in done.stderr and "secret" not in done.stderr
    assert "Traceback" not in done.stderr
