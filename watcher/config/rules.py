"""ccmgr-ultra's ``Config.Validate`` rules, with its exact messages, and ccmgr-watch's own.

Rules run on a typed, zero-filled :class:`Config` (as ccmgr-ultra validates after ``SetDefaults``)
and return issues with key paths; locating them in a file is the loader's job. Pure.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import msgspec

from watcher.config.duration import MINUTE, SECOND, Duration
from watcher.config.schema import Config
from watcher.config.validate import Issue, KeyPath, build_config, drop_path

_SCREENS: Final = ("dashboard", "sessions", "worktrees", "config", "help")
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
SCHEDULES: Final = {"hourly": 3600 * SECOND, "daily": 86400 * SECOND, "weekly": 7 * 86400 * SECOND}
COMPRESSIONS: Final = ("none", "gzip", "zstd")
ENCRYPTIONS: Final = ("none", "age", "passphrase")
STORAGE_MODES: Final = ("sqlite", "dual")


class _Rules:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, keys: KeyPath, message: str, hint: str | None = None) -> None:
        hint = hint or "fix the value, or delete the line to use the default"
        self.issues.append(Issue(keys=keys, message=message, hint=hint))


def _template(text: str) -> bool:
    return "{{" in text and "}}" in text


def apply_rules(
    tree: dict[str, Any], reported: set[tuple[KeyPath, str]] | None = None
) -> tuple[dict[str, Any], Config, list[KeyPath], list[Issue]]:
    """A checked tree's :class:`Config` with the rules applied: a value that breaks one is not
    used (docs/config.md, "Invalid values"), so it is left out of the tree (a copy, when any is)
    and of the Config. Returns the tree, the Config, the paths filled with defaults, and the
    issues; issues already ``reported`` (keys, message) are neither reported nor dropped again.
    """
    config, filled = build_config(tree)
    issues = [i for i in check_rules(config) if (i.keys, i.message) not in (reported or set())]
    if issues:
        tree = copy.deepcopy(tree)  # callers' trees can share subtrees with other files' trees
        for issue in issues:
            drop_path(tree, issue.keys)
        config, filled = build_config(tree)
    return tree, config, filled, issues


def check_rules(config: Config) -> list[Issue]:
    """ccmgr-ultra's ``Config.Validate`` rules (its exact messages) and ccmgr-watch's own."""
    r = _Rules()
    if not config.version:
        r.add(("version",), "config version is required", 'write `version: "2.1.0"`')
    for key, action in config.shortcuts.items():
        if not key:
            r.add(("shortcuts", key), "shortcut key cannot be empty", "name the key, e.g. n")
        elif not action:
            r.add(
                ("shortcuts", key),
                f"shortcut action for key '{key}' cannot be empty",
                "set an action such as new_worktree, or delete the line",
            )
    hooks = (
        ("status_hooks", "idle", config.status_hooks.idle),
        ("status_hooks", "busy", config.status_hooks.busy),
        ("status_hooks", "waiting", config.status_hooks.waiting),
        ("worktree_hooks", "creation", config.worktree_hooks.creation),
        ("worktree_hooks", "activation", config.worktree_hooks.activation),
    )
    for section, name, hook in hooks:
        keys = (section, name)
        if hook.enabled and not hook.script:
            r.add(
                (*keys, "script"),
                "hook script path is required when hook is enabled",
                "set script to an executable, or enabled: false",
            )
        if hook.timeout < 0:
            r.add((*keys, "timeout"), "hook timeout cannot be negative", "seconds, 1 to 300")
        elif hook.timeout > 300:
            r.add((*keys, "timeout"), "hook timeout cannot exceed 300 seconds", "use 1 to 300")
    _check_patterns(r, "worktree", config.worktree.auto_directory, config.worktree)
    wt = config.worktree
    if not wt.default_branch:
        r.add(("worktree", "default_branch"), "default branch is required", "e.g. main")
    if wt.auto_directory and not wt.base_directory:
        r.add(
            ("worktree", "base_directory"),
            "base directory is required when auto directory is enabled",
            'e.g. "../.worktrees/{{.Project}}"',
        )
    # [inferred] ccmgr-ultra's exact test is not recorded; an unbalanced template is surely wrong.
    if ("{{" in wt.base_directory) != ("}}" in wt.base_directory):
        r.add(
            ("worktree", "base_directory"),
            "base directory template must contain valid template variables like {{.Project}}",
            'e.g. "../.worktrees/{{.Project}}"',
        )
    cmd = config.commands
    for key, label in (
        ("claude_command", "claude command is required"),
        ("git_command", "git command is required"),
        ("tmux_prefix", "tmux prefix is required"),
    ):
        if not getattr(cmd, key):
            r.add(("commands", key), label, "set it, or delete the line for the default")
    for key, value in cmd.environment.items():
        env_keys: KeyPath = ("commands", "environment", key)
        if not key:
            r.add(env_keys, "environment variable key cannot be empty", "name the variable")
        elif "=" in key:
            r.add(
                env_keys,
                f"environment variable key '{key}' cannot contain '='",
                "write NAME: value",
            )
        elif not value:
            r.add(env_keys, f"environment variable '{key}' cannot have empty value", "set a value")
    tmux = config.tmux
    if not tmux.session_prefix:
        r.add(("tmux", "session_prefix"), "tmux session prefix is required", "e.g. ccmgr")
    if tmux.max_session_name < 0:
        r.add(("tmux", "max_session_name"), "max session name length cannot be negative", "e.g. 50")
    _negative(r, ("tmux", "monitor_interval"), tmux.monitor_interval, "monitor interval")
    _negative(r, ("tmux", "cleanup_age"), tmux.cleanup_age, "cleanup age")
    git = config.git
    if not git.default_branch:
        r.add(("git", "default_branch"), "default branch is required", "e.g. main")
    _check_patterns(r, "git", git.auto_directory, git)
    if git.max_worktrees < 0:
        r.add(("git", "max_worktrees"), "max worktrees cannot be negative", "e.g. 10")
    _negative(r, ("git", "cleanup_age"), git.cleanup_age, "cleanup age")
    for i, branch in enumerate(git.protected_branches):
        if not branch:
            r.add(("git", "protected_branches", i), "protected branch name cannot be empty")
    if not git.default_remote:
        r.add(("git", "default_remote"), "default remote is required", "e.g. origin")
    cl = config.claude
    if cl.poll_interval.nanoseconds < 0:
        r.add(("claude", "poll_interval"), "poll interval cannot be negative", 'e.g. "3s"')
    elif cl.poll_interval.nanoseconds < SECOND:
        r.add(("claude", "poll_interval"), "poll interval must be at least 1 second", 'e.g. "3s"')
    if cl.max_processes < 0:
        r.add(("claude", "max_processes"), "max processes cannot be negative", "e.g. 10")
    elif cl.max_processes > 100:
        r.add(("claude", "max_processes"), "max processes cannot exceed 100", "use 1 to 100")
    _negative(r, ("claude", "cleanup_interval"), cl.cleanup_interval, "cleanup interval")
    _negative(r, ("claude", "state_timeout"), cl.state_timeout, "state timeout")
    _negative(r, ("claude", "startup_timeout"), cl.startup_timeout, "startup timeout")
    for i, path in enumerate(cl.log_paths):
        if not path:
            r.add(("claude", "log_paths", i), "log path cannot be empty", "delete the empty item")
    for key, pattern in cl.state_patterns.items():
        if not key:
            r.add(("claude", "state_patterns", key), "state pattern key cannot be empty")
        elif not pattern:
            r.add(("claude", "state_patterns", key), f"state pattern for '{key}' cannot be empty")
    tui = config.tui
    if tui.refresh_interval < 1:
        r.add(("tui", "refresh_interval"), "refresh interval must be at least 1 second", "e.g. 5")
    if tui.default_screen not in _SCREENS:
        r.add(
            ("tui", "default_screen"),
            f"invalid default screen: {tui.default_screen}",
            "one of " + ", ".join(_SCREENS),
        )
    _check_analytics(r, config)
    _check_watch(r, config)
    return r.issues


def _negative(r: _Rules, keys: KeyPath, value: Duration, label: str) -> None:
    if value.nanoseconds < 0:
        r.add(keys, f"{label} cannot be negative", "durations here are zero or more")


def _check_patterns(r: _Rules, section: str, auto: bool, obj: Any) -> None:
    pattern: str = obj.directory_pattern
    keys = (section, "directory_pattern")
    if auto and not pattern:
        r.add(
            keys,
            "directory pattern is required when auto directory is enabled",
            'e.g. "{{.Branch}}"',
        )
    elif pattern and not _template(pattern):
        r.add(
            keys,
            "directory pattern must contain template variables like {{.Project}} or {{.Branch}}",
            'e.g. "{{.Project}}-{{.Branch}}"',
        )


def _check_analytics(r: _Rules, config: Config) -> None:
    col = config.analytics.collector
    keys = ("analytics", "collector")
    if col.poll_interval.nanoseconds < SECOND:
        r.add((*keys, "poll_interval"), "poll interval must be at least 1 second", 'e.g. "30s"')
    if col.buffer_size <= 0:
        r.add((*keys, "buffer_size"), "buffer size must be positive", "e.g. 1000")
    if col.batch_size <= 0:
        r.add((*keys, "batch_size"), "batch size must be positive", "e.g. 50")
    elif col.buffer_size > 0 and col.batch_size > col.buffer_size:
        r.add(
            (*keys, "batch_size"),
            "batch size cannot exceed buffer size",
            f"use at most buffer_size ({col.buffer_size})",
        )
    if col.retention_days < 0:
        r.add((*keys, "retention_days"), "retention days cannot be negative", "e.g. 90")
    eng = config.analytics.engine
    if eng.cache_size < 0:
        r.add(("analytics", "engine", "cache_size"), "cache size cannot be negative")
    _negative(r, ("analytics", "engine", "cache_ttl"), eng.cache_ttl, "cache TTL")
    ret = config.analytics.retention
    if ret.session_events_days < 0:
        r.add(
            ("analytics", "retention", "session_events_days"),
            "session events days cannot be negative",
        )
    if ret.aggregated_data_days < 0:
        r.add(
            ("analytics", "retention", "aggregated_data_days"),
            "aggregated data days cannot be negative",
        )
    _negative(
        r, ("analytics", "retention", "cleanup_interval"), ret.cleanup_interval, "cleanup interval"
    )
    perf = config.analytics.performance
    keys = ("analytics", "performance")
    if perf.max_cpu_usage < 0:
        r.add((*keys, "max_cpu_usage"), "max CPU usage cannot be negative", "a percentage")
    elif perf.max_cpu_usage > 100:
        r.add((*keys, "max_cpu_usage"), "max CPU usage cannot exceed 100%", "a percentage")
    if perf.max_memory_usage_mb < 0:
        r.add((*keys, "max_memory_usage_mb"), "max memory usage cannot be negative", "in MB")
    _negative(r, (*keys, "max_query_time"), perf.max_query_time, "max query time")


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def valid_host(host: str) -> bool:
    """Whether ``host`` can name a machine in the store: it becomes part of server keys
    (``<socket>#<pid>@<start>@<host>``), so no ``#``, ``@``, ``/`` or spaces."""
    return 0 < len(host) <= 253 and set(host) <= _HOST_CHARS


def _check_watch(r: _Rules, config: Config) -> None:
    w = config.watcher
    for i, name in enumerate(w.socket_names):
        keys = ("watcher", "socket_names", i)
        if not name:
            r.add(keys, "socket name cannot be empty", "delete the empty item")
        elif "/" in name:
            r.add(keys, "socket name cannot contain '/'", "put socket paths under socket_paths")
    for i, path in enumerate(w.socket_paths):
        keys = ("watcher", "socket_paths", i)
        if not path:
            r.add(keys, "socket path cannot be empty", "delete the empty item")
        elif not path.startswith(("/", "~")):
            r.add(keys, "socket path must be absolute", "start it with / or ~")
    for label, items in (("socket_names", w.socket_names), ("socket_paths", w.socket_paths)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item and item in seen:
                r.add(("watcher", label, i), f"{item!r} is listed twice", "delete the repeat")
            seen.add(item)
    if w.flush_interval.nanoseconds < 0:
        r.add(
            ("watcher", "flush_interval"),
            "flush interval cannot be negative",
            '"0s" commits every event at once; e.g. "100ms" gathers bigger batches',
        )
    elif w.flush_interval.nanoseconds > MINUTE:
        r.add(("watcher", "flush_interval"), "flush interval cannot exceed 1m0s", 'e.g. "100ms"')
    if not 0 <= w.nice <= 19:
        r.add(("watcher", "nice"), f"nice must be between 0 and 19, not {w.nice}", "e.g. 10")
    if w.batch_size < 1:
        r.add(("watcher", "batch_size"), "batch size must be at least 1", "e.g. 500")
    elif w.batch_size > 100_000:
        r.add(("watcher", "batch_size"), "batch size cannot exceed 100000", "e.g. 500")
    if w.host and not valid_host(w.host):
        r.add(
            ("watcher", "host"),
            f"invalid host name: {w.host!r}",
            'letters, digits, ".", "-" and "_" (at most 253); "" uses the machine\'s hostname',
        )
    if w.log_level not in _LOG_LEVELS:
        r.add(
            ("watcher", "log_level"),
            f"invalid log level: {w.log_level}",
            "one of " + ", ".join(_LOG_LEVELS),
        )
    s = config.storage
    if s.mode not in STORAGE_MODES:
        r.add(
            ("storage", "mode"),
            f"invalid storage mode: {s.mode}",
            "sqlite (the database only) or dual (also keep tmux.state_file current)",
        )
    if not 1 <= s.json_backup_days <= 3650:
        r.add(
            ("storage", "json_backup_days"),
            f"json_backup_days must be between 1 and 3650, not {s.json_backup_days}",
            "e.g. 30",
        )
    b = config.backup
    if backup_interval(b.schedule) is _INVALID_SCHEDULE:
        r.add(
            ("backup", "schedule"),
            f"invalid schedule: {b.schedule}",
            'off, hourly, daily, weekly, or a Go duration of at least 1m such as "12h"',
        )
    if b.compression not in COMPRESSIONS:
        r.add(
            ("backup", "compression"),
            f"invalid compression: {b.compression}",
            "one of " + ", ".join(COMPRESSIONS),
        )
    if b.encryption not in ENCRYPTIONS:
        r.add(
            ("backup", "encryption"),
            f"invalid encryption: {b.encryption}",
            "one of " + ", ".join(ENCRYPTIONS),
        )
    elif b.encryption == "passphrase" and not (b.passphrase_file or b.passphrase_env):
        r.add(
            ("backup", "passphrase_file"),
            "passphrase file is required when encryption is passphrase",
            "point it at a 0600 file holding the passphrase (or set passphrase_env)",
        )
    if b.passphrase_env and not b.passphrase_env.replace("_", "").isalnum():
        r.add(
            ("backup", "passphrase_env"),
            f"invalid environment variable name: {b.passphrase_env}",
            "e.g. CCMGR_WATCH_BACKUP_PASSPHRASE",
        )
    for field in msgspec.structs.fields(b.retention):
        if getattr(b.retention, field.name) < 0:
            r.add(
                ("backup", "retention", field.encode_name),
                f"{field.encode_name} cannot be negative",
                "0 turns that rule off",
            )
    limit = config.search.default_limit
    if limit < 1:
        r.add(("search", "default_limit"), "default limit must be at least 1", "e.g. 20")
    elif limit > 10_000:
        r.add(("search", "default_limit"), "default limit cannot exceed 10000", "e.g. 20")


_INVALID_SCHEDULE: Final = Duration(-1)


def backup_interval(schedule: str) -> Duration | None:
    """The time between backups for a ``backup.schedule`` value; ``None`` for ``off``.

    Returns ``Duration(-1)`` for a value that is not a schedule (the validator reports it).
    """
    if schedule == "off":
        return None
    if schedule in SCHEDULES:
        return Duration(SCHEDULES[schedule])
    try:
        interval = Duration.parse(schedule)
    except ValueError:
        return _INVALID_SCHEDULE
    return interval if interval.nanoseconds >= MINUTE else _INVALID_SCHEDULE
