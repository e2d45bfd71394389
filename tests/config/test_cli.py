"""`ccmgr-watch config ...` through the real entry point: output, exit codes, files written."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.config.conftest import EXCERPT, GO_WRITTEN, write
from watcher.cli.main import run
from watcher.config.locations import resolve_scopes

SECRET = "ghp_abcdefSECRET"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(["config", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def scopes(home: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {str(k): v for k, v in resolve_scopes().items()}
    write(paths["global"], GO_WRITTEN)
    write(paths["project"], EXCERPT)
    write(paths["user"], "tmux:\n    monitor_interval: 5s\n")
    return paths


def test_show_effective_with_origins_never_prints_secrets(capsys, scopes) -> None:
    code, out, _ = cli(capsys, "show", "--origin")
    assert code == 0
    assert f"tmux.monitor_interval: 5s    # user ({scopes['user']}:2)" in out
    assert "git.github_token: <redacted>    # global" in out
    for argv in (
        ["show"],
        ["show", "--json"],
        ["show", "--profile", "global"],
        ["show", "--profile", "global", "--format", "json", "--origin"],
    ):
        code, out, _ = cli(capsys, *argv)
        assert code == 0 and SECRET not in out and "<redacted>" in out


def test_show_profile_yaml_keeps_the_file_as_written(capsys, scopes) -> None:
    code, out, _ = cli(capsys, "show", "--profile", "project")
    assert code == 0 and out == EXCERPT


def test_show_missing_scope_is_a_config_error(capsys, home) -> None:
    code, _, err = cli(capsys, "show", "--profile", "user")
    assert code == 3 and err.startswith("Error: the user scope has no file")


def test_validate_exit_codes_and_located_messages(capsys, home, tmp_path) -> None:
    good = write(tmp_path / "good.yaml", EXCERPT)
    assert cli(capsys, "validate", str(good))[0] == 0
    bad = write(
        tmp_path / "bad.yaml", "tmux:\n    monitor_interval: fast\ntui:\n    default_screen: home\n"
    )
    code, out, err = cli(capsys, "validate", str(bad))
    assert code == 3
    assert f'{bad}:2:5: tmux.monitor_interval: expected a duration like "2s", got "fast"' in out
    assert f"{bad}:4:5: tui.default_screen: invalid default screen: home" in out
    assert "Error: 2 error(s)" in err
    code, out, _ = cli(capsys, "validate", str(bad), "--json")
    data = json.loads(out)
    assert code == 3 and not data["ok"] and data["issues"][0]["line"] == 2


@pytest.mark.parametrize(
    "content",
    [b"a:\n\tb: 1\n", b"a: 1\na: 2\n", b"a:\n  b: 1\n c: 2\n", b"\x00\x01\x02binary", b"- list\n"],
    ids=["tab", "duplicate", "indent", "binary", "list"],
)
def test_malformed_files_are_located_errors_not_tracebacks(capsys, home, tmp_path, content) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    code, _, err = cli(capsys, "validate", str(path))
    assert code == 3 and err.startswith(f"Error: {path}:") and "Hint:" in err


def test_export_redacts_unless_asked(capsys, scopes, tmp_path) -> None:
    code, out, _ = cli(capsys, "export", "--profile", "global")
    assert code == 0 and SECRET not in out and "github_token: <redacted>" in out
    code, out, _ = cli(capsys, "export", "--profile", "global", "--include-secrets")
    assert out == GO_WRITTEN
    target = tmp_path / "out" / "exp.json"
    target.parent.mkdir(mode=0o700)  # -o creates no folders (issue 8.11)
    code, _, _ = cli(capsys, "export", "--format", "json", "-o", str(target))
    assert code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    data = json.loads(target.read_text())
    assert data["tmux"]["monitor_interval"] == "5s" and data["git"]["github_token"] == "<redacted>"


def test_import_merge_dry_run_writes_nothing_then_writes(capsys, scopes, tmp_path) -> None:
    incoming = write(
        tmp_path / "in.yaml", "tmux:\n    monitor_interval: 10s\nsearch:\n    default_limit: 50\n"
    )
    before = scopes["global"].read_bytes()
    code, out, _ = cli(capsys, "import", str(incoming), "--dry-run")
    assert code == 0
    assert "tmux.monitor_interval: 2s → 10s" in out and "+ search: {default_limit: 50}" in out
    assert scopes["global"].read_bytes() == before
    code, out, _ = cli(capsys, "import", str(incoming))
    text = scopes["global"].read_text()
    assert code == 0 and "monitor_interval: 10s" in text and "# hooks run on state changes" in text
    assert stat.S_IMODE(scopes["global"].stat().st_mode) == 0o600
    assert (
        text.replace("monitor_interval: 10s", "monitor_interval: 2s").replace(
            "search:\n    default_limit: 50\n", ""
        )
        == GO_WRITTEN
    )


def test_import_refuses_invalid_files_and_keeps_redacted_secrets(capsys, scopes, tmp_path) -> None:
    bad = write(tmp_path / "bad.yaml", "tmux:\n    monitor_interval: 5\n")
    before = scopes["global"].read_bytes()
    code, _, err = cli(capsys, "import", str(bad))
    assert code == 3 and "nothing was written" in err and scopes["global"].read_bytes() == before
    exported = write(
        tmp_path / "exp.yaml", "git:\n    github_token: <redacted>\n    auto_push: true\n"
    )
    code, _, _ = cli(capsys, "import", str(exported))
    assert code == 0 and SECRET in scopes["global"].read_text()
    assert "auto_push: true" in scopes["global"].read_text()


def test_import_replace_into_user_scope(capsys, scopes, tmp_path) -> None:
    incoming = write(tmp_path / "in.yaml", "# mine\nwatcher:\n    batch_size: 100\n")
    code, out, _ = cli(capsys, "import", str(incoming), "--replace", "--profile", "user")
    assert code == 0 and "- tmux: {monitor_interval: 5s}" in out
    assert scopes["user"].read_text() == "# mine\nwatcher:\n    batch_size: 100\n"


def test_diff_exit_codes(capsys, home, tmp_path) -> None:
    a = write(tmp_path / "a.yaml", "tmux:\n    monitor_interval: 2s\n")
    b = write(tmp_path / "b.yaml", "tmux:\n    monitor_interval: 5s\n")
    c = write(tmp_path / "c.yaml", "tmux:\n    monitor_interval: 2000ms\n")
    code, out, _ = cli(capsys, "diff", str(a), str(b))
    assert code == 1 and out == "tmux.monitor_interval: 2s → 5s\n"
    assert cli(capsys, "diff", str(a), str(c))[0] == 0
    code, out, _ = cli(capsys, "diff", str(a), str(b), "--json")
    assert code == 1 and json.loads(out)["changes"][0]["new"] == "5s"


def test_merge_conflicts_and_strategy(capsys, home, tmp_path) -> None:
    base = write(tmp_path / "base.yaml", "a: 1\nb: 1\n")
    ours = write(tmp_path / "ours.yaml", "# ours\na: 2\nb: 1\n")
    theirs = write(tmp_path / "theirs.yaml", "a: 3\nb: 4\n")
    out_file = tmp_path / "merged.yaml"
    code, _, err = cli(capsys, "merge", str(base), str(ours), str(theirs), "-o", str(out_file))
    assert code == 1 and "CONFLICT: a: ours 2, theirs 3 (base 1)" in err and not out_file.exists()
    code, _, _ = cli(
        capsys,
        "merge",
        str(base),
        str(ours),
        str(theirs),
        "-o",
        str(out_file),
        "--strategy",
        "theirs",
    )
    assert code == 0 and out_file.read_text() == "# ours\na: 3\nb: 4\n"
    clean = write(tmp_path / "t2.yaml", "a: 1\nb: 4\n")
    code, out, _ = cli(capsys, "merge", str(base), str(ours), str(clean))
    assert code == 0 and out == "# ours\na: 2\nb: 4\n"


def test_migrate_dry_run_then_for_real_with_backup(capsys, scopes) -> None:
    before = scopes["global"].read_bytes()
    code, out, _ = cli(capsys, "migrate", "--profile", "global", "--dry-run")
    assert code == 0 and "version: 1.0.0 → 2.1.0" in out and scopes["global"].read_bytes() == before
    code, out, _ = cli(capsys, "migrate", "--profile", "global", "--json")
    report = json.loads(out)["files"][0]
    backup = Path(report["backup"])
    assert backup.read_bytes() == before and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.name.startswith("config.yaml.backup.")
    assert "version: 2.1.0" in scopes["global"].read_text()
    code, out, _ = cli(capsys, "migrate", "--profile", "global")
    assert code == 0 and "already current" in out


def test_help_for_every_config_command(capsys) -> None:
    for name in ("show", "validate", "export", "import", "diff", "merge", "migrate"):
        with pytest.raises(SystemExit) as info:
            run(["config", name, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith("usage: ")


def test_json_import_and_unknown_keys_survive(capsys, home, tmp_path) -> None:
    incoming = write(
        tmp_path / "in.json", '{"tmux": {"monitor_interval": "3s"}, "my_tool": {"x": 1}}'
    )
    code, _, _ = cli(capsys, "import", str(incoming), "--replace")
    target = resolve_scopes()["global"]
    assert code == 0
    assert target.read_text() == "tmux:\n    monitor_interval: 3s\nmy_tool:\n    x: 1\n"
    code, out, _ = cli(capsys, "export", "--format", "json")
    assert json.loads(out)["my_tool"] == {"x": 1}
    code, out, _ = cli(capsys, "validate")
    assert code == 0 and "my_tool: unknown key" in out


def test_writes_go_through_a_symlinked_config(capsys, home, tmp_path) -> None:
    real = write(tmp_path / "dotfiles" / "config.yaml", "tmux:\n    monitor_interval: 2s\n")
    link = resolve_scopes()["global"]
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(real)
    incoming = write(tmp_path / "in.yaml", "tmux:\n    monitor_interval: 4s\n")
    assert cli(capsys, "import", str(incoming))[0] == 0
    assert link.is_symlink() and "4s" in real.read_text()


def test_merge_never_prints_secrets_in_conflicts(capsys, home, tmp_path) -> None:
    base = write(tmp_path / "b.yaml", "git:\n    github_token: base_SECRET\n")
    ours = write(tmp_path / "o.yaml", "git:\n    github_token: ours_SECRET\n")
    theirs = write(tmp_path / "t.yaml", "other: 1\n")
    code, out, err = cli(capsys, "merge", str(base), str(ours), str(theirs), "--json")
    assert code == 1 and "SECRET" not in out + err
    assert "git: ours {github_token: <redacted>}, theirs (removed)" in err
