"""Upgrading a config file's layout, version by version, in place on its round-trip tree.

The steps are ccmgr-ultra's (``internal/config/migration.go``) and then ccmgr-watch's own:

* 0.9.0 → 1.0.0: ``hooks`` → ``status_hooks``, ``worktree_config`` → ``worktree``, and the flat
  ``claude_command``/``git_command``/``tmux_prefix`` move under ``commands``;
* 1.0.0 → 2.0.0: ``worktree.base_directory`` is added and a ``directory_pattern`` of
  ``{{.Project}}-{{.Branch}}`` becomes ``{{.Branch}}`` (in ``worktree`` and ``git``);
* 2.0.0 → 2.1.0: ccmgr-watch's ``storage``, ``watcher``, ``backup`` and ``search`` sections are
  added with their defaults, so users can see and edit them.

Every step only renames or adds, never overwrites what the user wrote, so running it twice is the
same as running it once. Pure: the caller reads and writes the file.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Final

from ruamel.yaml.comments import CommentedMap

from store.errors import ConfigError
from watcher.config.schema import (
    CURRENT_VERSION,
    BackupConfig,
    SearchConfig,
    StorageConfig,
    WatcherConfig,
    WorktreeConfig,
    to_plain,
)
from watcher.config.validate import file_version, parse_version
from watcher.config.yamlio import to_node

Tree = MutableMapping[str, Any]


def _rename(tree: Tree, old: str, new: str) -> bool:
    if old not in tree or new in tree:
        return False  # a file with both keeps both; the old one is reported as unknown
    if isinstance(tree, CommentedMap):
        position = list(tree).index(old)
        tree.insert(position, new, tree.pop(old))
    else:
        tree[new] = tree.pop(old)
    return True


def _to_1_0_0(tree: Tree) -> list[str]:
    done = []
    for old, new in (("hooks", "status_hooks"), ("worktree_config", "worktree")):
        if _rename(tree, old, new):
            done.append(f"renamed {old} to {new}")
    for key in ("claude_command", "git_command", "tmux_prefix"):
        if key not in tree:
            continue
        commands = tree.get("commands")
        if commands is None:
            commands = CommentedMap() if isinstance(tree, CommentedMap) else {}
            if isinstance(tree, CommentedMap):
                tree.insert(list(tree).index(key), "commands", commands)
            else:
                tree["commands"] = commands
        if not isinstance(commands, MutableMapping) or key in commands:
            continue
        commands[key] = tree.pop(key)
        done.append(f"moved {key} to commands.{key}")
    return done


_OLD_PATTERN: Final = "{{.Project}}-{{.Branch}}"


def _to_2_0_0(tree: Tree) -> list[str]:
    done = []
    worktree = tree.get("worktree")
    if isinstance(worktree, MutableMapping) and "base_directory" not in worktree:
        worktree["base_directory"] = to_node(WorktreeConfig().base_directory)
        done.append("added worktree.base_directory")
    for section in ("worktree", "git"):
        node = tree.get(section)
        if isinstance(node, MutableMapping) and node.get("directory_pattern") == _OLD_PATTERN:
            node["directory_pattern"] = to_node("{{.Branch}}")
            done.append(f"changed {section}.directory_pattern to {{{{.Branch}}}}")
    return done


def _to_2_1_0(tree: Tree) -> list[str]:
    done = []
    sections: tuple[tuple[str, Any], ...] = (
        ("storage", StorageConfig()),
        ("watcher", WatcherConfig()),
        ("backup", BackupConfig()),
        ("search", SearchConfig()),
    )
    for name, default in sections:
        if name not in tree:
            tree[name] = to_node(to_plain(default))
            done.append(f"added the {name} section with its defaults")
    return done


STEPS: Final[tuple[tuple[str, Callable[[Tree], list[str]]], ...]] = (
    ("1.0.0", _to_1_0_0),
    ("2.0.0", _to_2_0_0),
    (CURRENT_VERSION, _to_2_1_0),
)


def _set_version(tree: Tree, version: str) -> None:
    if "version" in tree:
        tree["version"] = version
    elif isinstance(tree, CommentedMap):
        tree.insert(0, "version", version)
    else:
        tree["version"] = version


def migrate_tree(tree: Tree, *, add_sections: bool = True) -> list[str]:
    """Upgrade ``tree`` in place to :data:`CURRENT_VERSION`; returns what was done (empty if
    nothing). A file newer than this ccmgr-watch is left alone.

    ``add_sections=False`` skips writing ccmgr-watch's sections with their defaults: in an
    override scope (project, user) they would shadow the global file's values.
    """
    text = file_version(dict(tree))
    try:
        current = parse_version(text)
    except ValueError:
        raise ConfigError(
            f"version: cannot migrate from {text!r}: not a version",
            hint=f'set `version:` to the version the file follows, e.g. "{CURRENT_VERSION}"',
        ) from None
    done: list[str] = []
    for version, step in STEPS:
        if current < parse_version(version):
            if step is not _to_2_1_0 or add_sections:
                done += step(tree)
            _set_version(tree, version)
            done.append(f"version {version}")
            current = parse_version(version)
    return done
