"""Going to the chosen session: the argv for switch/attach/revive, and tmux's own answer."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.reads import SessionRecord
from tests.capture.tmuxenv import Tmux
from tests.pick.conftest import Picker, insert, session_row
from watcher.cli.commands import REGISTRARS
from watcher.pick.go import cli_argv, parse_server, plan_go, same_server, session_is_live

STAMP = "2026-11-27T11:00:00.000000Z"
SOCKET = "/tmp/tmux-1000/work"


def record(status: str = "detached", **fields: object) -> SessionRecord:
    values: dict[str, object] = {
        "id": "s-0123456789abcdef",
        "name": "my work; rm -rf ~",  # a name is never part of a command line
        "created_at": STAMP,
        "updated_at": STAMP,
        "last_access": STAMP,
        "status": status,
        "tmux_server": f"{SOCKET}#4242@1700000000",
        "tmux_id": "$7",
    }
    values.update(fields)
    return SessionRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[Tmux]:
    tmux = Tmux()
    tmux.new("holder")
    try:
        yield tmux
    finally:
        tmux.kill_server()


def test_parse_server() -> None:
    assert parse_server("/tmp/a#b/sock#12@34") == ("/tmp/a#b/sock", 12, 34)
    assert parse_server("/tmp/sock#12@34@laptop.local") == ("/tmp/sock", 12, 34)
    for bad in (None, "", "/tmp/sock", "/tmp/sock#x@1", "#1@2", "/s#1"):
        assert parse_server(bad) is None


def test_inside_tmux_on_the_same_server_it_switches(tmp_path: Path) -> None:
    socket = tmp_path / "sock"
    socket.touch()
    session = record(tmux_server=f"{socket}#4242@1700000000")
    env = {"TMUX": f"{socket},4242,0", "PATH": "/usr/bin"}
    go = plan_go(session, live=True, env=env, database="/db")
    assert go.kind == "switch"
    assert go.argv == ["tmux", "-S", str(socket), "switch-client", "-t", "$7"]
    assert go.env["TMUX"] == env["TMUX"]  # tmux finds the client through it


def test_outside_tmux_or_on_another_server_it_attaches_without_tmux_set(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.touch()
    for env in ({"PATH": "/usr/bin"}, {"TMUX": f"{other},1,0", "TMUX_PANE": "%1"}):
        go = plan_go(record(), live=True, env=env, database="/db")
        assert go.kind == "attach"
        assert go.argv == ["tmux", "-S", SOCKET, "attach-session", "-t", "$7"]
        assert "TMUX" not in go.env and "TMUX_PANE" not in go.env


def test_an_ended_or_gone_session_is_revived_by_the_cli() -> None:
    for session, live in (
        (record("ended"), False),
        (record(), False),  # the store says alive, tmux does not have it
        (record(tmux_server=None, tmux_id=None), True),  # imported: no tmux identity
    ):
        go = plan_go(session, live=live, env={"TMUX": "/x,1,0"}, database="/my db.db")
        assert go.kind == "revive"
        assert go.argv == [*cli_argv(), "--db", "/my db.db", "revive", session.id, "--attach"]


def test_cli_argv_runs_this_same_program(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Path(sys.executable).parent / "ccmgr-watch"
    monkeypatch.setattr(sys, "argv", [str(script), "pick"])
    assert cli_argv() == [str(script)]
    monkeypatch.setattr(sys, "argv", ["-c"])
    assert cli_argv()[0] == sys.executable


def test_same_server_compares_the_socket_file(tmp_path: Path) -> None:
    socket = tmp_path / "s"
    socket.touch()
    link = tmp_path / "link"
    link.symlink_to(socket)
    assert same_server(f"{link},1,2", str(socket))
    assert not same_server(f"{tmp_path / 'x'},1,2", str(socket))
    assert not same_server(None, str(socket))
    assert not same_server("", str(socket))


def test_session_is_live_asks_the_server_it_lived_on(server: Tmux) -> None:
    pid, start = server("display-message", "-p", "#{pid} #{start_time}").split()
    sid = server.new("there")
    here = f"{server.socket}#{pid}@{start}"
    env = dict(os.environ)
    assert session_is_live(record(tmux_server=here, tmux_id=sid), env)
    assert session_is_live(record(tmux_server=f"{here}@this-host", tmux_id=sid), env)
    # Another lifetime of the same socket (a restarted server reuses the ids): not this one.
    assert not session_is_live(record(tmux_server=f"{server.socket}#1@{start}", tmux_id=sid), env)
    assert not session_is_live(record(tmux_server=here, tmux_id="$999"), env)
    assert not session_is_live(record("ended", tmux_server=here, tmux_id=sid), env)
    assert not session_is_live(record(tmux_server="/nonexistent/sock#1@2", tmux_id=sid), env)


def _revive_registered() -> bool:
    return any("revive" in names for _, names in REGISTRARS)


@pytest.mark.skipif(
    not _revive_registered(),
    reason="`ccmgr-watch revive` is not registered in watcher/cli/commands.py on this branch "
    "(another branch builds it); the argv the picker execs is tested above",
)
def test_choosing_an_ended_session_revives_it(tmp_path: Path) -> None:
    server = Tmux()
    server.new("holder")
    try:
        pid, start = server("display-message", "-p", "#{pid} #{start_time}").split()
        db = tmp_path / "data.db"
        from store.db import migrate_sync

        migrate_sync(db)
        key = f"{server.socket}#{pid}@{start}"
        directory = str(tmp_path)
        insert(
            db,
            [
                session_row(
                    1,
                    "old-work",
                    status="ended",
                    ended_at=STAMP,
                    directory=directory,
                    tmux_server=key,
                    tmux_id="$99",
                )
            ],
        )
        picker = Picker(server).start(db)
        picker.wait_for("1 session", "the first frame")
        picker.type("old")
        picker.wait_for("Enter: revive it", "the ended session's preview")
        picker.keys("Enter")

        def revived() -> bool:
            names = server("list-sessions", "-F", "#{session_name}", check=False).split()
            return "old-work" in names

        from tests.capture.tmuxenv import wait_until

        wait_until(revived, what="the ended session to be revived")
    finally:
        server.kill_server()
