"""Checking a config tree against the schema: every problem at once, each with its key path.

Three passes, all pure:

1. :func:`check_types` walks plain data against the schema structs: wrong types, bad durations and
   unknown keys (warnings) become issues, and the values that passed are returned ready to convert.
2. :func:`build_config` lays trees over the defaults, converts them to :class:`Config`, and fills
   zero values the way ccmgr-ultra's ``SetDefaults`` does (``timeout: 0`` means 30).
3. :func:`check_rules` applies ccmgr-ultra's ``Validate`` rules, with its exact messages, and
   ccmgr-watch's own rules for its sections.

Locating an issue in a file (line and column) is the loader's job; issues carry key paths.
"""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

import msgspec

from store.errors import ConfigError
from store.timefmt import parse_ts
from watcher.config.duration import MINUTE, SECOND, Duration
from watcher.config.schema import CCMGR_SECTIONS, Config, dec_hook
from watcher.config.yamlio import OLD_BOOLS

KeyPath = tuple[str | int, ...]
Severity = Literal["error", "warning"]


class Issue(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found in a config file, with where it is and how to fix it."""

    keys: tuple[str | int, ...]
    message: str
    severity: Severity = "error"
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def path(self) -> str:
        """The dotted key path (``tmux.monitor_interval``, ``git.protected_branches[1]``)."""
        return dotted(self.keys)

    def render(self) -> str:
        """``config.yaml:14:5: tmux.monitor_interval: <message>`` (plus `` (warning)``)."""
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line or 1}:{self.column or 1}: "
        label = "warning: " if self.severity == "warning" else ""
        path = f"{self.path}: " if self.keys else ""
        return f"{where}{label}{path}{self.message}"


def dotted(keys: Sequence[str | int]) -> str:
    """``("git", "protected_branches", 1)`` → ``git.protected_branches[1]``."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


_INVALID: Final = object()
DURATION_HINT: Final = 'use Go duration units ns, us, ms, s, m, h, e.g. "500ms", "2s", "1h30m0s"'


def check_types(tree: dict[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """Check plain data against :class:`Config`; returns the values that passed, and the issues."""
    issues: list[Issue] = []
    clean = _check_struct(tree, Config, (), issues)
    assert isinstance(clean, dict)
    if clean.get("last_modified"):
        try:
            parse_ts(clean["last_modified"])
        except ValueError:
            issues.append(
                Issue(
                    keys=("last_modified",),
                    message="expected an RFC 3339 timestamp like "
                    f"2025-06-21T23:03:13.256298-07:00, got {_show(clean['last_modified'])}",
                    hint="ccmgr-ultra rewrites it on every save; delete the line",
                )
            )
            del clean["last_modified"]
    return clean, issues


def unknown_keys(tree: dict[str, Any], cls: type = Config) -> dict[str, Any]:
    """The part of ``tree`` the schema does not know (kept and passed through as written)."""
    fields = _fields(cls)
    extras: dict[str, Any] = {}
    for key, value in tree.items():
        field = fields.get(key)
        if field is None:
            extras[key] = value
        elif (
            isinstance(value, dict)
            and isinstance(field.type, type)
            and issubclass(field.type, msgspec.Struct)
        ):
            inner = unknown_keys(value, field.type)
            if inner:
                extras[key] = inner
    return extras


def _fields(cls: type) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.encode_name: f for f in msgspec.structs.fields(cls)}


def _check_struct(value: Any, cls: type, keys: KeyPath, issues: list[Issue]) -> Any:
    if not isinstance(value, dict):
        issues.append(
            Issue(
                keys=keys,
                message=f"expected a mapping of settings, got {_show(value)}",
                hint="indent the settings under this key, one `name: value` a line",
            )
        )
        return _INVALID
    fields = _fields(cls)
    clean: dict[str, Any] = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            issues.append(_unknown((*keys, key), list(fields)))
            continue
        if item is None:  # yaml.v3 leaves the zero value; the default applies
            continue
        checked = _check_value(item, field.type, (*keys, key), issues)
        if checked is not _INVALID:
            clean[key] = checked
    return clean


_RENAMED: Final = {
    ("hooks",): "status_hooks",
    ("worktree_config",): "worktree",
    ("claude_command",): "commands.claude_command",
    ("git_command",): "commands.git_command",
    ("tmux_prefix",): "commands.tmux_prefix",
}


def _unknown(keys: KeyPath, known: list[str]) -> Issue:
    name = str(keys[-1])
    hint: str
    if keys in _RENAMED:
        hint = (
            f"this is the 0.9.0 name of `{_RENAMED[keys]}`; `ccmgr-watch config migrate` renames it"
        )
    else:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "ccmgr-ultra and ccmgr-watch ignore it; it is kept as written"
        )
    return Issue(keys=keys, message="unknown key", severity="warning", hint=hint)


def _check_value(value: Any, kind: Any, keys: KeyPath, issues: list[Issue]) -> Any:
    origin = typing.get_origin(kind)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return _check_struct(value, kind, keys, issues)
    if origin is list:
        if not isinstance(value, list):
            issues.append(
                Issue(
                    keys=keys,
                    message=f"expected a list, got {_show(value)}",
                    hint="write one `- item` a line under the key, or [a, b]",
                )
            )
            return _INVALID
        items = [_check_value(v, str, (*keys, i), issues) for i, v in enumerate(value)]
        return [v for v in items if v is not _INVALID]
    if origin is dict:
        if not isinstance(value, dict):
            issues.append(
                Issue(
                    keys=keys,
                    message=f"expected a mapping of names to strings, got {_show(value)}",
                    hint="write one `name: value` a line under the key, or {} for none",
                )
            )
            return _INVALID
        result: dict[str, str] = {}
        for k, v in value.items():
            checked = "" if v is None else _check_value(v, str, (*keys, k), issues)
            if checked is not _INVALID:
                result[str(k)] = checked
        return result
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in OLD_BOOLS:
            # yaml.v3 still accepts YAML 1.1 booleans when the target is a bool.
            return value.lower() in ("y", "yes", "true", "on")
        return _bad(keys, "true or false", value, "write true or false", issues)
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        hint = "write the number without quotes" if _numeric(value) else "write a whole number"
        return _bad(keys, "a whole number", value, hint, issues)
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return _bad(keys, "a number", value, "write a number, e.g. 5.0", issues)
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):  # yaml.v3 decodes any scalar into a string field
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return _bad(keys, "a string", value, "write a single value, quoted if unsure", issues)
    if kind is Duration:
        if isinstance(value, str):
            try:
                Duration.parse(value)
            except ValueError:
                return _bad(keys, 'a duration like "2s"', value, DURATION_HINT, issues)
            return value  # kept as written: the tree stays plain data, and round-trips exactly
        if isinstance(value, int | float) and not isinstance(value, bool):
            # yaml.v3 (unlike v2) refuses bare integers for durations; so do we.
            return _bad(
                keys,
                'a duration like "2s"',
                value,
                f'Go durations need a unit: write "{value}s" for {value} seconds',
                issues,
            )
        return _bad(keys, 'a duration like "2s"', value, DURATION_HINT, issues)
    raise TypeError(f"schema type {kind!r} is not handled")  # a bug in schema.py


def _numeric(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lstrip("-+").isdigit()


def _bad(keys: KeyPath, expected: str, value: Any, hint: str, issues: list[Issue]) -> Any:
    issues.append(Issue(keys=keys, message=f"expected {expected}, got {_show(value)}", hint=hint))
    return _INVALID


# --- building the typed config -----------------------------------------------------------------


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: maps merge key by key; lists and scalars are replaced."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def build_config(
    layers: Iterable[dict[str, Any]], *, fill: bool = True
) -> tuple[Config, list[KeyPath]]:
    """Checked trees (lowest precedence first) over the defaults, as a :class:`Config`.

    With ``fill``, zero values in ccmgr-ultra's sections take the default as ``SetDefaults`` does;
    the filled paths are returned so origins can say "default".
    """
    from watcher.config.schema import defaults_tree

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    tree = overlay_defaults(defaults_tree(), merged, free_map_paths())
    try:
        config = msgspec.convert(tree, Config, dec_hook=dec_hook, str_keys=True)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        # check_types lets only convertible values through; reaching this is a bug, but the
        # user should still see a config error rather than a traceback.
        raise ConfigError(
            f"cannot build the configuration: {exc}",
            hint="run `ccmgr-watch config validate`; please report this as a bug",
        ) from None
    filled: list[KeyPath] = []
    if fill:
        defaults = Config()
        for name in CCMGR_SECTIONS:
            _fill(config, defaults, name, (name,), filled)
    return config, filled


def free_map_paths() -> set[KeyPath]:
    """Paths of the schema's free-form maps (shortcuts, default_env...), replaced not merged
    over their defaults: ccmgr-ultra uses its default shortcuts only when the map is empty."""
    found: set[KeyPath] = set()

    def walk(cls: type, keys: KeyPath) -> None:
        for field in msgspec.structs.fields(cls):
            kind = field.type
            if typing.get_origin(kind) is dict:
                found.add((*keys, field.encode_name))
            elif isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                walk(kind, (*keys, field.encode_name))

    walk(Config, ())
    return found


def overlay_defaults(
    defaults: dict[str, Any], tree: dict[str, Any], replace: set[KeyPath], keys: KeyPath = ()
) -> dict[str, Any]:
    """``tree`` over ``defaults``; the free-form maps at ``replace`` paths replace their default."""
    result = dict(defaults)
    for key, value in tree.items():
        here = (*keys, key)
        if isinstance(value, dict) and isinstance(result.get(key), dict) and here not in replace:
            result[key] = overlay_defaults(result[key], value, replace, here)
        else:
            result[key] = value
    return result


def _zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False  # booleans are never "unset"; see FORCED_BOOLS for what ccmgr-ultra does
    if isinstance(value, Duration):
        return value.nanoseconds == 0
    if isinstance(value, str | int | float | list | dict):
        return not value
    return False


def _fill(obj: Any, defaults: Any, name: str, keys: KeyPath, filled: list[KeyPath]) -> None:
    value = getattr(obj, name)
    default = getattr(defaults, name)
    if isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            _fill(value, default, field.name, (*keys, field.encode_name), filled)
    elif _zero(value) and not _zero(default):
        setattr(obj, name, default)
        filled.append(keys)


FORCED_BOOLS: Final[dict[KeyPath, bool]] = {
    **{
        (section, hook, flag): True
        for section, hooks in (
            ("status_hooks", ("idle", "busy", "waiting")),
            ("worktree_hooks", ("creation", "activation")),
        )
        for hook in hooks
        for flag in ("enabled", "async")
    },
    ("status_hooks", "enabled"): True,
    ("worktree_hooks", "enabled"): True,
    **{
        ("claude", flag): True
        for flag in (
            "enabled",
            "enable_log_parsing",
            "enable_resource_monitoring",
            "integrate_tmux",
            "integrate_worktrees",
        )
    },
    **{("tui", flag): True for flag in ("mouse_support", "show_status_bar", "show_key_help")},
    ("tui", "auto_refresh"): True,
    ("tui", "confirm_quit"): False,
    ("tui", "debug_mode"): False,
    ("analytics", "enabled"): True,
    ("analytics", "collector", "enable_metrics"): True,
    ("analytics", "engine", "batch_processing"): True,
    ("analytics", "engine", "precompute_daily"): True,
    **{
        ("analytics", "hooks", flag): True
        for flag in (
            "enabled",
            "capture_state_changes",
            "capture_worktree_events",
            "capture_session_events",
        )
    },
    ("analytics", "retention", "enable_auto_cleanup"): True,
    ("analytics", "performance", "enable_monitoring"): True,
}
"""Booleans ccmgr-ultra's ``SetDefaults`` overwrites on every load, and the value it forces."""


def check_forced_bools(tree: dict[str, Any]) -> list[Issue]:
    """Warnings for booleans whose written value ccmgr-ultra overrides when it loads the file."""
    issues = []
    for keys, forced in FORCED_BOOLS.items():
        node: Any = tree
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, bool) and node != forced:
            word = "true" if forced else "false"
            issues.append(
                Issue(
                    keys=keys,
                    message=f"ccmgr-ultra ignores this value and always uses {word}",
                    severity="warning",
                    hint="its SetDefaults overwrites it on every load; ccmgr-watch keeps it as "
                    "written",
                )
            )
    return issues


# --- the rules -------------------------------------------------------------------------------

_SCREENS: Final = ("dashboard", "sessions", "worktrees", "config", "help")
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
SCHEDULES: Final = {"hourly": 3600 * SECOND, "daily": 86400 * SECOND, "weekly": 7 * 86400 * SECOND}
COMPRESSIONS: Final = ("none", "gzip")
ENCRYPTIONS: Final = ("none", "passphrase")


class _Rules:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, keys: KeyPath, message: str, hint: str | None = None) -> None:
        hint = hint or "fix the value, or delete the line to use the default"
        self.issues.append(Issue(keys=keys, message=message, hint=hint))


def _template(text: str) -> bool:
    return "{{" in text and "}}" in text


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
    if w.flush_interval.nanoseconds <= 0:
        r.add(("watcher", "flush_interval"), "flush interval must be positive", 'e.g. "1s"')
    elif w.flush_interval.nanoseconds > MINUTE:
        r.add(("watcher", "flush_interval"), "flush interval cannot exceed 1m0s", 'e.g. "1s"')
    if w.batch_size < 1:
        r.add(("watcher", "batch_size"), "batch size must be at least 1", "e.g. 500")
    elif w.batch_size > 100_000:
        r.add(("watcher", "batch_size"), "batch size cannot exceed 100000", "e.g. 500")
    if w.log_level not in _LOG_LEVELS:
        r.add(
            ("watcher", "log_level"),
            f"invalid log level: {w.log_level}",
            "one of " + ", ".join(_LOG_LEVELS),
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
    elif b.encryption == "passphrase" and not b.passphrase_file:
        r.add(
            ("backup", "passphrase_file"),
            "passphrase file is required when encryption is passphrase",
            "point it at a 0600 file holding the passphrase",
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
