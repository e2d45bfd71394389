"""The service definitions ``ccmgr-watch service install`` writes: a systemd user unit, a launchd
agent (pure: values in, text out; no file, no process).

Every argument of the command line the service runs is written so that the service manager hands
it to ``ccmgr-watch`` exactly as given: a path with spaces, ``%``, ``$``, quotes, backslashes or
control characters included (systemd: :func:`exec_word`; launchd: a plist array, no parsing).
"""

from __future__ import annotations

import json
import plistlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from store.errors import UsageError

UNIT_NAME = "ccmgr-watch.service"
LAUNCHD_LABEL = "ccmgr-watch"
PLIST_NAME = f"{LAUNCHD_LABEL}.plist"
# The comment line that records what was installed (status and doctor read it back): JSON with
# ASCII escapes, so no path can break the line.
MARKER = "# ccmgr-watch-install: "
# docs/capture.md "As a systemd service": why these numbers.
RESTART_SEC = 5
START_LIMIT_INTERVAL_SEC = 300
START_LIMIT_BURST = 10
# The watcher flushes and exits 0 within ~2 s of SIGTERM; this bounds a stuck stop.
STOP_TIMEOUT_SEC = 15


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """What the service runs: the ccmgr-watch binary, the ``run`` arguments, the environment."""

    binary: str
    run_args: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        """The whole command line, binary first."""
        return [self.binary, *self.run_args]


def run_arguments(
    db: str, socket_names: Sequence[str], socket_paths: Sequence[str], watch_all: bool
) -> tuple[str, ...]:
    """``run --db DB [-L NAME]... [-S PATH]... [--all]``: every value after its option as its
    own word, so a value starting with ``-`` stays a value."""
    args = ["run", f"--db={db}"]
    args += [f"--socket-name={name}" for name in socket_names]
    args += [f"--socket-path={path}" for path in socket_paths]
    if watch_all:
        args.append("--all")
    return tuple(args)


def _check_text(value: str, what: str) -> None:
    """A value must be UTF-8 text without NUL to be written into a unit file or a plist."""
    if "\0" in value:
        raise UsageError(f"{what} contains a NUL character: {value!r}", hint="use another path")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{what} is not valid UTF-8: {value!r}",
            hint="a service file is UTF-8 text: rename the file or folder, or use another path",
        ) from None


def _escape(value: str, *, dollars: bool) -> str:
    out: list[str] = []
    for ch in value:
        if ch == "%":
            out.append("%%")  # specifiers (%h, %u...) are expanded in every word
        elif ch == "$" and dollars:
            out.append("$$")  # $VAR and ${VAR} are expanded in command lines
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def exec_word(value: str, *, program: bool = False) -> str:
    """One word of a systemd command line (``ExecStart=``), read back by systemd as ``value``.

    systemd.syntax(7) and systemd.service(5): a double-quoted word with C escapes; ``%`` starts a
    specifier (``%%`` is one ``%``) and, in the arguments, ``$`` a variable (``$$`` is one ``$``)
    even inside quotes. The program's path (``program``) gets no variable expansion: systemd
    takes its ``$$`` literally (``systemd-analyze verify`` showed it). A quoted ``;`` is a plain
    argument, not a command separator.
    """
    _check_text(value, "an argument")
    return _escape(value, dollars=not program)


def environment_word(name: str, value: str) -> str:
    """``"NAME=value"`` for ``Environment=``: quoted, escaped, ``%%`` (no ``$`` expansion there)."""
    _check_text(value, f"${name}")
    return _escape(f"{name}={value}", dollars=False)


def marker_line(plan: ServicePlan) -> str:
    """The comment that records the install (read back by :func:`read_marker`)."""
    body = {"argv": plan.argv, "environment": dict(plan.environment)}
    return MARKER + json.dumps(body, ensure_ascii=True, sort_keys=True)


def read_marker(text: str) -> dict[str, object] | None:
    """What :func:`marker_line` recorded in a unit's text, or None (not written by us)."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            try:
                value = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def systemd_unit(plan: ServicePlan) -> str:
    """The text of ``ccmgr-watch.service``, a systemd user unit."""
    for word in plan.argv:
        _check_text(word, "an argument")
    lines = [
        "# Written by `ccmgr-watch service install`; `ccmgr-watch service uninstall` removes it.",
        "# Run it again (with the same options) to rewrite this file rather than editing it.",
        marker_line(plan),
        "[Unit]",
        "Description=ccmgr-watch: record tmux sessions",
        # After ten failures in five minutes systemd gives up and says why (docs/capture.md).
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_SEC}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Service]",
        "ExecStart="
        + " ".join([exec_word(plan.binary, program=True), *map(exec_word, plan.run_args)]),
    ]
    lines += [
        "Environment=" + environment_word(name, value)
        for name, value in sorted(plan.environment.items())
    ]
    lines += [
        # A crash (70) or an unusable database (5) is retried; a clean stop (0) is not.
        "Restart=on-failure",
        # Not systemd's 100 ms: every start attaches a client to the tmux server.
        f"RestartSec={RESTART_SEC}",
        f"TimeoutStopSec={STOP_TIMEOUT_SEC}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def _check_xml(value: str, what: str) -> None:
    """XML 1.0 (a plist) cannot hold control characters other than tab, newline and return."""
    _check_text(value, what)
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in value):
        raise UsageError(
            f"{what} contains a control character a plist cannot hold: {value!r}",
            hint="rename the file or folder, or use another path",
        )


def launchd_plist(plan: ServicePlan, log_file: str) -> bytes:
    """The launchd agent (``~/Library/LaunchAgents/ccmgr-watch.plist``) as XML plist bytes."""
    for word in [*plan.argv, *plan.environment.values()]:
        _check_xml(word, "an argument")
    _check_xml(log_file, "the log file")
    agent: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": plan.argv,
        "RunAtLoad": True,
        # Restarted when it fails (like Restart=on-failure), not after a clean stop.
        "KeepAlive": {"SuccessfulExit": False},
        # launchd's minimum time between two starts (like RestartSec).
        "ThrottleInterval": RESTART_SEC,
        "ProcessType": "Background",
        "StandardOutPath": log_file,
        "StandardErrorPath": log_file,
    }
    if plan.environment:
        agent["EnvironmentVariables"] = dict(plan.environment)
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=True)


def plist_argv(data: bytes) -> list[str] | None:
    """``ProgramArguments`` of an agent's plist, or None when it is not one of ours."""
    try:
        agent = plistlib.loads(data)
    except Exception:  # plistlib raises several types for bad input (InvalidFileException, ...)
        return None
    if not isinstance(agent, dict) or agent.get("Label") != LAUNCHD_LABEL:
        return None
    argv = agent.get("ProgramArguments")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    return list(argv)
