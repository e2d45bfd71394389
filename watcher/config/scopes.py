"""The pipeline's last steps: checked scope files merged into the effective config, with origins.

Scopes, lowest precedence first: **global** (``$XDG_CONFIG_HOME/ccmgr-ultra/config.yaml``),
**project** (``<repo>/.ccmgr-ultra/config.yaml``, shared with the team) and **user**
(``<repo>/.ccmgr-ultra/config.local.yaml``, personal, not committed). Maps merge key by key; lists
and scalars are replaced. Missing files are simply absent layers.

:func:`load_effective` runs the pipeline in one direction, each step handing the next a value:
read (``readfile``) → check one file (``load``) → merge the scopes (:func:`combine`, pure).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from store.paths import app_dir
from watcher.config.load import CheckedFile, check_document
from watcher.config.locations import SCOPES, Scope, resolve_scopes
from watcher.config.merge import deep_merge, layer
from watcher.config.readfile import config_exists, read_document
from watcher.config.rules import apply_rules
from watcher.config.schema import Config, to_plain
from watcher.config.validate import Issue, KeyPath, get_path


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """Where an effective value came from: a scope's file and line, or the defaults."""

    scope: str  # "global" | "project" | "user" | "default"
    file: str | None = None
    line: int | None = None

    def render(self) -> str:
        """``project (/repo/.ccmgr-ultra/config.yaml:12)`` or ``default``."""
        if self.file is None:
            return self.scope
        return f"{self.scope} ({self.file}:{self.line})"


class Effective:
    """The merged configuration, the files it came from, and where each value came from."""

    def __init__(
        self,
        config: Config,
        tree: dict[str, Any],
        origins: dict[KeyPath, Origin],
        files: dict[Scope, CheckedFile],
        issues: list[Issue],
    ) -> None:
        self.config = config
        self.tree = tree
        self.origins = origins
        self.files = files
        self.issues = issues

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity error, from every file and from the merge."""
        return [i for i in self.issues if i.severity == "error"]

    def fallback(self, issue: Issue) -> str:
        """``issue`` as a warning that says what is used instead of the invalid value."""
        from watcher.config.diff import show
        from watcher.config.secrets import REDACTED, is_secret_key

        text = f"warning: {issue.render()}"
        if not issue.keys:
            return text + " (the file is left out)"
        try:
            value = get_path(self.tree, issue.keys)
        except KeyError:
            return text
        if is_secret_key(issue.keys[-1]) and value:
            value = REDACTED
        origin = self.origins.get(issue.keys)
        source = "the default" if origin is None or origin.scope == "default" else origin.scope
        return f"{text}; using {show(value)} ({source}) instead"


def _leaves(tree: Any, keys: KeyPath = ()) -> list[KeyPath]:
    if isinstance(tree, dict) and tree:
        out: list[KeyPath] = []
        for key, value in tree.items():
            out += _leaves(value, (*keys, key))
        return out
    return [keys]


def _has(tree: Any, keys: KeyPath) -> bool:
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def combine(files: dict[Scope, CheckedFile], unreadable: list[Issue] | None = None) -> Effective:
    """Merge checked scope files (pure): the effective config, its origins and every issue.

    ``unreadable``: issues for scope files that could not be read at all (lenient loading).
    """
    ordered = [files[scope] for scope in SCOPES if scope in files]
    merged = layer([f.tree for f in ordered])
    # Values that are fine alone can break a rule together (batch_size from one file, buffer_size
    # from another): those values are not used either, like any invalid value.
    seen = {(i.keys, i.message) for f in ordered for i in f.issues}
    merged, config, filled, combined = apply_rules(merged, seen)
    extras = layer([f.extras for f in ordered])
    # Unknown keys are part of the effective tree (export keeps them) but not of the Config.
    # The tree shows the values in force (zero values filled as ccmgr-ultra fills them) plus the
    # unknown keys, which are not part of the Config but are kept (export passes them through).
    tree = deep_merge(to_plain(config), extras)
    origins: dict[KeyPath, Origin] = {}
    for keys in _leaves(tree):
        origin = Origin(scope="default")
        for scope in reversed(SCOPES):
            checked = files.get(scope)
            if checked is not None and (_has(checked.tree, keys) or _has(checked.extras, keys)):
                line, _ = checked.document.locate(keys)
                origin = Origin(scope=scope, file=checked.document.filename, line=line)
                break
        origins[keys] = origin
    for keys in filled:
        origins[keys] = Origin(scope="default")
    issues = list(unreadable or [])
    issues += [issue for scope in SCOPES if scope in files for issue in files[scope].issues]
    # Reported at the file the value came from.
    issues += [_locate_merged(issue, files) for issue in combined]
    return Effective(config, tree, origins, files, issues)


def _locate_merged(issue: Issue, files: dict[Scope, CheckedFile]) -> Issue:
    """Locate ``issue`` in the highest scope that sets its path (or the longest prefix of it)."""
    for depth in range(len(issue.keys), 0, -1):
        for scope in reversed(SCOPES):
            checked = files.get(scope)
            if checked is not None and _has(checked.tree, issue.keys[:depth]):
                return issue.located(checked.document)
    return issue


def load_effective(paths: dict[Scope, Path], *, lenient: bool = False) -> Effective:
    """The effective configuration of the given scope files: read, check, merge.

    A file that cannot be read as a config file (a folder, a FIFO, a link loop, malformed
    YAML...) raises ``ConfigError``; with ``lenient`` (the watcher) it is left out and reported as
    an error issue with an empty key path instead.
    """
    from store.errors import ConfigError

    files: dict[Scope, CheckedFile] = {}
    unreadable: list[Issue] = []
    for scope, path in paths.items():
        if config_exists(path):
            try:
                files[scope] = check_document(read_document(path))
            except ConfigError as exc:
                if not lenient:
                    raise
                unreadable.append(Issue(keys=(), message=exc.message, hint=exc.hint))
    return combine(files, unreadable)


def load_config(project_dir: str | os.PathLike[str] | None = None) -> Config:
    """The effective :class:`Config` for the project around the cwd (or ``project_dir``).

    Raises ``ConfigError`` naming the first error (file:line:column) when any file is invalid.
    """
    from store.errors import ConfigError

    effective = load_effective(resolve_scopes(project_dir))
    errors = effective.errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            errors[0].render() + more,
            hint=(errors[0].hint or "fix the value")
            + "; `ccmgr-watch config validate` lists every problem",
        )
    return effective.config


def database_path(config: Config, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database to use: ``--db``, else ``$CCMGR_WATCH_DB``, else ``storage.database``, else
    ``$XDG_CONFIG_HOME/ccmgr-ultra/data.db``."""
    from store.paths import DB_ENV, resolve_db_path

    if explicit or os.environ.get(DB_ENV) or not config.storage.database:
        return resolve_db_path(explicit)
    return Path(config.storage.database).expanduser()


def backup_folder(config: Config) -> Path:
    """``backup.folder``, or ``$XDG_CONFIG_HOME/ccmgr-ultra/backups`` when it is empty."""
    if config.backup.folder:
        return Path(config.backup.folder).expanduser()
    return app_dir() / "backups"
