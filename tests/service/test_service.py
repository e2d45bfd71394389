"""`ccmgr-watch service install|uninstall|status`: the generated unit and plist, checked as text,
by systemd's own verifier where it is installed, and installed into temporary unit folders."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from store.errors import UsageError
from watcher import service_install
from watcher.cli.main import run
from watcher.service_unit import (
    ServicePlan,
    exec_word,
    launchd_plist,
    plist_argv,
    read_marker,
    run_arguments,
    systemd_unit,
)

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "ccmgr-watch"
HOSTILE = [
    "plain",
    "with space",
    "100%",
    "%h%u%%",
    "$HOME",
    "${HOME}$$",
    'double"quote',
    "single'quote",
    "back\\slash\\",
    "new\nline",
    "tab\there",
    "semi;colon",
    ";",
    "-starts-with-dash",
    "ünïcødé 宇宙",
    "bell\x07",
    "",
]


def systemd_words(line: str) -> list[str]:
    """Split an ExecStart= value as systemd.syntax(7) describes it: quoted words with C escapes,
    then specifiers (%%) and variables ($$) of systemd.service(5) "Command lines"."""
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "a": "\a", "s": " "}
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        assert line[i] == '"', f"unquoted word at {i}: {line!r}"
        i += 1
        raw: list[str] = []
        while line[i] != '"':
            if line[i] == "\\":
                nxt = line[i + 1]
                if nxt == "x":
                    raw.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                raw.append(escapes[nxt])
                i += 2
                continue
            raw.append(line[i])
            i += 1
        i += 1
        word = "".join(raw)
        # After unquoting: specifiers, then $VAR expansion at exec time; only %% and $$ appear.
        assert "%" not in word.replace("%%", ""), word
        word = word.replace("%%", "%")
        if words:  # the program's path gets no variable expansion
            assert "$" not in word.replace("$$", ""), word
            word = word.replace("$$", "$")
        words.append(word)
    return words


def exec_start(unit: str) -> str:
    (line,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    return line[len("ExecStart=") :]


@pytest.fixture
def no_temp_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binaries in tmp_path are fine for these tests (the refusal has its own tests)."""
    monkeypatch.setattr(service_install, "temporary_folders", lambda: ["/nonexistent-temp"])


def make_binary(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "ccmgr-watch"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return binary


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the unit's text ---


@pytest.mark.parametrize("value", HOSTILE)
def test_every_argument_reads_back_as_given(value: str) -> None:
    plan = ServicePlan(
        binary="/opt/x y/%n/$HOME $$/ccmgr-watch",
        run_args=run_arguments(f"/db/{value}.db", [value], [f"/s/{value}"], True),
        environment={"XDG_CONFIG_HOME": f"/c/{value}"},
    )
    unit = systemd_unit(plan)
    assert systemd_words(exec_start(unit)) == plan.argv
    assert read_marker(unit) == {"argv": plan.argv, "environment": dict(plan.environment)}
    # One line per key: no argument can add a line (a key) of its own.
    assert sum(line.startswith("ExecStart=") for line in unit.splitlines()) == 1
    assert all(line.isprintable() for line in unit.splitlines())


def test_a_semicolon_is_an_argument_not_a_command_separator() -> None:
    assert exec_word(";") == '";"'


def test_the_unit_restarts_on_failure_with_the_documented_limits() -> None:
    unit = systemd_unit(ServicePlan("/usr/bin/ccmgr-watch", ("run",)))
    lines = unit.splitlines()
    for expected in (
        "Restart=on-failure",
        "RestartSec=5",
        "StartLimitIntervalSec=300",
        "StartLimitBurst=10",
        "WantedBy=default.target",
    ):
        assert expected in lines


@pytest.mark.parametrize("bad", ["nul\0byte", "bad\udcffbyte"])
def test_arguments_that_cannot_be_written_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        exec_word(bad)


def systemd_analyze(unit: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@needs_analyze
def test_systemd_accepts_the_unit_with_hostile_paths(tmp_path: Path) -> None:
    hostile = "".join(v for v in HOSTILE if "\n" not in v and "\t" not in v and "\x07" not in v)
    binary = make_binary(tmp_path / f"bin {hostile[:40]}")
    plan = ServicePlan(
        binary=str(binary),
        run_args=run_arguments(f"/db/{hostile}\n.db", ["work"], [f"/s/{hostile}"], False),
        environment={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": f"/c/{hostile}"},
    )
    units = tmp_path / "units"
    units.mkdir()
    unit = units / "ccmgr-watch.service"
    unit.write_text(systemd_unit(plan))
    done = systemd_analyze(unit, tmp_path / "runtime")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == ""


@needs_analyze
def test_the_verifier_used_above_does_reject_a_broken_unit(tmp_path: Path) -> None:
    binary = make_binary(tmp_path / "bin")
    unit = tmp_path / "ccmgr-watch.service"
    unit.write_text(f'[Service]\nExecStart="{binary}" "unbalanced\n')
    done = systemd_analyze(unit, tmp_path / "runtime")
    assert done.returncode != 0 or done.stderr.strip()


# --- launchd ---


@pytest.mark.parametrize("value", HOSTILE)
def test_the_plist_round_trips(value: str) -> None:
    plan = ServicePlan(
        binary=f"/Users/me/{value}/ccmgr-watch",
        run_args=run_arguments(f"/db/{value}", [value], [], False),
        environment={"PATH": "/opt/homebrew/bin:/usr/bin"},
    )
    if any(ord(c) < 0x20 and c not in "\n\t" for c in value):
        # XML 1.0 cannot hold these: refused (a usage mistake, exit 2), no broken file.
        with pytest.raises(UsageError):
            launchd_plist(plan, "/Users/me/Library/Logs/ccmgr-watch.log")
        return
    data = launchd_plist(plan, "/Users/me/Library/Logs/ccmgr-watch.log")
    agent = plistlib.loads(data)
    assert agent["ProgramArguments"] == plan.argv
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["RunAtLoad"] is True
    assert agent["ThrottleInterval"] == 5
    assert agent["EnvironmentVariables"] == {"PATH": "/opt/homebrew/bin:/usr/bin"}
    assert plist_argv(data) == plan.argv


def test_a_foreign_plist_is_not_taken_for_ours() -> None:
    assert plist_argv(plistlib.dumps({"Label": "other", "ProgramArguments": ["x"]})) is None
    assert plist_argv(b"not a plist") is None


# --- install, uninstall, status through the CLI ---


@pytest.mark.usefixtures("no_temp_refusal")
def test_install_writes_a_private_unit_and_reinstall_replaces_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = make_binary(tmp_path / "bin")
    units = tmp_path / "new" / "units"
    db = tmp_path / "my data" / "50% $off.db"
    args = ["service", "install", "--no-enable", "--unit-dir", str(units), "--binary", str(binary)]
    code, out, err = call(capsys, *args, "--db", str(db), "-L", "work", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    unit = units / "ccmgr-watch.service"
    assert report["file"] == str(unit) and report["written"] and report["changed"]
    assert report["argv"] == [str(binary), "run", f"--db={db}", "--socket-name=work"]
    assert not report["enabled"]
    assert stat.S_IMODE(unit.stat().st_mode) == 0o600
    assert stat.S_IMODE(units.stat().st_mode) == 0o700
    assert systemd_words(exec_start(unit.read_text())) == report["argv"]
    first = unit.stat().st_ino
    os.link(unit, tmp_path / "old-unit")  # keeps the old inode (and its number) taken

    code, out, _ = call(capsys, *args, "--db", str(db), "-L", "work")
    assert code == 0 and out.startswith("unchanged:")
    assert unit.stat().st_ino == first
    code, out, _ = call(capsys, *args, "--db", str(db), "--all")
    assert code == 0 and out.startswith("wrote:")
    assert unit.stat().st_ino != first  # replaced by a rename, never rewritten in place
    assert sorted(p.name for p in units.iterdir()) == ["ccmgr-watch.service"]
    assert systemd_words(exec_start(unit.read_text()))[-1] == "--all"

    code, out, _ = call(capsys, "service", "status", "--unit-dir", str(units), "--json")
    info = json.loads(out)
    assert code == 1  # installed, but no watcher runs
    assert info["installed"] and info["database"] == str(db)
    assert info["watcher"] == {"running": False, "pid": None, "status": None}

    code, out, _ = call(capsys, "service", "uninstall", "--unit-dir", str(units), "--json")
    assert code == 0 and json.loads(out)["removed"]
    assert not unit.exists()
    code, out, _ = call(capsys, "service", "uninstall", "--unit-dir", str(units))
    assert code == 0 and "nothing to remove" in out


def test_the_default_unit_folder_honours_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(service_install.UNIT_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    folder, custom = service_install.unit_folder("systemd")
    assert folder == tmp_path / "cfg" / "systemd" / "user" and not custom
    monkeypatch.setenv(service_install.UNIT_DIR_ENV, str(tmp_path / "env"))
    assert service_install.unit_folder("systemd") == (tmp_path / "env", True)


def test_without_a_service_manager_nothing_is_written_and_the_unit_is_printed(
    tmp_path: Path,
) -> None:
    """A real process whose PATH has no systemctl: what a machine without systemd sees."""
    if not CLI.exists():
        pytest.skip("no .venv/bin/ccmgr-watch (run ./scripts/test once)")
    # Any executable outside the temporary folders will do for the unit's text (nothing runs
    # it here); this checkout, and so .venv/bin/ccmgr-watch, may itself lie under /tmp.
    binary = os.path.realpath(sys.executable)
    if any(
        binary == folder or binary.startswith(folder + "/")
        for folder in service_install.temporary_folders()
    ):
        pytest.skip(f"the python interpreter {binary} lies in a temporary folder")
    bare = tmp_path / "bare-path"
    bare.mkdir()
    units = tmp_path / "units"
    env = {**os.environ, "PATH": str(bare), "CCMGR_WATCH_UNIT_DIR": str(units)}
    db = tmp_path / "d.db"
    done = subprocess.run(
        [sys.executable, str(CLI), "service", "install", "--binary", binary, "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "systemctl is not installed" in done.stderr
    assert done.stderr.startswith("Error: ") and "\nHint: save the unit above as" in done.stderr
    assert exec_start(done.stdout)
    assert not units.exists()


def test_on_this_machine_a_missing_user_bus_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = service_install.manager_problem("systemd")
    if problem is None:
        pytest.skip("a systemd user manager answers here")
    monkeypatch.setattr(service_install, "temporary_folders", lambda: ["/nonexistent-temp"])
    binary = make_binary(tmp_path / "bin")
    units = tmp_path / "units"
    code, out, err = call(
        capsys, "service", "install", "--unit-dir", str(units), "--binary", str(binary)
    )
    assert code == 1
    assert problem in err and "nothing was written" in err
    assert "[Service]" in out
    assert not units.exists()


def test_a_binary_in_a_temporary_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_install, "temporary_folders", lambda: [str(tmp_path.resolve())])
    binary = make_binary(tmp_path / "venv" / "bin")
    code, out, err = call(
        capsys, "service", "install", "--no-enable", "--unit-dir", str(tmp_path / "u"),
        "--binary", str(binary),
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "inside a temporary folder" in err and "Hint: install ccmgr-watch for good" in err
    assert not (tmp_path / "u").exists()


def test_the_temporary_folders_include_tmp() -> None:
    assert os.path.realpath("/tmp") in service_install.temporary_folders()


@pytest.mark.usefixtures("no_temp_refusal")
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-L", "a/b"], "not a tmux socket name"),
        (["--binary", "/nonexistent/ccmgr-watch"], "is not an executable file"),
        (["--manager", "upstart"], "invalid choice"),
    ],
)
def test_hostile_options_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    units = tmp_path / "units"
    binary = make_binary(tmp_path / "bin")
    code, out, err = call(
        capsys, "service", "install", "--no-enable", "--unit-dir", str(units),
        "--binary", str(binary), *extra,
    )  # fmt: skip
    assert code == 2 and out == "" and message in err and err.startswith("Error: ")
    assert not units.exists()


@pytest.mark.usefixtures("no_temp_refusal")
def test_a_database_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = make_binary(tmp_path / "bin")
    code, _, err = call(
        capsys, "service", "install", "--print", "--binary", str(binary), "--db", str(tmp_path)
    )
    assert code == 2 and "is a folder" in err


@pytest.mark.usefixtures("no_temp_refusal")
@pytest.mark.parametrize("manager", ["systemd", "launchd"])
def test_a_postgresql_url_goes_into_the_service_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manager: str
) -> None:
    # The README's "several machines" setup: the URL from --db or storage.database.
    binary = make_binary(tmp_path / "bin")
    url = "postgresql://me@db.example.org/ccmgr?sslmode=require&application_name=a%20b"
    code, out, err = call(
        capsys, "service", "install", "--print", "--manager", manager,
        "--binary", str(binary), "--db", url,
    )  # fmt: skip
    assert (code, err) == (0, "")
    argv = systemd_words(exec_start(out)) if manager == "systemd" else plist_argv(out.encode())
    assert argv == [str(binary), "run", f"--db={url}"]


@pytest.mark.usefixtures("no_temp_refusal")
@pytest.mark.parametrize(
    "url", ["postgresql://me:s3cret@db/ccmgr", "postgresql://me@db/ccmgr?password=s3cret"]
)
def test_a_url_with_a_password_is_refused_and_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    binary = make_binary(tmp_path / "bin")
    code, out, err = call(
        capsys, "service", "install", "--print", "--binary", str(binary), "--db", url
    )
    assert code == 2 and out == ""
    assert "carries a password" in err and "~/.pgpass" in err
    assert "s3cret" not in out + err


def test_service_status_on_a_url_reads_the_local_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    url = "postgresql://me:s3cret@db/ccmgr"
    code, out, _ = call(
        capsys, "service", "status", "--unit-dir", str(tmp_path), "--db", url, "--json"
    )
    report = json.loads(out)
    assert code == 1 and report["database"] == "postgresql://me:***@db/ccmgr"
    assert report["watcher"]["running"] is False and "s3cret" not in out


@pytest.mark.usefixtures("no_temp_refusal")
def test_print_writes_nothing_and_shows_the_launchd_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(service_install.UNIT_DIR_ENV, str(tmp_path / "units"))
    binary = make_binary(tmp_path / "bin")
    code, out, _ = call(
        capsys, "service", "install", "--print", "--manager", "launchd", "--binary", str(binary)
    )
    assert code == 0
    assert plist_argv(out.encode())[:2] == [str(binary), "run"]  # type: ignore[index]
    assert not (tmp_path / "units").exists()


def test_service_status_of_nothing_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = call(capsys, "service", "status", "--unit-dir", str(tmp_path))
    assert code == 1
    assert out.startswith("service file: none")
    assert "watcher: not running" in out


@pytest.mark.usefixtures("no_temp_refusal")
@pytest.mark.parametrize("manager", ["systemd", "launchd"])
def test_a_hostile_database_path_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manager: str
) -> None:
    binary = make_binary(tmp_path / "bin")
    db = tmp_path / "a\nb $x %h \"q\" 'r'.db"
    code, out, err = call(
        capsys, "service", "install", "--print", "--manager", manager,
        "--binary", str(binary), "--db", str(db),
    )  # fmt: skip
    assert (code, err) == (0, "")
    argv = systemd_words(exec_start(out)) if manager == "systemd" else plist_argv(out.encode())
    assert argv == [str(binary), "run", f"--db={db}"]
    # A control character XML cannot hold: refused as a usage mistake, not a crash.
    code, out, err = call(
        capsys, "service", "install", "--print", "--manager", manager,
        "--binary", str(binary), "--db", str(tmp_path / "bell\x07.db"),
    )  # fmt: skip
    assert code == (2 if manager == "launchd" else 0)
    if manager == "launchd":
        assert "control character" in err and out == ""


def test_json_without_a_service_manager_is_still_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_install, "temporary_folders", lambda: ["/nonexistent-temp"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no systemctl here
    binary = make_binary(tmp_path / "bin")
    units = tmp_path / "units"
    code, out, err = call(
        capsys, "service", "install", "--json", "--unit-dir", str(units), "--binary", str(binary)
    )
    assert code == 1 and err.startswith("Error: no systemd user service manager")
    report = json.loads(out)
    assert report["written"] is False and "systemctl is not installed" in report["manager_problem"]
    assert exec_start(report["text"])
    assert not units.exists()


@needs_analyze
@pytest.mark.usefixtures("no_temp_refusal")
def test_systemd_accepts_the_unit_the_cli_writes_for_the_real_binary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CLI.exists():
        pytest.skip("no .venv/bin/ccmgr-watch (run ./scripts/test once)")
    units = tmp_path / "units"
    code, _, err = call(
        capsys, "service", "install", "--no-enable", "--unit-dir", str(units),
        "--binary", str(CLI), "--db", str(tmp_path / "my db" / "data.db"), "-L", "work", "--all",
    )  # fmt: skip
    assert (code, err) == (0, "")
    done = systemd_analyze(units / "ccmgr-watch.service", tmp_path / "runtime")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
