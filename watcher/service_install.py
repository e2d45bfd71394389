"""Installing, removing and asking about the watcher's service: systemd (Linux), launchd (macOS).

The service managers are driven through argv lists (never a shell), each call bounded by a
timeout. Where no manager answers (no ``systemctl``, or ``systemctl --user`` without a user bus,
as in containers and CI), :func:`manager_problem` says why and the CLI prints the service text
for a hand install instead of writing half an install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from store.errors import CcmgrError, UsageError
from store.paths import ensure_private_dir, write_private_atomic
from watcher.service_unit import PLIST_NAME, UNIT_NAME

UNIT_DIR_ENV = "CCMGR_WATCH_UNIT_DIR"  # where the unit or plist goes (tests, unusual setups)
MANAGER_TIMEOUT = 15.0  # seconds for one systemctl/launchctl call; `enable --now` may start it
MANAGERS = ("systemd", "launchd")


class ServiceError(CcmgrError):
    """The service manager is missing or refused (exit 1: the install did not happen)."""

    exit_code = 1


def default_manager() -> str:
    """launchd on macOS, systemd everywhere else."""
    return "launchd" if sys.platform == "darwin" else "systemd"


def unit_folder(manager: str, explicit: str | None = None) -> tuple[Path, bool]:
    """Where the service file goes, and whether that is a folder the user chose.

    ``--unit-dir`` or ``$CCMGR_WATCH_UNIT_DIR``; else systemd's per-user folder
    ``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``) or ``~/Library/LaunchAgents``.
    """
    chosen = explicit or os.environ.get(UNIT_DIR_ENV, "")
    if chosen:
        return Path(chosen).expanduser().absolute(), True
    if manager == "launchd":
        return Path.home() / "Library" / "LaunchAgents", False
    from store.paths import config_home

    return config_home() / "systemd" / "user", False


def unit_file(manager: str, folder: Path) -> Path:
    """The service file in ``folder``."""
    return folder / (PLIST_NAME if manager == "launchd" else UNIT_NAME)


def launchd_log_file() -> str:
    """Where the launchd agent's output goes (launchd has no journal)."""
    return str(Path.home() / "Library" / "Logs" / "ccmgr-watch.log")


# --- the binary ------------------------------------------------------------------------------


def temporary_folders() -> list[str]:
    """Folders whose contents may vanish (a reboot, tmp cleaners): no service may run from
    there."""
    found = {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}
    return sorted({os.path.realpath(folder) for folder in found})


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def find_binary(explicit: str | None = None) -> str:
    """The absolute path of the ``ccmgr-watch`` the service will run.

    ``--binary`` if given, else the command being run (``sys.argv[0]`` when it is ccmgr-watch),
    else ``ccmgr-watch`` on PATH. Symbolic links are kept, not resolved: pipx's
    ``~/.local/bin/ccmgr-watch`` link survives upgrades, the venv path behind it may not.
    Refused: a file that is not executable, and one inside a temporary folder.
    """
    if explicit:
        candidate = os.path.abspath(os.path.expanduser(explicit))
        how = "--binary"
    else:
        argv0 = sys.argv[0] if sys.argv else ""
        if os.path.basename(argv0) == "ccmgr-watch" and os.path.isfile(argv0):
            candidate = os.path.abspath(argv0)
        else:
            found = shutil.which("ccmgr-watch")
            if found is None:
                raise UsageError(
                    "cannot find the ccmgr-watch command for the service to run",
                    hint="install it (`pipx install .`) and run `ccmgr-watch service install` "
                    "from it, or give --binary PATH",
                )
            candidate = os.path.abspath(found)
        how = "the ccmgr-watch being run"
    if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
        raise UsageError(
            f"{how}: {candidate} is not an executable file",
            hint='give the installed command, e.g. --binary "$(command -v ccmgr-watch)"',
        )
    real = os.path.realpath(candidate)
    for folder in temporary_folders():
        if _inside(real, folder) or _inside(candidate, folder):
            raise UsageError(
                f"{how}: {candidate} is inside a temporary folder ({folder}); a service must "
                "not run a command that may vanish",
                hint="install ccmgr-watch for good (`pipx install .` or `pip install --user .`) "
                "and run that one's `ccmgr-watch service install`, or give --binary PATH",
            )
    return candidate


# --- talking to the manager ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What one manager call returned."""

    ok: bool
    stdout: str
    stderr: str

    def why(self) -> str:
        """The first line of what the manager said, for a message."""
        text = (self.stderr or self.stdout).strip()
        return text.splitlines()[0] if text else "no output"


def call(argv: list[str], timeout: float = MANAGER_TIMEOUT) -> Answer:
    """Run one manager command (argv, no shell, no stdin), bounded by ``timeout``."""
    try:
        # argv lists of systemctl/launchctl with our own arguments (paths as single words).
        done = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return Answer(False, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return Answer(False, "", f"`{' '.join(argv[:3])}` did not answer within {timeout:g}s")
    except OSError as exc:
        return Answer(False, "", f"{argv[0]}: {exc.strerror or exc}")
    return Answer(done.returncode == 0, done.stdout, done.stderr)


def systemctl(*args: str, timeout: float = MANAGER_TIMEOUT) -> Answer:
    """``systemctl --user ARGS``."""
    return call(["systemctl", "--user", *args], timeout)


def launchctl(*args: str, timeout: float = MANAGER_TIMEOUT) -> Answer:
    """``launchctl ARGS``."""
    return call(["launchctl", *args], timeout)


def launchd_domain() -> str:
    """The user's GUI launchd domain, ``gui/<uid>``."""
    return f"gui/{os.getuid()}"


def manager_problem(manager: str) -> str | None:
    """Why the service manager cannot be used now, or None when it answers."""
    if manager == "launchd":
        if shutil.which("launchctl") is None:
            return "launchctl is not installed (launchd agents are for macOS)"
        answer = launchctl("print", launchd_domain(), timeout=5)
        return None if answer.ok else f"launchctl print {launchd_domain()}: {answer.why()}"
    if shutil.which("systemctl") is None:
        return "systemctl is not installed (no systemd)"
    answer = systemctl("show", "--property=Version", timeout=5)
    # Containers, CI and sessions without a user bus: "Failed to connect to bus: ...".
    return None if answer.ok else f"systemctl --user: {answer.why()}"


def manager_refused(what: str, answer: Answer, hint: str) -> ServiceError:
    """The error for a manager command that failed."""
    return ServiceError(f"{what} failed: {answer.why()}", hint=hint)


# --- install, uninstall ----------------------------------------------------------------------


@dataclass(slots=True)
class Installed:
    """What an install or uninstall did."""

    manager: str
    file: str
    written: bool = False
    changed: bool = False
    removed: bool = False
    enabled: bool = False
    started: bool = False
    stopped: bool = False
    note: str | None = None


def write_service_file(path: Path, body: bytes) -> bool:
    """Write the service file atomically (0600 in a folder created 0700); True if it changed."""
    try:
        old = path.read_bytes()
    except OSError:
        old = None
    if old == body:
        return False
    ensure_private_dir(path.parent)
    write_private_atomic(path, body)
    return True


def enable_systemd(result: Installed, *, custom_folder: bool) -> None:
    """daemon-reload, enable, and (re)start the unit when it is new, changed or not running."""
    reload = systemctl("daemon-reload")
    if not reload.ok:
        raise manager_refused(
            "systemctl --user daemon-reload", reload, "see `systemctl --user status`"
        )
    # A unit outside systemd's search path is enabled by its path (systemctl links it).
    target = result.file if custom_folder else UNIT_NAME
    enable = systemctl("enable", target)
    if not enable.ok:
        raise manager_refused(
            f"systemctl --user enable {target}",
            enable,
            f"the unit is written at {result.file}; see `systemctl --user status {UNIT_NAME}`",
        )
    result.enabled = True
    active = systemctl("is-active", "--quiet", UNIT_NAME).ok
    if active and not result.changed:
        result.note = "already running with this unit"
        return
    start = systemctl("restart", UNIT_NAME)
    if not start.ok:
        raise manager_refused(
            f"systemctl --user restart {UNIT_NAME}",
            start,
            f"`journalctl --user -u {UNIT_NAME}` shows why it does not start",
        )
    result.started = True


def enable_launchd(result: Installed) -> None:
    """Load the agent (again: bootout first, bootstrap fails on a loaded label)."""
    domain = launchd_domain()
    launchctl("bootout", f"{domain}/{PLIST_NAME.removesuffix('.plist')}")
    answer = launchctl("bootstrap", domain, result.file)
    if not answer.ok:
        raise manager_refused(
            f"launchctl bootstrap {domain}",
            answer,
            f"the agent is written at {result.file}; `launchctl print {domain}` shows the domain",
        )
    result.enabled = result.started = True


def uninstall(manager: str, path: Path, *, use_manager: bool) -> Installed:
    """Stop and disable the service, remove its file, reload the manager. Idempotent."""
    result = Installed(manager=manager, file=str(path))
    if use_manager and manager == "systemd":
        # Fails harmlessly when the unit is unknown ("does not exist"): nothing to stop then.
        if systemctl("disable", "--now", UNIT_NAME).ok:
            result.stopped = True
    elif use_manager:
        label = PLIST_NAME.removesuffix(".plist")
        if launchctl("bootout", f"{launchd_domain()}/{label}").ok:
            result.stopped = True
    try:
        path.unlink()
        result.removed = True
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ServiceError(
            f"cannot remove {path}: {exc.strerror or exc}",
            hint="check the permissions of the file and its folder",
        ) from exc
    if use_manager and manager == "systemd":
        systemctl("daemon-reload")
        systemctl("reset-failed", UNIT_NAME)  # forget a failed state of the removed unit
    return result


def installed_argv(manager: str, path: Path) -> list[str] | None:
    """The command line the installed service file runs, or None (missing, or not ours)."""
    from watcher.service_unit import plist_argv, read_marker

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if manager == "launchd":
        return plist_argv(data)
    marker = read_marker(data.decode("utf-8", "replace"))
    argv = marker.get("argv") if marker else None
    if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
        return list(argv)
    return None


# --- what the manager says -------------------------------------------------------------------

SYSTEMD_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "MainPID",
    "NRestarts",
    "Result",
    "ExecMainStartTimestamp",
    "FragmentPath",
)


def systemd_view() -> dict[str, str]:
    """``systemctl --user show`` of the unit: LoadState, ActiveState, SubState, MainPID..."""
    answer = systemctl("show", UNIT_NAME, "--property=" + ",".join(SYSTEMD_PROPERTIES), timeout=5)
    if not answer.ok:
        return {"error": answer.why()}
    view: dict[str, str] = {}
    for line in answer.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            view[key] = value
    return view


def launchd_view() -> dict[str, str]:
    """``launchctl print gui/UID/ccmgr-watch``: its state, pid and last exit code."""
    label = PLIST_NAME.removesuffix(".plist")
    answer = launchctl("print", f"{launchd_domain()}/{label}", timeout=5)
    if not answer.ok:
        return {"state": "not loaded", "error": answer.why()}
    view: dict[str, str] = {}
    for line in answer.stdout.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key in ("state", "pid", "last exit code", "runs"):
            view[key] = value
    return view
