"""One rule for invalid values, in every command (issue 8.10; docs/config.md, "Invalid values"):
the invalid value is not used (the lower scope's value, else the default, is), every command that
needs a value says so with file:line; `validate` exits 3; exporting the effective values refuses.
Also: `-o` never creates folders (8.11), `--db` only where a database is used (8.15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config.conftest import write
from watcher.cli.main import build_parser, run
from watcher.config.locations import resolve_scopes
from watcher.config.scopes import load_effective

# A wrong type and an out-of-range value, each over a valid value from the global file.
GLOBAL = "version: 2.1.0\nwatcher:\n    batch_size: 40\nsearch:\n    default_limit: 30\n"
USER = (
    "watcher:\n    batch_size: 0\n"
    "search:\n    default_limit: lots\n"
    "tmux:\n    max_session_name: -5\n"
)


@pytest.fixture
def scopes(home: Path) -> dict[str, Path]:
    paths = {str(k): v for k, v in resolve_scopes().items()}
    write(paths["global"], GLOBAL)
    write(paths["user"], USER)
    return paths


def test_invalid_values_fall_back_to_the_lower_scope_or_the_default(
    scopes: dict[str, Path],
) -> None:
    effective = load_effective(resolve_scopes())
    assert effective.config.watcher.batch_size == 40  # out of range: global's value
    assert effective.config.search.default_limit == 30  # wrong type: global's value
    assert effective.config.tmux.max_session_name == 50  # nothing below: the default
    assert {i.path for i in effective.errors} == {
        "watcher.batch_size",
        "search.default_limit",
        "tmux.max_session_name",
    }


def test_validate_exits_3(scopes: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["config", "validate"]) == 3
    out = capsys.readouterr().out
    assert f"{scopes['user']}:2:5: watcher.batch_size" in out


def test_show_prints_the_values_in_force_and_says_what_replaced_what(
    scopes: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["config", "show", "--json"]) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert shown["watcher"]["batch_size"] == 40 and shown["tmux"]["max_session_name"] == 50
    assert (
        f"warning: {scopes['user']}:2:5: watcher.batch_size: " in err
        and "using 40 (global) instead" in err
    )
    assert "tmux.max_session_name" in err and "using 50 (the default) instead" in err


def test_export_of_the_effective_values_refuses_and_a_scope_exports_as_written(
    scopes: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "x.yaml"
    assert run(["config", "export", "-o", str(out_file)]) == 3
    _, err = capsys.readouterr()
    assert "nothing was exported" in err and not out_file.exists()
    assert run(["config", "export", "--profile", "user"]) == 0
    out, err = capsys.readouterr()
    assert out == USER and "watcher.batch_size" in err and "exported as written" in err


def test_read_commands_use_the_fallback_and_warn(
    scopes: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.db import migrate_sync

    db = tmp_path / "d.db"
    migrate_sync(db)
    assert run(["query", "--db", str(db), "x"]) == 0
    err = capsys.readouterr().err
    assert f"{scopes['user']}:4:5: search.default_limit" in err and "using 30 (global)" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "export", "-o", "{missing}/x.json"],
        ["config", "merge", "{base}", "{base}", "{base}", "-o", "{missing}/m.yaml"],
    ],
)
def test_output_into_a_missing_folder_is_refused_and_creates_nothing(
    argv: list[str], home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write(tmp_path / "base.yaml", "version: 2.1.0\n")
    missing = tmp_path / "no" / "such" / "dir"
    args = [a.format(missing=missing, base=base) for a in argv]
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: -o ") and "does not exist; nothing was written" in err
    assert not (tmp_path / "no").exists()


def _options(*path: str) -> dict[str, str | None]:
    """Option strings of a (sub)command and their help texts."""
    parser = build_parser(list(path))
    for name in path:
        sub = next(a for a in parser._actions if a.dest.endswith("command"))
        assert isinstance(sub.choices, dict)
        parser = sub.choices[name]
    return {o: a.help for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize(
    "command", ["show", "validate", "export", "import", "diff", "merge", "migrate"]
)
def test_no_config_command_offers_db(command: str) -> None:
    assert "--db" not in _options("config", command)


def test_every_import_option_has_help() -> None:
    options = _options("config", "import")
    assert options["--replace"] and options["--merge"]
    assert all(text for text in options.values())
