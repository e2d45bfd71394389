"""The picker for real: a private tmux server runs it, send-keys types, capture-pane reads."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
from pathlib import Path

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, wait_until
from tests.pick.conftest import Picker, insert, session_row

NAMES = ["alpha-api", "alpha-web", "beta-db", "gamma-auth", "main-work"]


def fill(db: Path) -> list[dict[str, object]]:
    rows = [
        session_row(n, name, project="myapp" if n % 2 else "infra", branch="main")
        for n, name in enumerate(NAMES)
    ]
    rows[2]["status"] = "ended"
    events = [
        (str(rows[4]["id"]), "created", "2026-11-14T09:00:00.000000Z", "{}"),
        (
            str(rows[4]["id"]),
            "window_added",
            "2026-11-14T09:01:00.000000Z",
            json.dumps({"window_id": "@1", "window_name": "editor"}),
        ),
        (str(rows[4]["id"]), "attached", "2026-11-14T09:02:00.000000Z", "{}"),
    ]
    insert(db, rows, events)
    return rows


def shown_names(screen: str) -> list[str]:
    """The session names in the result list, in order."""
    return [
        line[2:].split()[0]
        for line in screen.splitlines()[2:]
        if line[:2] in ("> ", "  ") and line[2:].split() and line[2:].split()[0] in NAMES
    ]


def test_typing_narrows_moving_selects_and_print_prints_the_choice(
    picker: Picker, db: Path
) -> None:
    rows = fill(db)
    picker.start(db, "--print")
    screen = picker.wait_for("5 sessions", "the first frame")
    # Most recently used first; the first is selected, and its preview shows.
    assert shown_names(screen) == NAMES[::-1]
    assert "> main-work" in screen
    assert "windows  1: editor" in screen and "attached" in screen
    picker.type("alp")
    screen = picker.wait_for("2 sessions", "the list to narrow")
    assert shown_names(screen) == ["alpha-web", "alpha-api"]
    assert screen.splitlines()[0].startswith("> alp")
    picker.keys("Down")
    picker.wait_for("> alpha-api", "the selection to move down")
    picker.keys("C-p")
    picker.wait_for("> alpha-web", "Ctrl-P to move up")
    picker.keys("C-n")
    screen = picker.wait_for("> alpha-api", "Ctrl-N to move down")
    assert "── alpha-api · detached" in screen
    picker.keys("Enter")
    assert picker.exit_status() == 0
    assert str(rows[0]["id"]) in picker.screen()


def test_esc_leaves_with_nothing_chosen(picker: Picker, db: Path) -> None:
    fill(db)
    picker.start(db, "--print")
    picker.wait_for("5 sessions", "the first frame")
    picker.keys("Escape")
    assert picker.exit_status() == 1
    assert "s-0" not in picker.screen()


def test_ctrl_c_leaves_with_130(picker: Picker, db: Path) -> None:
    fill(db)
    picker.start(db, "--print", "beta")
    picker.wait_for("1 session", "the first frame with the initial query")
    picker.keys("C-c")
    assert picker.exit_status() == 130
    assert "s-0" not in picker.screen()


def test_a_mistake_shows_inline_and_the_picker_keeps_running(picker: Picker, db: Path) -> None:
    fill(db)
    picker.start(db, "--print")
    picker.wait_for("5 sessions", "the first frame")
    picker.type("alpha (")
    screen = picker.wait_for("unbalanced '('", "the error")
    error_line = screen.splitlines()[1]
    assert error_line.index("^") == len("> alpha ")
    # The last good results stay while the query is wrong.
    assert shown_names(screen)
    picker.type("api)")
    screen = picker.wait_for(
        lambda s: "1 session" in s and "unbalanced" not in s, "the fixed query's results"
    )
    assert shown_names(screen) == ["alpha-api"]
    picker.keys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace")
    picker.type("status:nope")
    picker.wait_for("status:", "the qualifier's error")
    picker.keys("Escape")
    assert picker.exit_status() == 1


def test_an_empty_database_explains_itself(picker: Picker, db: Path) -> None:
    picker.start(db)
    screen = picker.wait_for("No sessions recorded yet.", "the empty state")
    assert str(db) in screen and "ccmgr-watch run" in screen
    picker.type("x")
    picker.keys("Enter")  # nothing to choose: it stays
    picker.wait_for("> x", "the typed query")
    picker.keys("Escape")
    assert picker.exit_status() == 1


def test_a_resized_terminal_is_redrawn_to_its_size(picker: Picker, db: Path) -> None:
    fill(db)
    picker.start(db)
    picker.wait_for("5 sessions", "the first frame")
    wide = picker.lines()
    assert len(wide) == 40
    picker.tmux("resize-window", "-t", "picker", "-x", "60", "-y", "14")

    def redrawn(screen: str) -> bool:
        lines = screen.splitlines()
        # The status sits at the new right edge, one column short of it.
        return bool(lines) and lines[0].rstrip().endswith("5 sessions") and len(lines[0]) <= 59

    screen = picker.wait_for(redrawn, "the redraw at 60x14")
    assert all(len(line) <= 60 for line in screen.splitlines())
    assert "> main-work" in screen
    picker.tmux("resize-window", "-t", "picker", "-x", "120", "-y", "40")
    picker.wait_for(lambda s: len(s.splitlines()[0].rstrip()) > 100, "the redraw at 120x40")
    picker.keys("Escape")
    assert picker.exit_status() == 1


def test_choosing_a_live_session_switches_the_client_to_it(
    tmux: Tmux, picker: Picker, db: Path
) -> None:
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    target_id = tmux.new("target-work")
    key = f"{tmux.socket}#{pid}@{start}"
    insert(db, [session_row(1, "target-work", tmux_server=key, tmux_id=target_id)])
    client = tmux.attach_pty("holder")
    try:

        def client_session() -> str:
            return tmux("list-clients", "-F", "#{client_session}").strip()

        wait_until(lambda: client_session() == "holder", what="the client on holder")
        picker.start(db, session="holder")
        picker.wait_for("1 session", "the first frame")
        picker.type("targ")
        picker.wait_for("> target-work", "the target listed")
        picker.keys("Enter")
        wait_until(lambda: client_session() == "target-work", what="switch-client to the target")
        assert picker.exit_status() == 0
    finally:
        client.kill()
        client.wait(timeout=5)


def test_in_a_tmux_popup_enter_switches_the_client(tmux: Tmux, db: Path) -> None:
    """The README's binding: ``display-popup -E "ccmgr-watch pick"``; keys come from the client's
    own terminal, and the popup closes as the client switches."""
    pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
    target_id = tmux.new("popup-target")
    key = f"{tmux.socket}#{pid}@{start}"
    insert(
        db,
        [
            session_row(1, "popup-target", tmux_server=key, tmux_id=target_id),
            session_row(2, "other-thing", status="ended"),
        ],
    )
    # A real client on a pseudo-terminal, whose screen (tmux's output to it) is read back.
    command = f"stty rows 40 cols 120; exec tmux -L {tmux.name} attach-session -t holder"
    client = subprocess.Popen(
        ["script", "-q", "-e", "-c", command, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=tmux.env,
    )
    assert client.stdin is not None and client.stdout is not None
    os.set_blocking(client.stdout.fileno(), False)
    seen = bytearray()
    shown: subprocess.Popen[bytes] | None = None

    def shows(text: bytes) -> bool:
        with contextlib.suppress(BlockingIOError, TypeError):
            seen.extend(client.stdout.read() or b"")  # type: ignore[union-attr]
        return text in seen

    try:

        def clients() -> list[str]:
            return tmux("list-clients", "-F", "#{client_name} #{client_session}").split()

        name = wait_until(
            lambda: clients()[0] if clients()[1:] == ["holder"] else "", what="a client"
        )
        popup = shlex.join([CCMGR_WATCH, "pick", "--db", str(db)])
        # display-popup waits for the popup to close: it runs beside the test.
        shown = subprocess.Popen(
            [
                "tmux",
                "-L",
                tmux.name,
                "display-popup",
                "-c",
                name,
                "-E",
                "-w",
                "80%",
                "-h",
                "80%",
                popup,
            ],
            env=tmux.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: shows(b"2 sessions"), what="the picker in the popup")
        client.stdin.write(b"popup")
        client.stdin.flush()
        wait_until(lambda: shows(b"1 session"), what="the list to narrow in the popup")
        client.stdin.write(b"\r")
        client.stdin.flush()
        wait_until(lambda: clients()[1:] == ["popup-target"], what="the client to switch")
        assert shown.wait(timeout=10) == 0  # the popup closed
    finally:
        client.kill()
        client.wait(timeout=5)
        if shown is not None and shown.poll() is None:
            shown.kill()
            shown.wait(timeout=5)
