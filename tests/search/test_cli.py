"""The commands: query, session search, session history, db reindex (in-process and real)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from watcher.cli.main import run

from .conftest import insert_sessions, make_session

CLI = str(Path(sys.executable).with_name("ccmgr-watch"))
SESSION_KEYS = {
    "id",
    "name",
    "project",
    "worktree",
    "branch",
    "directory",
    "status",
    "created_at",
    "updated_at",
    "last_access",
    "ended_at",
    "metadata",
    "host",
}


@pytest.fixture
def filled(db_path: Path, conn: sqlite3.Connection) -> Path:
    insert_sessions(
        conn,
        [
            make_session(
                1,
                name="ccmgr-myapp-main-feat_auth",
                project="myapp",
                worktree="main",
                branch="feat/auth",
                directory="/home/u/code/myapp",
                status="attached",
                last_access="2026-11-26T10:00:00.000000Z",
            ),
            make_session(
                2,
                name="notes",
                project="docs",
                directory="/home/u/notes",
                status="ended",
                last_access="2026-11-20T10:00:00.000000Z",
            ),
        ],
    )
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?, ?, ?, ?)",
        [
            ("s0001", "created", "2026-11-24T09:00:00.000000Z", "{}"),
            ("s0001", "attached", "2026-11-24T09:01:00.000000Z", '{"client": "/dev/pts/3"}'),
            ("s0002", "created", "2026-11-19T09:00:00.000000Z", "{}"),
            ("s0002", "killed", "2026-11-20T10:00:00.000000Z", "{}"),
        ],
    )
    return db_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert run(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_query_json(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hits = run_json(capsys, "query", "auth", "--db", str(filled), "--json")
    assert isinstance(hits, list) and len(hits) == 1
    assert set(hits[0]) == SESSION_KEYS | {"score"}
    assert hits[0]["name"] == "ccmgr-myapp-main-feat_auth"
    assert hits[0]["metadata"] == {}
    unranked = run_json(capsys, "--db", str(filled), "query", "status:active", "--json")
    assert [h["id"] for h in unranked] == ["s0001"]
    assert set(unranked[0]) == SESSION_KEYS


def test_query_words_are_joined_and_alias_is_the_same(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = run_json(capsys, "query", "myapp", "feat", "--db", str(filled), "--json")
    two = run_json(capsys, "session", "search", "myapp feat", "--db", str(filled), "--json")
    assert one == two and len(one) == 1


def test_query_options(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    everything = run_json(capsys, "query", "--db", str(filled), "--json", "--sort", "name")
    assert [h["name"] for h in everything] == ["ccmgr-myapp-main-feat_auth", "notes"]
    page = run_json(capsys, "query", "--db", str(filled), "--json", "--limit", "1", "--offset", "1")
    assert [h["id"] for h in page] == ["s0002"]


def test_query_table(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["query", "home", "--db", str(filled)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "NAME",
        "STATUS",
        "PROJECT",
        "BRANCH",
        "LAST",
        "ACCESS",
        "DIRECTORY",
        "ID",
    ]
    assert "ccmgr-myapp-main-feat_auth" in out and " ago" in out
    assert "\033[" not in out  # not a terminal: no colours
    assert run(["query", "nothing-like-this", "--db", str(filled)]) == 0
    assert "No sessions match" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("query", "fragment", "caret_at"),
    [
        ("(auth", "unbalanced '('", 0),
        ("auth foo:bar", "unknown qualifier 'foo:'", 5),
        ("since:yesterdy", "cannot read", 6),
        ("status:gone", "unknown status", 7),
    ],
)
def test_query_errors_point_at_the_position_and_exit_2(
    filled: Path, capsys: pytest.CaptureFixture[str], query: str, fragment: str, caret_at: int
) -> None:
    assert run(["query", query, "--db", str(filled)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith("Error: ") and fragment in lines[0]
    assert lines[1] == "  " + query
    assert lines[2].index("^") == 2 + caret_at
    assert lines[3].startswith("Hint: ")
    assert "Traceback" not in captured.err


def test_long_query_errors_show_a_window(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = "a" * 500 + " foo:bar"
    assert run(["query", query, "--db", str(filled)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[1].startswith("  ...") and len(lines[1]) < 80
    assert lines[1][lines[2].index("^")] == "f"


def test_caret_allows_for_wide_characters(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["query", "中文 foo:bar", "--db", str(filled)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[2].index("^") == 2 + 5  # two double-width characters and a space


def test_missing_database_and_missing_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["query", "x", "--db", str(tmp_path / "nope.db")]) == 5
    assert "no database" in capsys.readouterr().err
    old = tmp_path / "old.db"
    from store.db import migrate_sync

    migrate_sync(old, 1)
    assert run(["query", "x", "--db", str(old)]) == 5
    err = capsys.readouterr().err
    assert "db migrate" in err and "Traceback" not in err


def test_history(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = run_json(capsys, "session", "history", "--db", str(filled), "--json", "--limit", "0")
    assert [e["event_type"] for e in events] == ["attached", "created", "killed", "created"]
    assert set(events[0]) == {"id", "session_id", "session_name", "event_type", "timestamp", "data"}
    assert events[0]["data"] == {"client": "/dev/pts/3"}
    assert events[0]["session_name"] == "ccmgr-myapp-main-feat_auth"

    def types(*argv: str) -> list[str]:
        found = run_json(capsys, "session", "history", "--db", str(filled), "--json", *argv)
        return [e["event_type"] for e in found]

    assert types("--session", "notes") == ["killed", "created"]
    assert types("--session", "s0001") == ["attached", "created"]
    assert types("--type", "created,killed") == ["created", "killed", "created"]
    assert types("--since", "2026-11-20", "--until", "2026-11-24T09:00") == ["created", "killed"]
    assert types("--until", "2026-11-20") == ["killed", "created"]  # the whole day
    assert types("--limit", "1") == ["attached"]


def test_history_as_written_in_the_issue(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["session", "history", "--since", "1 week ago", "--limit", "50", "--db", str(filled)])
        == 0
    )
    assert capsys.readouterr().out.startswith("WHEN")


def test_history_errors(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["session", "history", "--since", "last tuesday", "--db", str(filled)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --since: cannot read") and "^" in err
    assert run(["session", "history", "--session", "ghost", "--db", str(filled)]) == 1
    assert "no session" in capsys.readouterr().err
    assert run(["session", "history", "--limit", "-1", "--db", str(filled)]) == 2


def test_query_starting_with_a_dash(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["query", "-status:ended", "--db", str(filled)]) == 2
    assert "after '--'" in capsys.readouterr().err
    hits = run_json(capsys, "query", "--db", str(filled), "--json", "--", "-status:ended")
    assert [h["id"] for h in hits] == ["s0001"]


def test_db_reindex(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "db", "reindex", "--db", str(filled), "--json")
    assert result["sessions_indexed"] == 2
    assert run(["db", "reindex", "--db", str(filled)]) == 0
    assert "rebuilt over 2 sessions" in capsys.readouterr().out


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "CCMGR_WATCH_DB")}
    env["NO_COLOR"] = "1"
    return env


def test_real_process_query_and_error(filled: Path) -> None:
    ok = subprocess.run(
        [CLI, "query", "project:MYAPP", "--json", "--db", str(filled)],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert [h["id"] for h in json.loads(ok.stdout)] == ["s0001"]
    bad = subprocess.run(
        [CLI, "query", 'auth "open', "--db", str(filled)],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("Error: unclosed quote")
    assert "Traceback" not in bad.stderr


def test_real_process_history(filled: Path) -> None:
    done = subprocess.run(
        [CLI, "session", "history", "--since", "1 week ago", "--limit", "50", "--db", str(filled)],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr


HEAVY_MODULES = (
    "msgspec",
    "anyio",
    "aiosqlite",
    "asyncio",
    "libtmux",
    "ruamel",
    "watchfiles",
    "shutil",  # argparse's default help formatter imports it (with bz2 and lzma)
    "watcher.cli.config_cmd",  # only the named command's parsers are built
    "watcher.cli.db_cmd",
)


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "auth", "--json"],
        ["query", "project:myapp", "since:30d", "-status:ended"],
        ["query", 'auth "open'],  # a query error
        ["session", "search", "auth", "--json"],
        ["session", "history", "--since", "1 week ago", "--json"],
        ["session", "history"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_search_commands_import_nothing_heavy(filled: Path, argv: list[str]) -> None:
    # Start-up time is most of `ccmgr-watch query`'s run time; these imports would double it.
    code = (
        "import sys; from watcher.cli.main import run; "
        f"rc = run({[*argv, '--db', str(filled)]!r}); "
        f"heavy = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules); "
        "print(heavy, file=sys.stderr); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=False
    )
    assert done.returncode in (0, 2), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "until:9999-12-31"],
        ["query", "since:0001-01-01"],
        ["query", 'since:"9999-12-31T23:59-01:00"'],
        ["query", "since:100000d"],
        ["query", "name:\udcff"],
        ["query", "x", "--limit", str(2**63)],
        ["query", "x", "--offset", str(2**63)],
        ["query", "x", "--limit", str(2**64 + 1)],
        ["query", "x", "--limit", "1" + "0" * 4300],
        ["query", "x", "--offset", "-1"],
        ["query", "x", "--limit", "\u0663"],
        ["session", "show", "\udcff"],
        ["session", "list", "--project", "a\udcffb"],
        ["session", "list", "--limit", str(2**63)],
        ["session", "history", "--since", "0001-01-01"],
        ["session", "history", "--until", "9999-12-31"],
        ["session", "history", "--session", "\udcff"],
        ["session", "history", "--type", "created,\udcff"],
        ["session", "history", "--limit", str(2**63)],
    ],
)
def test_hostile_input_is_a_usage_error_never_internal(
    filled: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Issue 9 §4: every one of these ended in "internal error" (exit 70), or must not."""
    assert run([*argv, "--db", str(filled)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "internal error" not in err and "Hint: " in err


def test_undecodable_arguments_under_lang_c_exit_2(filled: Path) -> None:
    """The real process, as a shell under LANG=C passes $'\\xff'."""
    env = {**_env(), "LANG": "C", "LC_ALL": "C"}
    env.pop("PYTHONUTF8", None)
    for argv in ([b"query", b"name:\xff"], [b"session", b"show", b"\xff"]):
        done = subprocess.run(
            [CLI.encode(), *argv, b"--db", str(filled).encode()],
            capture_output=True,
            env=env,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert b"not valid UTF-8" in done.stderr and b"internal error" not in done.stderr
