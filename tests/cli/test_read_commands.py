"""The read commands (query, session list|show|history): messages, hints, ids, tables, imports."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from watcher.cli.main import build_parser, run

SESSIONS = [
    # id, name, project, status, last_access
    ("s-1f0c9a3e5b7d2c41", "ccmgr-webshop-main-feature_auth", "webshop", "ended", "10"),
    ("s-1f0c77aa01b2c3d4", "scratch", None, "ended", "11"),
    ("s-77aa01b2c3d4e5f6", "🚀 launch", "宇宙", "detached", "12"),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sid, name, project, status, hour in SESSIONS:
        stamp = f"2026-11-26T{hour}:00:00.000000Z"
        conn.execute(
            "INSERT INTO sessions (id, name, project, created_at, updated_at, last_access, "
            "status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sid, name, project, stamp, stamp, stamp, status),
        )
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?, ?, ?, ?)",
        [
            ("s-77aa01b2c3d4e5f6", "created", "2026-11-26T12:00:00.000000Z", "{}"),
            ("s-77aa01b2c3d4e5f6", "window_added", "2026-11-26T12:00:01.000000Z", "{}"),
            ("s-77aa01b2c3d4e5f6", "attached", "2026-11-26T12:01:00.000000Z", '{"client": "a"}'),
            ("s-77aa01b2c3d4e5f6", "renamed", "2026-11-26T12:02:00.000000Z", "{}"),
            ("s-1f0c77aa01b2c3d4", "custom_tool_event", "2026-11-26T11:00:00.000000Z", "{}"),
        ],
    )
    conn.close()
    return path


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- 8.7: an empty result of filters is not "nothing recorded" ---


@pytest.mark.parametrize(
    "filters",
    [["--status", "attached"], ["--project", "nope"], ["--status", "ended", "--project", "宇宙"]],
)
def test_session_list_names_the_filters_that_match_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], filters: list[str]
) -> None:
    code, out, err = call(capsys, "session", "list", "--db", str(db), *filters)
    assert code == 0 and out == ""
    assert err == f"No sessions match {' '.join(filters)}.\n"


def test_session_list_of_an_empty_database(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.db"
    migrate_sync(empty)
    code, out, err = call(capsys, "session", "list", "--db", str(empty), "--status", "attached")
    assert (code, out, err) == (0, "", "No sessions recorded yet.\n")


def test_session_list_limit_0_means_all(db: Path, capsys) -> None:
    code, out, _ = call(capsys, "session", "list", "--db", str(db), "--json", "--limit", "0")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, _ = call(capsys, "session", "list", "--db", str(db), "--json", "--limit", "1")
    assert [s["name"] for s in json.loads(out)] == ["🚀 launch"]


def test_session_list_json_keeps_the_stored_record_format(db: Path, capsys) -> None:
    code, out, _ = call(capsys, "session", "list", "--db", str(db), "--json", "--limit", "1")
    assert code == 0
    # The fields of store.reads.SessionRecord, in its order (a copy on purpose: the contract).
    assert list(json.loads(out)[0]) == [
        "id",
        "name",
        "created_at",
        "updated_at",
        "last_access",
        "project",
        "worktree",
        "branch",
        "directory",
        "metadata",
        "status",
        "ended_at",
        "tmux_server",
        "tmux_id",
        "host",
    ]


# --- 8.8: unknown event types are a usage mistake ---


@pytest.mark.parametrize("types", ["attach", "created,bogus", ","])
def test_history_rejects_unknown_event_types(db: Path, capsys, types: str) -> None:
    code, out, err = call(capsys, "session", "history", "--db", str(db), "--type", types)
    assert code == 2 and out == ""
    assert err.startswith("Error: --type: unknown event type")
    assert "Hint: use one or more of created, renamed, attached" in err


def test_history_accepts_types_other_tools_wrote(db: Path, capsys) -> None:
    code, out, _ = call(
        capsys, "session", "history", "--db", str(db), "--json", "--type", "custom_tool_event"
    )
    assert code == 0 and [e["event_type"] for e in json.loads(out)] == ["custom_tool_event"]


def test_event_types_start_with_the_watchers_lifecycle_types() -> None:
    from typing import get_args

    from store.columns import EVENT_TYPES
    from store.models import LifecycleType

    lifecycle = get_args(LifecycleType)
    assert EVENT_TYPES[: len(lifecycle)] == lifecycle


# --- 8.12: errors say what failed and how to fix it ---


@pytest.mark.parametrize(
    "argv",
    [["query", "x"], ["session", "history"], ["session", "list"], ["session", "show", "abcd"]],
    ids=" ".join,
)
@pytest.mark.parametrize("kind", ["not_a_database", "folder", "no_schema"])
def test_read_errors_have_a_helpful_hint(
    tmp_path: Path, capsys, argv: list[str], kind: str
) -> None:
    path = tmp_path / "x.db"
    if kind == "not_a_database":
        path.write_text("hello\n")
    elif kind == "folder":
        path.mkdir()
    else:
        sqlite3.connect(path).execute("CREATE TABLE unrelated (a)").connection.close()
    code, out, err = call(capsys, *argv, "--db", str(path))
    assert code == 5 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: ")
    assert "searching the database failed" not in err and "db status" not in err
    assert "cannot create" not in err
    expected = {"not_a_database": "--db", "folder": "data.db", "no_schema": "db migrate"}[kind]
    assert expected in lines[1]


def test_writing_to_an_existing_read_only_database_is_not_called_creating_it(
    db: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    # Root ignores file modes, so the refusal the kernel would give is simulated.
    monkeypatch.setattr("store.db.ensure_private_file", refuse)
    code, _, err = call(capsys, "db", "migrate", "--db", str(db))
    assert code == 5
    assert err.startswith(f"Error: cannot write to the database at {db}: Permission denied")
    assert "cannot create" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
def test_read_commands_work_on_a_read_only_database(db: Path, capsys) -> None:
    sqlite3.connect(db).execute("PRAGMA journal_mode = DELETE").connection.close()
    db.chmod(0o400)
    try:
        code, out, _ = call(capsys, "session", "list", "--db", str(db), "--json")
        assert code == 0 and len(json.loads(out)) == 3
    finally:
        db.chmod(0o600)


# --- 8.13: hints about '--' only where they help; id prefixes ---


def test_an_unknown_option_gets_no_hint_about_queries(capsys) -> None:
    code, _, err = call(capsys, "run", "--bogus")
    assert code == 2
    assert err == "Error: unrecognized arguments: --bogus\nHint: see `ccmgr-watch run --help`\n"


@pytest.mark.parametrize(
    ("argv", "example"),
    [
        (["query", "-status:ended"], "ccmgr-watch query -- -status:ended"),
        (["session", "search", "-x"], "ccmgr-watch session search -- -x"),
        (["session", "show", "-dash"], "ccmgr-watch session show -- -dash"),
    ],
)
def test_a_value_starting_with_a_dash_gets_the_hint(
    db: Path, capsys, argv: list[str], example: str
) -> None:
    code, _, err = call(capsys, *argv, "--db", str(db))
    assert code == 2
    assert err.splitlines()[-1].endswith(f"goes after '--': {example}")


def test_a_negative_number_is_not_taken_for_a_dashed_value(capsys) -> None:
    code, _, err = call(capsys, "query", "x", "--limit", "-1")
    assert code == 2 and "'--'" not in err


@pytest.mark.parametrize("ref", ["77aa", "s-77aa", "77aa01b2", "s-77aa01b2c3d4e5f6", "🚀 launch"])
def test_session_show_finds_by_id_prefix_with_or_without_s(db: Path, capsys, ref: str) -> None:
    code, out, _ = call(capsys, "session", "show", ref, "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["session"]["id"] == "s-77aa01b2c3d4e5f6"


@pytest.mark.parametrize("ref", ["77a", "s-77a", "s-", "aa01"])
def test_too_short_or_inner_pieces_are_not_prefixes(db: Path, capsys, ref: str) -> None:
    code, _, err = call(capsys, "session", "show", ref, "--db", str(db))
    assert code == 1 and err.startswith("Error: no session")
    assert "4+ characters, with or without its 's-'" in err


@pytest.mark.parametrize("argv", [["session", "show"], ["session", "history", "--session"]])
@pytest.mark.parametrize("ref", ["1f0c", "s-1f0c"])
def test_an_ambiguous_prefix_lists_the_candidates(
    db: Path, capsys, argv: list[str], ref: str
) -> None:
    code, out, err = call(capsys, *argv, ref, "--db", str(db))
    assert code == 2 and out == ""
    assert "is the start of several session ids" in err
    assert "s-1f0c9a3e5b7d2c41 (ccmgr-webshop-main-feature_auth)" in err
    assert "s-1f0c77aa01b2c3d4 (scratch)" in err
    assert "Hint: give more characters" in err


def test_history_takes_the_same_prefixes(db: Path, capsys) -> None:
    code, out, _ = call(
        capsys, "session", "history", "--session", "77aa", "--db", str(db), "--json"
    )
    assert code == 0 and len(json.loads(out)) == 4


def test_history_takes_the_session_as_a_word_too(db: Path, capsys) -> None:
    # What a user types first: `session history NAME` (as `session show NAME`).
    by_option = call(capsys, "session", "history", "--session", "77aa", "--db", str(db), "--json")
    by_word = call(capsys, "session", "history", "77aa", "--db", str(db), "--json")
    same = call(capsys, "session", "history", "77aa", "--session", "77aa", "--db", str(db))
    assert by_word == by_option and by_word[0] == 0 and same[0] == 0
    code, out, err = call(capsys, "session", "history", "77aa", "--session", "9c", "--db", str(db))
    assert code == 2 and out == ""
    assert "two sessions given" in err and "Hint: name one session" in err


# --- 8.15: one style, words and alignment ---


def test_show_counts_in_the_singular_and_plural(db: Path, capsys) -> None:
    code, out, _ = call(capsys, "session", "show", "77aa", "--db", str(db))
    assert code == 0
    assert "attached 1 time for" in out and "1 window opened, 1 rename" in out


def test_tables_stay_aligned_with_wide_characters(db: Path, capsys) -> None:
    from watcher.cli.output import display_width

    code, out, _ = call(capsys, "session", "list", "--db", str(db))
    assert code == 0
    lines = out.splitlines()
    header = lines[0]
    for column in ("STATUS", "PROJECT", "LAST ACCESS", "ID"):
        at = header.index(column)
        for line in lines[1:]:
            # The text before each column takes exactly as many terminal columns as the header's.
            prefix = _prefix_of_width(line, at)
            assert display_width(prefix) == at and line[len(prefix)] != " ", (column, line)


def _prefix_of_width(line: str, columns: int) -> str:
    from watcher.cli.output import display_width

    for end in range(len(line) + 1):
        if display_width(line[:end]) >= columns:
            return line[:end]
    return line


def test_every_table_calls_last_access_the_same(db: Path, capsys) -> None:
    _, listing, _ = call(capsys, "session", "list", "--db", str(db))
    _, found, _ = call(capsys, "query", "launch", "--db", str(db))
    assert "LAST ACCESS" in listing.splitlines()[0] and "LAST ACCESS" in found.splitlines()[0]


def _leaves(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[str, Any, Any]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((" ".join([*path, name]), summaries.get(name), sub))
                found += _leaves(sub, [*path, name])
    return found


COMMANDS = _leaves(build_parser(None), [])
PRINTS_DATA = {
    "query",
    "session search",
    "session list",
    "session show",
    "session history",
    "status",
    "db status",
    "db migrate",
    "db reindex",
    "config show",
    "config validate",
    "config diff",
}


@pytest.mark.parametrize(("name", "summary", "parser"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_has_a_summary_in_one_style(
    name: str, summary: str | None, parser: argparse.ArgumentParser, capsys
) -> None:
    assert summary, f"{name} has no summary in --help"
    assert not summary[0].isupper() and not summary.endswith("."), summary
    assert parser.description
    with pytest.raises(SystemExit) as done:
        run([*name.split(), "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: ccmgr-watch {name}")


@pytest.mark.parametrize("name", sorted(PRINTS_DATA))
def test_every_command_that_prints_data_has_json(name: str) -> None:
    parser = {c[0]: c[2] for c in COMMANDS}[name]
    assert "--json" in parser._option_string_actions


def test_argument_help_is_in_the_same_style() -> None:
    def helps(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, str]]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += helps(sub, f"{path} {name}".strip())
            elif action.help and action.help != argparse.SUPPRESS:
                found.append(
                    (f"{path} {'/'.join(action.option_strings) or action.dest}", action.help)
                )
        return found

    wrong = [
        (where, text)
        for where, text in helps(build_parser(None), "")
        if text[0].isupper() or text.endswith(".")
    ]
    assert wrong == []


# --- 8.17: the read paths import nothing heavy ---

HEAVY = ("msgspec", "anyio", "aiosqlite", "asyncio", "libtmux", "ruamel", "watchfiles", "shutil")


@pytest.mark.parametrize(
    "argv",
    [
        ["session", "list"],
        ["session", "list", "--json", "--status", "alive"],
        ["session", "show", "77aa"],
        ["session", "show", "🚀 launch", "--json"],
        ["session", "show", "1f0c9a3e"],  # ended: shows what a revive restores
        ["session", "history", "--session", "77aa", "--type", "created"],
        ["query", "launch", "--json"],
        ["session", "show", "nothing-like-it"],  # an error
    ],
    ids=" ".join,
)
def test_read_commands_import_nothing_heavy(db: Path, argv: list[str]) -> None:
    code = (
        "import sys; from watcher.cli.main import run; "
        f"rc = run({[*argv, '--db', str(db)]!r}); "
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules); "
        "print(heavy, file=sys.stderr); sys.exit(rc)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CCMGR_WATCH_DB"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_light_db_env_name_is_the_real_one() -> None:
    from store.paths import DB_ENV
    from watcher.cli import settings

    assert settings.DB_ENV == DB_ENV


@pytest.mark.parametrize(
    "argv",
    [
        ["session", "list"],
        ["session", "show", "77aa", "--json"],
        ["session", "show", "77aa"],
        ["session", "history", "--session", "77aa", "--type", "created"],
        ["session", "history", "--json"],
    ],
    ids=" ".join,
)
def test_session_commands_import_neither_typing_nor_pathlib(db: Path, argv: list[str]) -> None:
    # Together ~20% of these commands' start-up; the query language's modules are not needed.
    heavy = ("typing", "pathlib", "_strptime", "store.query", "store.search", "watcher.config")
    code = (
        "import sys; from watcher.cli.main import run; "
        f"rc = run({[*argv, '--db', str(db)]!r}); "
        f"heavy = sorted(m for m in {heavy!r} if m in sys.modules); "
        "print(heavy, file=sys.stderr); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_console_command_words_messages_as_in_process(db: Path, capsys) -> None:
    # main() skips argparse's gettext lookups (start-up time): what is shown must not change.
    cli = str(Path(sys.executable).with_name("ccmgr-watch"))
    env = {k: v for k, v in os.environ.items() if k != "CCMGR_WATCH_DB"} | {"LANG": "C.UTF-8"}
    for argv in (["session", "list", "--bogus"], ["session", "list", "--limit", "x"]):
        done = subprocess.run(
            [cli, *argv, "--db", str(db)], capture_output=True, text=True, env=env, check=False
        )
        assert run([*argv, "--db", str(db)]) == done.returncode == 2
        assert capsys.readouterr().err == done.stderr
    shown = subprocess.run(
        [cli, "session", "list", "--help"], capture_output=True, text=True, env=env, check=True
    )
    assert shown.stdout.startswith("usage: ccmgr-watch session list [-h]")
    assert "options:\n" in shown.stdout


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["session", "list"], ()),
        (["session", "show", "77aa", "--json"], ()),
        (["session", "history"], ()),
        (["query", "launch", "--json"], ()),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_read_commands_find_the_default_database_without_pathlib(
    db: Path, _isolated_home: Path, tmp_path: Path, argv: list[str], allowed: tuple[str, ...]
) -> None:
    # No --db: the config scopes of the project around the cwd and the default path are found
    # as text; pathlib with urllib.parse and ipaddress would cost ~10 % of the run.
    default = _isolated_home / ".config" / "ccmgr-ultra" / "data.db"
    default.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, default)
    project = tmp_path / "repo" / "sub"
    (tmp_path / "repo" / ".ccmgr-ultra").mkdir(parents=True)
    (tmp_path / "repo" / ".ccmgr-ultra" / "config.yaml").write_text("version: 2.1.0\n")
    project.mkdir()
    heavy = ("typing", "pathlib", "urllib.parse", "ipaddress", "watcher.config.scopes")
    code = (
        "import sys; from watcher.cli.main import run; "
        f"rc = run({argv!r}); "
        f"heavy = sorted(m for m in {heavy!r} if m in sys.modules); "
        "print(heavy, file=sys.stderr); sys.exit(rc)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CCMGR_WATCH_DB"}
    done = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == str(sorted(allowed))


# --- 8.17: what the query language and `status` no longer do at start-up stays undone ---

_LIGHT_PROBE = """
import json, re, sys
compiled = []
_compile = re.compile


def spy(pattern, flags=0):
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if caller.split(".")[0] in ("store", "watcher"):  # argparse compiles its own
        compiled.append(f"{caller}: {pattern}")
    return _compile(pattern, flags)


re.compile = spy
from watcher.cli.main import run
rc = run(json.loads(sys.argv[1]))
heavy = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
print(json.dumps({"heavy": heavy, "compiled": [str(p) for p in compiled]}), file=sys.stderr)
sys.exit(rc)
"""


def _light_probe(argv: list[str], heavy: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", _LIGHT_PROBE, json.dumps(argv), json.dumps(heavy)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["query", "auth project:myapp", "--json"], []),
        (["query", "launch", "--json"], []),
        # The table measures "🚀 launch" to align its columns.
        (["query", "launch"], ["unicodedata"]),
        (["query", "auth -status:ended", "--sort", "recent", "--json"], []),
        (["query", "NOT web OR (api dir:/tmp)", "--json"], []),
    ],
    ids=lambda value: " ".join(value) if value and value[0] == "query" else None,
)
def test_queries_import_no_typing_and_compile_no_pattern(
    db: Path, argv: list[str], allowed: list[str]
) -> None:
    # typing (Literal, get_args), patterns compiled at import, unicodedata for ASCII words and
    # store.timefmt's patterns were ~15% of `ccmgr-watch query`'s start-up (issue 8 item 17).
    heavy: tuple[str, ...] = ("typing", "pathlib", "unicodedata", "store.timefmt")
    heavy += ("watcher.config.scopes",)
    heavy += ("gettext", "importlib")  # argparse's translations; registrars are __import__ed
    rc, seen = _light_probe([*argv, "--db", str(db)], heavy)
    assert rc == 0
    assert seen == {"heavy": allowed, "compiled": []}


def test_a_when_compiles_its_patterns_when_it_is_parsed(db: Path) -> None:
    # The WHEN patterns are compiled at first use, not at import: a since: still parses.
    rc, seen = _light_probe(["query", "since:3d", "until:2026-11-20", "--db", str(db)], ())
    assert rc == 0
    # re.match compiles them through re's cache; store.timefmt (which writes the bounds) still
    # compiles its own at import, imported only now.
    assert [p for p in seen["compiled"] if not p.startswith("store.timefmt:")] == []


def test_status_imports_neither_typing_nor_pathlib(tmp_path: Path) -> None:
    # `status` reads a JSON file: it starts like a plain script that does (issue 8 item 17).
    heavy: tuple[str, ...] = ("typing", "pathlib", "urllib.parse", "ipaddress", "contextlib")
    heavy += ("watcher.service",)
    heavy += ("gettext", "importlib", "datetime", "store.reads")
    path = tmp_path / "data.db"
    (tmp_path / "data.db.watcher.json").write_text(json.dumps({"pid": 1, "running": True}))
    for argv, allowed in (
        (["status", "--json", "--db", str(path)], []),
        (["status", "--db", str(path)], ["datetime"]),  # "3 minutes ago" for people
    ):
        rc, seen = _light_probe(argv, heavy)
        assert rc == 1  # no watcher holds the lock
        assert seen == {"heavy": allowed, "compiled": []}


@pytest.mark.parametrize(
    "text",
    [
        "data.db",
        "./data.db",
        "a//b/./c/",
        "/x/y/data.db",
        "//host/share/data.db",
        "///root//data.db",
        ".",
        "",
        "a/../b",
        "~/x",
        "/",
        "./",
        "é/ü.db",
    ],
)
def test_status_path_text_is_what_pathlib_shows(text: str) -> None:
    from watcher.status_file import path_text

    assert path_text(text) == str(Path(text))


def test_status_shows_the_database_as_pathlib_would(tmp_path: Path, capsys) -> None:
    (tmp_path / "data.db.watcher.json").write_text(json.dumps({"pid": 1, "running": False}))
    given = f"{tmp_path}//./data.db"
    assert run(["status", "--json", "--db", given]) == 1
    info = json.loads(capsys.readouterr().out)
    assert info["database"] == str(tmp_path / "data.db")
    assert info["status"]["pid"] == 1
    assert run(["status", "--db", f"{tmp_path}/."]) == 2
    err = capsys.readouterr().err
    assert f"Error: {tmp_path} is a folder" in err
    assert f"--db {tmp_path / 'data.db'}" in err


def test_the_runtime_value_tuples_are_the_literals_type_checkers_see() -> None:
    # FieldName and StatusValue exist for type checkers only (typing costs start-up time): the
    # tuples the parser checks against must list the same values.
    import ast as python_ast
    import inspect

    from store.query import ast

    literals: dict[str, tuple[str, ...]] = {}
    for node in python_ast.walk(python_ast.parse(inspect.getsource(ast))):
        if isinstance(node, python_ast.Assign) and isinstance(node.value, python_ast.Subscript):
            name = node.targets[0]
            assert isinstance(name, python_ast.Name)
            values = python_ast.literal_eval(node.value.slice)
            literals[name.id] = values if isinstance(values, tuple) else (values,)
    assert literals == {"FieldName": ast.FIELDS, "StatusValue": ast.STATUSES}


def test_gettext_stays_importable_after_argparse_is(tmp_path: Path) -> None:
    # main imports argparse without gettext; gettext itself is untouched for whoever needs it.
    code = (
        "import sys; import watcher.cli.main; import gettext; "
        "print(gettext.gettext('x'), 'translation' in dir(gettext), 'gettext' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["x", "True", "True"]


def test_help_follows_columns_though_the_width_is_found_once(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The width is looked up once per process (argparse asks ~30 times per command), but a
    # different $COLUMNS is a different width.
    widest = {}
    for columns in ("50", "200", "50"):
        monkeypatch.setenv("COLUMNS", columns)
        with pytest.raises(SystemExit):
            run(["query", "--help"])
        widest[columns] = max(len(line) for line in capsys.readouterr().out.splitlines())
    assert widest["50"] < widest["200"]


@pytest.mark.parametrize(
    ("argv", "built"),
    [
        (["query", "auth"], ["query"]),
        (["session", "list"], ["session"]),
        (["status"], ["status"]),
        (["--db", "x.db", "stats", "--json"], ["stats"]),
        (["--db=x.db", "query", "auth"], ["query"]),
        (["--help"], None),
        (["--db", "x.db", "--help"], None),
        (["--db", "x.db"], None),
        (["--version"], None),
        (["nonsense"], None),
    ],
    ids=[
        "query",
        "session list",
        "status",
        "--db first",
        "--db= first",
        "help",
        "--db then help",
        "--db alone",
        "version",
        "unknown",
    ],
)
def test_only_the_command_given_gets_its_parsers(argv: list[str], built: list[str] | None) -> None:
    # search_cmd adds `query` and `session search|history`, run_cmd `run` and `status`: a
    # command's start-up builds its own parsers only (~30 argparse formatters each).
    parser = build_parser(argv)
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    everything = build_parser(None)
    (all_commands,) = [a for a in everything._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(built or all_commands.choices)
    if built == ["session"]:  # the whole group: its help lists every session command
        session = commands.choices["session"]
        (sub,) = [a for a in session._actions if isinstance(a, argparse._SubParsersAction)]
        assert {"list", "show", "search", "history"} <= set(sub.choices)
