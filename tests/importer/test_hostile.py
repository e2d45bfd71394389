"""Hostile and damaged state files: a located error (file, JSON path or line:column), exit 4,
nothing written; with --skip-bad the bad entries are listed and the rest imported in one go."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from store.db import migrate_sync
from tests.importer.conftest import digest, rows

Cli = Callable[..., tuple[int, str, str]]

GOOD = '"good": {"name": "good", "created": "2025-06-22T01:00:00Z"}'


def entry(body: str) -> bytes:
    """A tmux-sessions.json with one good session and one bad one."""
    return ("{" + GOOD + ', "bad": ' + body + "}").encode()


# (file content, what the error says: its place and its message)
ENTRY_CASES = {
    "wrong type": (entry('{"name": 5}'), "$.bad.name: Expected `str | null`, got `int`"),
    "timestamp": (entry('{"created": "yesterday"}'), "$.bad.created: not a timestamp"),
    "future": (entry('{"created": "2999-01-01T00:00:00Z"}'), "timestamp in the future"),
    "huge integer": (
        entry('{"last_state": 123456789012345678901234567890}'),
        "$.bad.last_state: number out of range",
    ),
    "out of range": (
        entry('{"last_state": 99999999999}'),
        "$.bad.last_state: Expected `int` <= 2147483647",
    ),
    "huge float": (entry('{"metadata": {"x": 1e999}}'), "$.bad.metadata.x: number out of range"),
    "NaN": (entry('{"metadata": {"x": NaN}}'), "$.bad.metadata.x: number out of range: NaN"),
    "duplicate key": (entry('{"name": "a", "name": "b"}'), "$.bad.name: duplicate key"),
    "deep": (
        entry('{"metadata": {"x": ' + "[" * 100 + "]" * 100 + "}}"),
        "nested deeper than 64 levels",
    ),
    "long string": (
        entry('{"name": "' + "x" * (50 * 1024 * 1024) + '"}'),
        "$.bad.name: Expected `str` of length <= 1024",
    ),
    "big metadata": (
        entry('{"metadata": {"x": "' + "y" * (2 * 1024 * 1024) + '"}}'),
        "$.bad.metadata: 2,097,",
    ),
    "lone surrogate": (entry('{"name": "a\\ud800"}'), "$.bad.name: a lone surrogate"),
    "NUL": (entry('{"project": "a\\u0000b"}'), "$.bad.project: NUL character"),
    "not an object": (entry('"just text"'), "$.bad: expected an object (a session), got a string"),
    "bad block": (
        entry('{"metadata": {"ccmgr_watch": {"tmux_id": "3; rm"}}}'),
        "$.bad.metadata.ccmgr_watch.tmux_id",
    ),
}

FILE_CASES = {
    "truncated": (b'{"a": {"name": "a", "created": "2025', ":1:32: truncated JSON"),
    "corrupt": (b'{"a": {"name": "a",, }}', ":1:20: malformed JSON: Expecting"),
    "invalid UTF-8": (b'{"a": {"name": "caf\xe9"}}', ":1:20: invalid UTF-8 (byte 0xe9)"),
    "very deep": (b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", ":1:70: nested deeper"),
    "array": (b"[1, 2]", ": $: not a ccmgr-ultra state file (the top level is an array)"),
    "not sessions": (b'{"a": 1, "b": "x"}', "the top level is an object whose values are not"),
    "sessions not a list": (b'{"sessions": {"x": 1}}', "$.sessions: "),
    "not a database": (b"SQLite format 3\x00" + b"\xff" * 4096, "not a readable SQLite database"),
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data.db"
    migrate_sync(path)
    return path


def unchanged(db: Path) -> Callable[[], bool]:
    before = digest(db, Path(f"{db}-wal"))
    return lambda: (
        digest(db, Path(f"{db}-wal")) == before
        and rows(db, "SELECT count(*) FROM sessions") == [(0,)]
    )


@pytest.mark.parametrize("case", sorted(ENTRY_CASES))
def test_a_bad_entry_is_located_and_nothing_is_written(
    cli: Cli, tmp_path: Path, db: Path, case: str
) -> None:
    data, expected = ENTRY_CASES[case]
    source = tmp_path / "tmux-sessions.json"
    source.write_bytes(data)
    same = unchanged(db)
    code, out, err = cli("import", "--db", str(db), str(source))
    assert code == 4, (out, err)
    first = err.splitlines()[0]
    assert first.startswith(f"Error: {source}: ") and expected in first, first
    assert "Traceback" not in err and "--skip-bad" in err
    assert same()
    # --skip-bad: the bad one listed, the good one imported.
    code, out, err = cli("import", "--db", str(db), str(source), "--skip-bad", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"]["added"] == 1 and report["counts"]["bad"] == 1
    assert report["problems"][0]["file"] == str(source)
    assert rows(db, "SELECT name FROM sessions") == [("good",)]


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_a_bad_file_is_located_and_nothing_is_written(
    cli: Cli, tmp_path: Path, db: Path, case: str
) -> None:
    data, expected = FILE_CASES[case]
    source = tmp_path / "state.json"
    source.write_bytes(data)
    same = unchanged(db)
    code, _, err = cli("import", "--db", str(db), str(source))
    assert code == 4, err
    assert err.startswith(f"Error: {source}") and expected in err.splitlines()[0], err
    assert "Hint:" in err and "Traceback" not in err
    assert same()


def test_skip_bad_imports_the_other_files_in_one_go(cli: Cli, tmp_path: Path, db: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"x": {"name": ')
    good = tmp_path / "good.json"
    good.write_text("{" + GOOD + "}")
    code, out, err = cli("import", "--db", str(db), str(broken), str(good), "--skip-bad")
    assert code == 0, err
    assert f"skipped     {broken}: 1:16: truncated JSON" in out, out
    assert "1 added" in out
    # Only bad files: nothing to import is an error still.
    code, out, err = cli("import", "--db", str(db), str(broken), "--skip-bad")
    assert code == 4


def special_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder.json"
    folder.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0)
    return {
        "a folder": folder,
        "a FIFO": fifo,
        "missing": tmp_path / "none.json",
        "unreadable": locked,
        # A regular file whose read fails (EIO), even for root.
        "failing read": Path("/proc/self/mem"),
    }


@pytest.mark.parametrize("kind", ["a folder", "a FIFO", "missing", "unreadable", "failing read"])
def test_what_is_not_a_readable_file(cli: Cli, tmp_path: Path, db: Path, kind: str) -> None:
    path = special_files(tmp_path)[kind]
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads every file (the failing read covers it)")
    same = unchanged(db)
    code, _, err = cli("import", "--db", str(db), str(path))
    assert code == 4, err
    words = {
        "a folder": "is a folder",
        "a FIFO": "is a FIFO",
        "missing": "no such file",
        "failing read": "cannot read: Input/output error",
    }
    assert err.startswith(f"Error: {path}: ")
    assert words.get(kind, "Permission denied") in err
    assert same()


def test_an_empty_file_is_an_empty_state(cli: Cli, tmp_path: Path, db: Path) -> None:
    empty = tmp_path / "tmux-sessions.json"
    empty.write_bytes(b"  \n")
    code, out, _ = cli("import", "--db", str(db), str(empty), "--json")
    assert code == 0 and json.loads(out)["files"][0]["format"] == "empty"


def test_year_one_east_of_utc_is_not_a_timestamp(cli: Cli, tmp_path: Path, db: Path) -> None:
    source = tmp_path / "t.json"
    source.write_bytes(entry('{"created": "0001-01-01T00:00:00+01:00"}'))
    code, _, err = cli("import", "--db", str(db), str(source))
    assert code == 4 and "$.bad.created: not a timestamp" in err, err
