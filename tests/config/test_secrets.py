"""Secrets never print (issue 9 §5) and a redacted export never erases a token (issue 8.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config.conftest import write
from watcher.cli.main import run
from watcher.config.locations import resolve_scopes
from watcher.config.secrets import (
    REDACTED,
    is_secret_key,
    looks_like_token,
    redact_document,
    redact_plain,
    redact_text,
)
from watcher.config.yamlio import dump_document, parse_document

COMMENTED = "ghp_0ldT0kenFromLastYear0000000000000001"
ALIASED = "anchoredValueNotTokenShaped"
MISSPELT = "gho_misspeltKeyToken000000000000000002"
GITLAB = "glpat-xYz0123456789abcdefgh"
BITBUCKET = "ATBB3xFfGF0abcdefghijklmnop"
FINE_GRAINED = "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"

FILE = f"""\
version: 2.1.0
# old: {COMMENTED}
defaults: &tok {ALIASED}
git:
    github_token: *tok
    github_tokne: {MISSPELT}
    gitlab_token: {GITLAB}
    bitbucket_token: ""
notes:
    - keep this
    - {BITBUCKET}
    - "a fine-grained one: {FINE_GRAINED}"
tmux:
    session_prefix: ccmgr
"""
SECRETS = (COMMENTED, ALIASED, MISSPELT, GITLAB, BITBUCKET, FINE_GRAINED)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("github_token", True),
        ("github_tokne", True),
        ("gitlab_tokn", True),
        ("bitbucket-token", True),
        ("api_secret", True),
        ("my_password", True),
        ("passphrase_file", False),
        ("session_prefix", False),
        ("default_branch", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    "text",
    [
        "ghp_" + "a" * 36,
        "gho_abcdef123",
        "ghu_abcdef123",
        "ghs_abcdef123",
        "ghr_abcdef123",
        FINE_GRAINED,
        GITLAB,
        "gloas-abcdef123",
        BITBUCKET,
        "ATATT3xFfGF0abcdef",
        "x = ghp_abcdef123, y",
    ],
)
def test_token_shapes(text: str) -> None:
    assert looks_like_token(text)
    assert REDACTED in redact_text(text) and "abcdef123" not in redact_text(text)


@pytest.mark.parametrize("text", ["ghp_", "ghx_abcdefgh", "mightghp_abcdefgh", "main", "glpat"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert not looks_like_token(text) and redact_text(text) == text


def test_a_document_is_redacted_everywhere_and_stays_yaml() -> None:
    doc = parse_document(FILE)
    known = redact_document(doc.data)
    text = redact_text(dump_document(doc), known)
    for secret in SECRETS:
        assert secret not in text
    assert "- keep this" in text and "session_prefix: ccmgr" in text
    assert 'bitbucket_token: ""' in text  # empty stays empty: nothing to hide
    parse_document(text)  # still valid YAML


def test_plain_data_is_redacted_by_key_by_shape_and_by_alias() -> None:
    tree = {
        "a": ALIASED,
        "git": {"github_token": ALIASED, "github_tokne": "x"},
        "l": [GITLAB, "ok"],
    }
    assert redact_plain(tree) == {
        "a": REDACTED,
        "git": {"github_token": REDACTED, "github_tokne": REDACTED},
        "l": [REDACTED, "ok"],
    }


@pytest.fixture
def secret_home(home: Path) -> Path:
    write(resolve_scopes()["global"], FILE)
    return home


@pytest.mark.parametrize(
    "argv",
    [
        ["show"],
        ["show", "--json"],
        ["show", "--origin"],
        ["show", "--profile", "global"],
        ["show", "--profile", "global", "--json"],
        ["export"],
        ["export", "--json"],
        ["export", "--profile", "global"],
        ["export", "--profile", "global", "--json"],
        ["validate"],
        ["migrate", "--dry-run"],
    ],
)
def test_no_command_prints_a_secret(
    argv: list[str], secret_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["config", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    for secret in SECRETS:
        assert secret not in out + err, (argv, secret)


def test_export_to_a_file_is_redacted_too_and_include_secrets_keeps_them(
    secret_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.yaml"
    assert run(["config", "export", "--profile", "global", "-o", str(out)]) == 0
    for secret in SECRETS:
        assert secret not in out.read_text()
    assert run(["config", "export", "--profile", "global", "--include-secrets"]) == 0
    assert capsys.readouterr().out == FILE


def test_diff_and_merge_hide_secrets(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.yaml", "git:\n    github_tokne: ghp_aaaaaaaaaaaa\n")
    b = write(tmp_path / "b.yaml", "git:\n    github_tokne: ghp_bbbbbbbbbbbb\n")
    assert run(["config", "diff", str(a), str(b)]) == 1
    assert run(["config", "merge", str(a), str(b), str(a), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "ghp_aaaa" not in out + err and "ghp_bbbb" not in out + err


def test_importing_a_redacted_export_never_writes_the_placeholder(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 8.1, exactly: export (tokens redacted), then import --merge into the project scope,
    which has no token: the global token must stay the one in force."""
    paths = resolve_scopes()
    token = "ghp_theRealGlobalToken1234567890"
    write(paths["global"], f"version: 2.1.0\ngit:\n    github_token: {token}\n")
    write(paths["project"], "version: 2.1.0\ntmux:\n    monitor_interval: 3s\n")
    assert run(["config", "export", "-o", "team.json", "--format", "json"]) == 0
    assert json.loads(Path("team.json").read_text())["git"]["github_token"] == REDACTED
    capsys.readouterr()

    assert run(["config", "import", "team.json", "--merge", "--profile", "project"]) == 0
    out = capsys.readouterr().out
    assert (
        "git.github_token: redacted in team.json and not set in the project file; left out" in out
    )
    project = paths["project"].read_text()
    assert "github_token" not in project and REDACTED not in project
    assert run(["config", "export", "--include-secrets", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["git"]["github_token"] == token

    # A scope that has its own token keeps it (merge and replace alike).
    write(paths["user"], "git:\n    github_token: ghp_theUsersOwnToken000000\n")
    for mode in ("--merge", "--replace"):
        assert run(["config", "import", "team.json", mode, "--profile", "user"]) == 0
        assert "the user file keeps its own value" in capsys.readouterr().out
        user = paths["user"].read_text()
        assert "ghp_theUsersOwnToken000000" in user and REDACTED not in user


@pytest.mark.parametrize("argv", [["config", "show"], ["config", "validate"], ["query", "x"]])
def test_a_yaml_error_never_quotes_a_secret(
    argv: list[str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ruamel's duplicate-key message quotes both values."""
    write(
        resolve_scopes()["global"],
        "storage:\n    database: x\ngit:\n    github_token: plainOldSecret1\n"
        "    github_token: ghp_newerToken12345\n",
    )
    assert run(argv) == 3
    out, err = capsys.readouterr()
    assert "duplicate key" in err
    assert "plainOldSecret1" not in out + err and "ghp_newerToken12345" not in out + err
