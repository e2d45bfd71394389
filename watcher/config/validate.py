"""Checking a config tree against the schema: every problem at once, each with its key path.

Three passes, all pure:

1. :func:`check_types` walks plain data against the schema structs: wrong types, bad durations and
   unknown keys (warnings) become issues, and the values that passed are returned ready to convert.
2. :func:`build_config` lays trees over the defaults, converts them to :class:`Config`, and fills
   zero values the way ccmgr-ultra's ``SetDefaults`` does (``timeout: 0`` means 30).
3. ``watcher.config.rules.check_rules`` applies ccmgr-ultra's ``Validate`` rules (its exact
   messages) and ccmgr-watch's own rules for its sections.

Locating an issue in a file (line and column) is the loader's job; issues carry key paths.
"""

from __future__ import annotations

import difflib
import functools
import json
import typing
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol

import msgspec

from store.errors import ConfigError
from store.timefmt import parse_ts
from watcher.config.duration import Duration
from watcher.config.schema import CCMGR_SECTIONS, CURRENT_VERSION, OLD_BOOLS, Config, dec_hook

KeyPath = tuple[str | int, ...]
Severity = Literal["error", "warning"]


class _Locates(Protocol):
    """A parsed file that knows where its keys are (``watcher.config.yamlio.Document``)."""

    filename: str

    def locate(self, path: Sequence[str | int]) -> tuple[int, int]: ...


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

    def located(self, document: _Locates) -> Issue:
        """This issue with the file, line and column of its key in ``document``."""
        line, column = document.locate(self.keys)
        return msgspec.structs.replace(self, file=document.filename, line=line, column=column)

    def render(self) -> str:
        """``config.yaml:14:5: tmux.monitor_interval: <message>`` (plus `` (warning)``)."""
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line or 1}:{self.column or 1}: "
        label = "warning: " if self.severity == "warning" else ""
        path = f"{self.path}: " if self.keys else ""
        return f"{where}{label}{path}{self.message}"


def get_path(tree: Any, keys: Sequence[str | int]) -> Any:
    """The value at ``keys`` in plain data; raises ``KeyError`` when any step is missing."""
    node = tree
    for key in keys:
        found = (isinstance(node, dict) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        )
        if not found:
            raise KeyError(key)
        node = node[key]
    return node


def drop_path(tree: dict[str, Any], keys: KeyPath) -> bool:
    """Remove the value at ``keys`` from plain ``tree`` if it is there; True if it was."""
    node: Any = tree
    for key in keys[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if keys and isinstance(node, dict) and keys[-1] in node:
        del node[keys[-1]]
        return True
    return False


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


DEFAULT_VERSION = "0.9.0"
"""What ccmgr-ultra's ``DetectConfigVersion`` assumes when a file has no ``version``."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"2.0.0"`` → ``(2, 0, 0)``; ccmgr-ultra compares versions as integer triples."""
    parts = text.strip().lstrip("v").split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a version: {text!r}")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def file_version(tree: dict[str, Any]) -> str:
    """The version a file declares, read as ccmgr-ultra does (missing or empty means 0.9.0)."""
    value = tree.get("version")
    if value is None or value == "":
        return DEFAULT_VERSION
    return str(value)


def check_file_tree(raw: dict[str, Any]) -> tuple[dict[str, Any], list[Issue], dict[str, Any]]:
    """Every check of one file's plain data that needs no :class:`Config`: types, durations,
    unknown keys, the version, and booleans ccmgr-ultra overrides. Returns the values that passed,
    the issues, and the keys the schema does not know (kept as written)."""
    tree, issues = check_types(raw)
    issues += check_forced_bools(tree)
    version = file_version(raw)
    if "version" in raw:
        try:
            if parse_version(version) > parse_version(CURRENT_VERSION):
                issues.append(
                    Issue(
                        keys=("version",),
                        message=f"version {version} is newer than this ccmgr-watch "
                        f"understands ({CURRENT_VERSION})",
                        severity="warning",
                        hint="upgrade ccmgr-watch; settings it does not know are kept as written",
                    )
                )
        except ValueError:
            issues.append(
                Issue(
                    keys=("version",),
                    message=f'expected a version like "{CURRENT_VERSION}", got {version!r}',
                    hint="ccmgr-ultra compares versions as three numbers, MAJOR.MINOR.PATCH",
                )
            )
            tree.pop("version", None)
    return tree, issues, unknown_keys(raw)


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


@functools.cache
def _struct_fields(cls: type) -> tuple[msgspec.structs.FieldInfo, ...]:
    # msgspec re-evaluates every annotation on each call (most of the time a merge of three
    # scopes took went here); the schema's structs never change, so ask once per struct.
    return msgspec.structs.fields(cls)


@functools.cache
def _fields(cls: type) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.encode_name: f for f in _struct_fields(cls)}


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
            issues.append(
                _unknown((*keys, key), list(fields), suggest=len(issues) < MAX_SUGGESTIONS)
            )
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


MAX_SUGGESTIONS: Final = 100
"""Problems in a file after which unknown keys get no "did you mean" hint. Finding the closest
known name costs ~0.2 ms a key (difflib); a file with thousands of unknown keys is not a set of
typos, and validating it must not take seconds for hints nobody reads."""


def _unknown(keys: KeyPath, known: list[str], *, suggest: bool = True) -> Issue:
    name = str(keys[-1])
    hint: str
    if keys in _RENAMED:
        hint = (
            f"this is the 0.9.0 name of `{_RENAMED[keys]}`; `ccmgr-watch config migrate` renames it"
        )
    else:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75) if suggest else []
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


def build_config(tree: dict[str, Any], *, fill: bool = True) -> tuple[Config, list[KeyPath]]:
    """A checked tree over the defaults, as a :class:`Config`.

    With ``fill``, zero values in ccmgr-ultra's sections take the default as ``SetDefaults`` does;
    the filled paths are returned so origins can say "default".
    """
    from watcher.config.schema import defaults_tree

    full = overlay_defaults(defaults_tree(), tree, free_map_paths())
    try:
        config = msgspec.convert(full, Config, dec_hook=dec_hook, str_keys=True)
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


@functools.cache
def free_map_paths() -> frozenset[KeyPath]:
    """Paths of the schema's free-form maps (shortcuts, default_env...), replaced not merged
    over their defaults: ccmgr-ultra uses its default shortcuts only when the map is empty."""
    found: set[KeyPath] = set()

    def walk(cls: type, keys: KeyPath) -> None:
        for field in _struct_fields(cls):
            kind = field.type
            if typing.get_origin(kind) is dict:
                found.add((*keys, field.encode_name))
            elif isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                walk(kind, (*keys, field.encode_name))

    walk(Config, ())
    return frozenset(found)


def overlay_defaults(
    defaults: dict[str, Any], tree: dict[str, Any], replace: frozenset[KeyPath], keys: KeyPath = ()
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
        for field in _struct_fields(type(value)):
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
