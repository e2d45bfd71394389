"""``ccmgr-watch doctor``: every check of the setup, each finding with the command that fixes it.

Each check returns :class:`Finding` values (``ok``, ``warn`` or ``error``); none may hang: tmux
is asked with timeouts, servers are probed without starting one (``list-sessions`` on an explicit
socket), the database checks are interrupted at a deadline.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from watcher.capture.tmux_address import CLIENT_ENV, control_env, is_socket, socket_dir

Level = Literal["ok", "warn", "error"]
TMUX_TIMEOUT = 5.0  # seconds for `tmux -V`
PROBE_TIMEOUT = 3.0  # seconds for one server's probe (they run side by side)
OLDEST = (3, 2)  # control-mode client flags (no-output, read-only, ignore-size) came in 3.2
FIXED = (3, 7)  # tmux PRs #4980, #5004: no crash of a half-identified control client


@dataclass(frozen=True, slots=True)
class Finding:
    """One result: a stable ``id``, its level, what was found, and the command that fixes it."""

    id: str
    level: Level
    message: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as ``--json`` prints it."""
        return asdict(self)


def q(path: str | Path) -> str:
    """A path as a shell word, for the fix commands shown."""
    return shlex.quote(str(path))


def age(seconds: float) -> str:
    """``3m``, ``5h``, ``2d``: how old something is."""
    if seconds < 90:
        return f"{max(0, int(seconds))}s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)}m"
    if seconds < 36 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def _seconds_since(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (now - when).total_seconds()


# --- tmux ------------------------------------------------------------------------------------


def parse_tmux_version(text: str) -> tuple[int, int] | None:
    """``tmux 3.3a`` → (3, 3); ``tmux next-3.6`` → (3, 6); ``tmux master`` → None."""
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def check_tmux_version(tmux: str = "tmux") -> Finding:
    """tmux's version and what the known versions' traps mean for the watcher."""
    fid = "tmux.version"
    found = shutil.which(tmux)
    if found is None:
        return Finding(
            fid,
            "error",
            "tmux is not installed (not on PATH)",
            "install tmux 3.2 or newer (`apt install tmux`, `brew install tmux`)",
        )
    try:
        # An argv list with the tmux found on PATH and a fixed option: nothing from input.
        done = subprocess.run(  # noqa: S603
            [found, "-V"],
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT,
            env=control_env(),
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(fid, "error", f"`{found} -V` failed: {exc}", "reinstall tmux")
    text = (done.stdout or done.stderr).strip() or "tmux (no version)"
    binary_client = os.environ.get(CLIENT_ENV, "").strip().lower() == "binary"
    return classify_tmux(text, binary_client=binary_client)


def classify_tmux(text: str, *, binary_client: bool = False) -> Finding:
    """What ``tmux -V``'s ``text`` means for the watcher (``binary_client``: the watcher was
    told to run ``tmux -C`` clients instead of its own)."""
    fid = "tmux.version"
    version = parse_tmux_version(text)
    if version is None:
        return Finding(fid, "ok", f"{text}: a development build (treated as the newest)")
    if version < OLDEST:
        return Finding(
            fid,
            "error",
            f"{text} is older than 3.2, which the watcher needs (control-mode client flags "
            "no-output, read-only, ignore-size)",
            "upgrade tmux to 3.2 or newer",
        )
    if version < FIXED:
        trap = (
            f"{text}: tmux 3.2 to 3.6 crash (the whole server) when a `tmux -C` client starts "
            "while sessions are being created (fixed in 3.7)"
        )
        if binary_client:
            return Finding(
                fid,
                "warn",
                f"{trap}; {CLIENT_ENV}=binary makes the watcher start such clients",
                f"unset {CLIENT_ENV} (the watcher's own client avoids the crash)",
            )
        return Finding(
            fid, "ok", f"{trap}; the watcher speaks tmux's protocol itself and avoids it"
        )
    return Finding(fid, "ok", text)


async def _probe_all(sockets: list[str], tmux: str) -> dict[str, Any]:
    """Probe every socket side by side, each bounded; "timeout" for one that did not answer."""
    import anyio

    from watcher.capture.tmux_probe import probe_server

    results: dict[str, Any] = {}

    async def probe(socket: str) -> None:
        results[socket] = "timeout"
        with anyio.move_on_after(PROBE_TIMEOUT):
            try:
                results[socket] = await probe_server(socket, tmux=tmux)
            except Exception as exc:  # TmuxError (cannot run tmux), a parse error: reported
                results[socket] = exc

    async with anyio.create_task_group() as tg:
        for socket in sockets:
            tg.start_soon(probe, socket)
    return results


def nobody_listens(path: str) -> bool:
    """True when connecting to the socket is refused: no process listens (a stale socket).

    Asked only of sockets where ``tmux list-sessions`` found no server, before calling them
    stale: a server of another tmux version refuses our tmux's commands but still listens, and
    its socket must not be removed.
    """
    import socket as sockets

    probe = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # gone meanwhile, or not ours to ask: not called stale
    finally:
        probe.close()
    return False


def check_servers(
    status: dict[str, Any] | None, running: bool, tmux: str = "tmux"
) -> list[Finding]:
    """The tmux servers in the socket folder (and those the watcher watches): alive, stale or
    not answering; live servers a running watcher does not watch."""
    import anyio

    folder = socket_dir()
    sockets: set[str] = set()
    if folder.is_dir():
        with contextlib.suppress(OSError):  # gone or unreadable: no sockets to show
            sockets = {str(p) for p in folder.iterdir() if is_socket(p)}
    watched = {
        str(s.get("socket"))
        for s in (status or {}).get("servers") or []
        if isinstance(s, dict) and s.get("socket")
    }
    sockets |= {s for s in watched if os.path.exists(s)}
    if shutil.which(tmux) is None:
        return []  # check_tmux_version says it
    results = anyio.run(_probe_all, sorted(sockets), tmux) if sockets else {}
    findings: list[Finding] = []
    alive: list[str] = []
    stale: list[str] = []
    for socket, result in sorted(results.items()):
        if result == "timeout":
            findings.append(
                Finding(
                    "tmux.server_unresponsive",
                    "warn",
                    f"the tmux server at {socket} did not answer within {PROBE_TIMEOUT:g}s",
                    f"see what it is doing: tmux -S {q(socket)} list-sessions",
                )
            )
        elif isinstance(result, Exception):
            findings.append(
                Finding("tmux.server_probe", "warn", f"probing {socket} failed: {result}")
            )
        elif result is None and nobody_listens(socket):
            stale.append(socket)
        elif result is None:
            findings.append(
                Finding(
                    "tmux.server_other_version",
                    "warn",
                    f"a server listens on {socket} but does not answer this tmux (another tmux "
                    "version's server?); the watcher cannot watch it with this tmux",
                    f"find it: tmux -S {q(socket)} list-sessions, run with the tmux that "
                    "started it; restart that server with this tmux when you can",
                )
            )
        else:
            count = len(getattr(result, "sessions", ()) or ())
            alive.append(f"{Path(socket).name} ({count} session{'s' * (count != 1)})")
            watch_all = bool((status or {}).get("watch_all"))
            if running and not watch_all and socket not in watched:
                name = Path(socket).name
                option = f"-L {q(name)}" if Path(socket).parent == folder else f"-S {q(socket)}"
                findings.append(
                    Finding(
                        "tmux.server_unwatched",
                        "warn",
                        f"the tmux server {socket} is running but the watcher does not watch it",
                        f"ccmgr-watch service install {option} (with the servers it watches "
                        "now), or --all for every server",
                    )
                )
    if stale:
        # tmux (3.3a at least) never unlinks its socket when its server exits, cleanly or not:
        # every ended `-L NAME` server leaves one. Harmless (the watcher waits on such a file
        # without spinning, and the next server of that name replaces it), so not a warning;
        # the cleanup command is in --json, and the text names the files.
        shown = ", ".join(Path(s).name for s in stale[:5])
        shown += f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        findings.insert(
            0,
            Finding(
                "tmux.stale_socket",
                "ok",
                f"{len(stale)} socket file(s) of tmux servers that have ended (tmux leaves them "
                f"behind; harmless; `doctor --json` gives the rm command): {shown}",
                "rm -- " + " ".join(q(s) for s in stale),
            ),
        )
    summary = (
        f"tmux servers running: {', '.join(alive)}"
        if alive
        else f"no tmux server is running in {folder} (the watcher waits for one)"
    )
    return [Finding("tmux.servers", "ok", summary), *findings]


# --- the watcher -----------------------------------------------------------------------------


def check_watcher(
    db: str, holder: int | None, status: dict[str, Any] | None, service_file: Path | None,
    now: datetime, manager: str = "systemd",
) -> list[Finding]:  # fmt: skip
    """Whether a watcher records into ``db``, since when, its last event, its own troubles."""
    if holder is None:
        if service_file is not None and service_file.exists():
            start = (
                f"launchctl kickstart gui/{os.getuid()}/ccmgr-watch"
                if manager == "launchd"
                else "systemctl --user start ccmgr-watch"
            )
            fix = f"{start} (see: ccmgr-watch service status)"
        elif "***" in db:  # a URL shown without its password: the service refuses one anyway
            fix = (
                "put the password in ~/.pgpass, then: ccmgr-watch service install --db "
                "'postgresql://USER@HOST/DB' (or run `ccmgr-watch run`)"
            )
        else:
            fix = f"ccmgr-watch service install --db {q(db)} (or run `ccmgr-watch run`)"
        return [Finding("watcher.running", "warn", f"no watcher is recording into {db}", fix)]
    last = status or {}
    event = last.get("last_event") if isinstance(last.get("last_event"), dict) else None
    if event:
        seconds = _seconds_since(event.get("timestamp"), now)
        when = f"{age(seconds)} ago" if seconds is not None else "at an unknown time"
        what = f"last event {event.get('event_type')} {event.get('name')!r} {when}"
    else:
        what = "no event recorded since it started"
    findings = [
        Finding(
            "watcher.running",
            "ok",
            f"watcher running (pid {holder or '?'}) since {last.get('started_at') or '?'}; "
            f"{last.get('events_written', 0)} events written; {what}",
        )
    ]
    state = last.get("database_state") if isinstance(last.get("database_state"), dict) else {}
    if state and state.get("failing"):
        findings.append(
            Finding(
                "watcher.writes_failing",
                "error",
                f"the watcher cannot write the database since {state.get('failing_since')}: "
                f"{state['failing']} ({state.get('events_waiting', 0)} events waiting)",
                "free disk space or fix the file's permissions; `ccmgr-watch status` shows it",
            )
        )
    if last.get("config_error"):
        findings.append(
            Finding(
                "watcher.config_error",
                "warn",
                f"the watcher runs on its last good settings: {last['config_error']}",
                "ccmgr-watch config validate",
            )
        )
    return findings


def check_service_file(
    manager: str, path: Path, argv: list[str] | None, db: str | None = None
) -> list[Finding]:
    """An installed service whose ccmgr-watch is gone would fail at every start; one that records
    into another database than the one checked is said so."""
    if argv is None or not argv:
        return []
    binary = argv[0]
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return [
            Finding(
                "service.binary_missing",
                "error",
                f"the service in {path} runs {binary}, which no longer exists",
                "run `ccmgr-watch service install` again from the ccmgr-watch you use now",
            )
        ]
    findings = [Finding("service.installed", "ok", f"{manager} service installed: {path}")]
    service_db = next((a[len("--db=") :] for a in argv if a.startswith("--db=")), None)
    if db is not None and service_db is not None and service_db != db:
        findings.append(
            Finding(
                "service.database",
                "warn",
                f"the service records into {service_db}, not into {db} (checked here)",
                f"ccmgr-watch doctor --db {q(service_db)}, or `ccmgr-watch service install "
                f"--db {q(db)}` to record into this one",
            )
        )
    return findings


# --- the database ----------------------------------------------------------------------------


def check_database(db: str, timeout: float, running: bool) -> list[Finding]:
    """Schema up to date, ``quick_check``, the full-text index's integrity check."""
    import sqlite3

    from store.errors import CcmgrError
    from store.health import fts_integrity_check, quick_check

    if not os.path.exists(db):
        return [
            Finding(
                "db.exists",
                "warn",
                f"no database at {db} yet",
                f"ccmgr-watch db migrate --db {q(db)} (or start the watcher, which creates it)",
            )
        ]
    if os.path.isdir(db):
        return [
            Finding(
                "db.exists",
                "error",
                f"{db} is a folder, not a database file",
                "point --db (or CCMGR_WATCH_DB, storage.database) at the database file",
            )
        ]
    findings: list[Finding] = []
    moved = f"mv -- {q(db)} {q(db + '.broken')} (then restore: ccmgr-watch backup restore latest)"
    try:
        findings += _schema_findings(db, running)
    except (CcmgrError, sqlite3.Error) as exc:
        text = exc.message if isinstance(exc, CcmgrError) else str(exc)
        return [Finding("db.schema", "error", f"the database cannot be read: {text}", moved)]
    try:
        health = quick_check(db, timeout=timeout)
    except (CcmgrError, sqlite3.Error) as exc:
        text = exc.message if isinstance(exc, CcmgrError) else str(exc)
        findings.append(Finding("db.quick_check", "error", f"quick_check failed: {text}", moved))
        return findings
    if health.timed_out:
        findings.append(
            Finding(
                "db.quick_check",
                "warn",
                f"quick_check did not finish within {timeout:g}s",
                f"ccmgr-watch doctor --timeout {int(timeout * 6)} (or: sqlite3 {q(db)} "
                "'PRAGMA quick_check')",
            )
        )
    elif health.ok:
        findings.append(Finding("db.quick_check", "ok", "database quick_check: ok"))
    else:
        findings.append(
            Finding(
                "db.quick_check",
                "error",
                f"the database is damaged: {'; '.join(health.problems[:3])}",
                f"ccmgr-watch backup restore latest (stop the watcher first), or salvage it: "
                f"sqlite3 {q(db)} .recover | sqlite3 {q(db + '.recovered')}",
            )
        )
        return findings  # the index check would only repeat it
    try:
        fts = fts_integrity_check(db, timeout=timeout)
    except sqlite3.Error as exc:
        findings.append(Finding("db.search_index", "error", f"search index check failed: {exc}"))
        return findings
    if fts.skipped:
        findings.append(
            Finding("db.search_index", "warn", f"search index not checked: {fts.skipped}")
        )
    elif fts.timed_out:
        findings.append(
            Finding(
                "db.search_index",
                "warn",
                f"the search index check did not finish within {timeout:g}s",
                f"ccmgr-watch doctor --timeout {int(timeout * 6)}",
            )
        )
    elif fts.ok:
        findings.append(Finding("db.search_index", "ok", "search index integrity-check: ok"))
    else:
        findings.append(
            Finding(
                "db.search_index",
                "error",
                f"the search index is damaged or out of step with the sessions: "
                f"{'; '.join(fts.problems)}",
                f"ccmgr-watch db reindex --db {q(db)}",
            )
        )
        return findings
    findings += check_name_order(db, running)
    return findings


def check_name_order(db: str, running: bool) -> list[Finding]:
    """The name-order snapshot that `query --sort name` reads (migrations 009, 012): how many
    sessions were written or renamed since its last build or fold, and who folds them in (the
    running watcher, when idle; else `db reindex`)."""
    import sqlite3

    from store.name_order import due
    from store.reads import open_reader

    try:
        conn = open_reader(db)
        try:
            state = due(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [Finding("db.name_order", "warn", f"name-order snapshot not checked: {exc}")]
    if state is None:
        return []  # no snapshot: the schema finding says the migration is pending
    verdict, sessions, delta = state
    since = "since its last build or fold"
    if verdict == "fresh" or running:
        later = "; the watcher folds them in when idle" if verdict == "due" else ""
        return [
            Finding(
                "db.name_order",
                "ok",
                f"name-order snapshot (--sort name): {delta} session(s) written or renamed "
                f"{since}{later}",
            )
        ]
    return [
        Finding(
            "db.name_order",
            "warn",
            f"the name-order snapshot (--sort name) is {delta} session(s) behind of about "
            f"{sessions}: results stay exact, `--sort name` gets slower; no watcher is running "
            "to fold them in (a running watcher does when idle)",
            f"ccmgr-watch db reindex --db {q(db)}",
        )
    ]


def check_postgres(url: str, running: bool) -> list[Finding]:
    """A PostgreSQL store: the server answers, the schema is up to date (its integrity is the
    server's to check: ``amcheck``, the provider's tools). Never shows the URL's password."""
    from store.errors import CcmgrError
    from store.pgurl import redact
    from store.postgres.migrate import schema_status

    shown = redact(url)
    try:
        state = schema_status(url)
    except CcmgrError as exc:
        return [Finding("db.connect", "error", exc.message, exc.hint)]
    return [
        Finding("db.connect", "ok", f"PostgreSQL store {shown} answers"),
        *_schema_findings(shown, running, state),
    ]


def _schema_findings(db: str, running: bool, state: Any = None) -> list[Finding]:
    from store.db import schema_status

    if state is None:
        state = schema_status(Path(db))
    stop = " (stop the watcher first; it migrates when it starts)" if running else ""
    if state.mismatched:
        names = ", ".join(m.filename for m in state.mismatched)
        return [
            Finding(
                "db.migrations",
                "error",
                f"applied migrations changed since they were applied: {names}",
                "reinstall ccmgr-watch (its shipped migration files); see `ccmgr-watch db status`",
            )
        ]
    if state.unknown or state.current > state.latest:
        return [
            Finding(
                "db.migrations",
                "error",
                f"the database's schema (version {state.current}) is newer than this "
                f"ccmgr-watch knows ({state.latest})",
                "upgrade ccmgr-watch",
            )
        ]
    if state.pending:
        return [
            Finding(
                "db.migrations",
                "warn",
                f"{len(state.pending)} migration(s) pending (schema {state.current} of "
                f"{state.latest})",
                f"ccmgr-watch db migrate --db {q(db)}{stop}",
            )
        ]
    return [Finding("db.migrations", "ok", f"schema up to date (version {state.current})")]


# --- config ----------------------------------------------------------------------------------


def check_config() -> tuple[list[Finding], Any]:
    """Every config file's problems; returns the findings and the effective config (defaults
    where a file could not be read)."""
    from watcher.config.locations import resolve_scopes
    from watcher.config.readfile import config_exists
    from watcher.config.scopes import load_effective

    paths = resolve_scopes(None)
    effective = load_effective(paths, lenient=True)
    files = [str(p) for p in paths.values() if config_exists(p)]
    errors = effective.errors
    if not errors:
        text = f"config valid: {', '.join(files)}" if files else "no config files; defaults apply"
        return [Finding("config.valid", "ok", text)], effective.config
    findings = []
    for issue in errors[:5]:
        unreadable = not issue.keys
        findings.append(
            Finding(
                "config.valid",
                "error" if unreadable else "warn",
                issue.render()
                + (" (the file is left out)" if unreadable else " (the default is used)"),
                (issue.hint + "; " if issue.hint else "") + "ccmgr-watch config validate",
            )
        )
    if len(errors) > 5:
        findings.append(
            Finding(
                "config.valid",
                "warn",
                f"{len(errors) - 5} more config problem(s)",
                "ccmgr-watch config validate",
            )
        )
    return findings, effective.config


# --- permissions -----------------------------------------------------------------------------


def _mode_finding(path: str, folder: bool) -> Finding | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    want = 0o700 if folder else 0o600
    kind = "folder" if folder else "file"
    if st.st_uid != os.getuid():
        return Finding(
            "perm.owner",
            "warn",
            f"{path} belongs to uid {st.st_uid}, not you ({os.getuid()})",
            f"chown {os.getuid()} {q(path)}",
        )
    if mode & 0o077:
        who = "written" if mode & 0o022 else "read"
        # Others may write: they could replace the database. A sticky folder (/tmp) stops that.
        replaceable = bool(mode & 0o022) and not (folder and mode & stat.S_ISVTX)
        return Finding(
            "perm.mode",
            "error" if replaceable else "warn",
            f"the {kind} {path} can be {who} by others (mode {mode:04o}; want {want:04o})",
            f"chmod {want:o} {q(path)}",
        )
    return None


def check_permissions(
    db: str,
    config_files: Iterable[str],
    backup_folder: Path | None,
    *,
    database_files: bool = True,
) -> list[Finding]:
    """The database's files and folder, the config files, the backup folder and its files:
    yours, and 0600 / 0700. Without ``database_files`` (a PostgreSQL store: ``db`` is its local
    anchor) only the watcher's status and lock files beside ``db``."""
    suffixes = ("", "-wal", "-shm") if database_files else ()
    files = [db + suffix for suffix in (*suffixes, ".watcher.json", ".watcher.lock")]
    files += list(config_files)
    folders = [os.path.dirname(os.path.abspath(db))]
    if backup_folder is not None and backup_folder.is_dir():
        folders.append(str(backup_folder))
        with contextlib.suppress(OSError):
            files += [str(p) for p in backup_folder.iterdir() if p.is_file()]
    findings = [f for f in (_mode_finding(p, False) for p in files) if f is not None]
    findings += [f for f in (_mode_finding(p, True) for p in folders) if f is not None]
    if findings:
        return findings
    checked = sum(os.path.exists(p) for p in files)
    return [
        Finding(
            "perm.mode",
            "ok",
            f"permissions: {checked} files private (0600), {len(folders)} folders private (0700)",
        )
    ]


# --- backups ---------------------------------------------------------------------------------


def postgres_backups() -> Finding:
    """A PostgreSQL store is backed up by the server's own tools, not by the watcher."""
    return Finding(
        "backup.age",
        "ok",
        "backups: a PostgreSQL store is backed up with its server's tools (pg_dump, the "
        "provider's snapshots); the watcher's scheduled backups are off",
    )


def check_backups(
    config: Any, status: dict[str, Any] | None, running: bool, now: datetime
) -> list[Finding]:
    """The last backup's age against ``backup.schedule``; a failed scheduled backup."""
    from store.errors import CcmgrError
    from watcher.backup.catalog import list_backups
    from watcher.config.rules import backup_interval
    from watcher.config.scopes import backup_folder

    schedule = str(config.backup.schedule)
    folder = backup_folder(config)
    try:
        entries = list_backups(folder)
    except (OSError, CcmgrError) as exc:
        return [Finding("backup.age", "warn", f"cannot list the backups in {folder}: {exc}")]
    interval = backup_interval(schedule)
    every = (
        timedelta(microseconds=interval.nanoseconds // 1000)
        if interval is not None and interval.nanoseconds > 0
        else None
    )
    backup_status = (status or {}).get("backup") if running else None
    findings: list[Finding] = []
    if isinstance(backup_status, dict) and backup_status.get("last_result") == "failed":
        findings.append(
            Finding(
                "backup.failed",
                "error",
                f"the last scheduled backup failed at {backup_status.get('last_at')}: "
                f"{backup_status.get('last_error')}",
                "ccmgr-watch backup create (shows the error in full)",
            )
        )
    if not entries:
        if every is None:
            return [*findings, Finding("backup.age", "ok", "backups: off (backup.schedule)")]
        if running:
            due = (backup_status or {}).get("next_at") or "soon"
            message = f"no backup yet; the watcher makes the first ({schedule}) at {due}"
            return [*findings, Finding("backup.age", "ok", message)]
        return [
            *findings,
            Finding(
                "backup.age",
                "warn",
                f"no backup in {folder} yet (backup.schedule {schedule}; the watcher makes them, "
                "and it is not running)",
                "ccmgr-watch backup create",
            ),
        ]
    newest = entries[-1]
    seconds = (now - newest.created().astimezone(UTC)).total_seconds()
    text = f"last backup {newest.id} ({newest.kind}) {age(seconds)} ago"
    if every is None:
        return [*findings, Finding("backup.age", "ok", f"{text}; scheduled backups are off")]
    # Late by a whole interval (plus the start-up delay and a slow backup): something is wrong.
    if seconds > 2 * every.total_seconds() + 600:
        return [
            *findings,
            Finding(
                "backup.age",
                "warn",
                f"{text}, older than twice backup.schedule ({schedule})",
                "ccmgr-watch backup create"
                + ("" if running else " (and start the watcher, which makes them on schedule)"),
            ),
        ]
    return [*findings, Finding("backup.age", "ok", f"{text} (schedule {schedule})")]
