"""`ccmgr-watch completion bash|zsh|fish`: valid scripts, and real completions through them (a
bash process runs the completion function exactly as a Tab press does)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.cli.commands import REGISTRARS
from watcher.cli.completion_cmd import install_path
from watcher.cli.main import run

VENV_BIN = Path(sys.executable).parent
CLI = VENV_BIN / "ccmgr-watch"
COMMANDS = sorted({name for _, names in REGISTRARS for name in names})


def script(capsys: pytest.CaptureFixture[str], shell: str) -> str:
    assert run(["completion", shell]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def syntax_check(shell: str, path: Path) -> None:
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    done = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_scripts_are_valid(
    shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = script(capsys, shell)
    assert "ccmgr-watch" in text and "_ARGCOMPLETE" in text
    path = tmp_path / f"completion.{shell}"
    path.write_text(text)
    syntax_check(shell, path)


def test_a_broken_script_fails_the_same_syntax_check(tmp_path: Path) -> None:
    path = tmp_path / "broken.bash"
    path.write_text("if true; then\n")
    with pytest.raises(AssertionError):
        syntax_check("bash", path)


BASH_DRIVER = r"""
source "$1"
shift
for line in "$@"; do
    COMP_LINE="$line"
    COMP_POINT=${#COMP_LINE}
    read -ra COMP_WORDS <<< "$COMP_LINE"
    [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_TYPE=9
    COMPREPLY=()
    _python_argcomplete ccmgr-watch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "$(IFS='|'; echo "${COMPREPLY[*]}")"
done
"""


def complete_in_bash(tmp_path: Path, script_text: str, *lines: str) -> list[list[str]]:
    """What bash's completion function answers for each command line (the cursor at its end)."""
    path = tmp_path / "c.bash"
    path.write_text(script_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", BASH_DRIVER, "driver", str(path), *lines],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    answers = done.stdout.splitlines()
    assert len(answers) == len(lines), done.stdout
    return [[word.strip() for word in answer.split("|") if word] for answer in answers]


def test_bash_completes_commands_options_and_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CLI.exists():
        pytest.skip("no ccmgr-watch in this environment's bin folder")
    text = script(capsys, "bash")
    top, se, install, options, shells, statuses = complete_in_bash(
        tmp_path,
        text,
        "ccmgr-watch ",
        "ccmgr-watch se",
        "ccmgr-watch service inst",
        "ccmgr-watch doctor --",
        "ccmgr-watch completion ",
        "ccmgr-watch session list --status a",
    )
    assert set(COMMANDS) <= set(top)  # every command, from the full parser
    assert sorted(se) == ["service", "session"]
    assert install == ["install"]
    assert {"--json", "--timeout", "--db", "--help"} <= set(options)
    assert {"bash", "zsh", "fish"} <= set(shells)
    assert sorted(statuses) == ["alive", "attached"]


def test_fish_completes_through_its_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed")
    text = script(capsys, "fish")
    path = tmp_path / "c.fish"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [fish, "--no-config", "-c", f"source {path}; complete -C 'ccmgr-watch doc'"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["doctor"]


@pytest.mark.parametrize(
    ("shell", "where"),
    [
        ("bash", ".local/share/bash-completion/completions/ccmgr-watch"),
        ("zsh", ".local/share/zsh/site-functions/_ccmgr-watch"),
        ("fish", ".config/fish/completions/ccmgr-watch.fish"),
    ],
)
def test_install_writes_to_the_standard_place(
    shell: str,
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = Path(os.environ["HOME"])
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("BASH_COMPLETION_USER_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    expected = script(capsys, shell)
    assert run(["completion", shell, "--install", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    path = home / where
    assert report["file"] == str(path) == str(install_path(shell))
    assert path.read_text() == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_install_honours_the_shells_own_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASH_COMPLETION_USER_DIR", str(tmp_path / "bc"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert install_path("bash") == tmp_path / "bc" / "completions" / "ccmgr-watch"
    assert install_path("zsh") == tmp_path / "data" / "zsh" / "site-functions" / "_ccmgr-watch"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert install_path("zsh") == Path.home() / ".local/share/zsh/site-functions/_ccmgr-watch"


@pytest.mark.parametrize(
    "argv", [["completion", "tcsh"], ["completion"], ["completion", "bash", "--json"]]
)
def test_usage_mistakes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    assert capsys.readouterr().err.startswith("Error: ")


def test_an_ordinary_run_does_not_import_argcomplete() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from watcher.cli.main import run\n"
         "try: run(['completion', '--help'])\nexcept SystemExit: pass\n"
         "print('argcomplete' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip().endswith("False"), done.stderr


def test_zsh_loads_the_script_into_its_completion_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed")
    path = tmp_path / "_ccmgr-watch"
    path.write_text(script(capsys, "zsh"))
    check = f"autoload -U compinit && compinit -u -d {tmp_path}/zcd; source {path}; "
    check += "print -r -- $_comps[ccmgr-watch]"
    done = subprocess.run(
        [zsh, "-f", "-c", check], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_python_argcomplete"
