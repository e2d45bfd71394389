"""Version upgrades: ccmgr-ultra's steps, then ccmgr-watch's; idempotent; comments kept."""

from __future__ import annotations

from watcher.config.migrate import migrate_tree
from watcher.config.yamlio import dump_document, parse_document, to_plain

OLD = """\
# my old config
hooks:
    enabled: true
worktree_config:
    directory_pattern: '{{.Project}}-{{.Branch}}'  # old style
    default_branch: main
claude_command: claude --fast
git_command: git
git:
    directory_pattern: '{{.Project}}-{{.Branch}}'
"""


def test_upgrade_from_0_9_0_to_current() -> None:
    doc = parse_document(OLD)
    steps = migrate_tree(doc.data)
    assert steps[-1] == "version 2.1.0"
    out = dump_document(doc)
    tree = to_plain(doc.data)
    assert list(tree)[:3] == ["version", "status_hooks", "worktree"]
    assert tree["commands"] == {"claude_command": "claude --fast", "git_command": "git"}
    assert tree["worktree"]["base_directory"] == "../.worktrees/{{.Project}}"
    assert tree["worktree"]["directory_pattern"] == "{{.Branch}}"
    assert tree["git"]["directory_pattern"] == "{{.Branch}}"
    assert tree["watcher"]["flush_interval"] == "0s" and tree["search"]["default_limit"] == 20
    assert "# my old config" in out and "# old style" in out
    assert "base_directory: '../.worktrees/{{.Project}}'" in out


def test_migration_is_idempotent() -> None:
    doc = parse_document(OLD)
    migrate_tree(doc.data)
    once = dump_document(doc)
    again = parse_document(once)
    assert migrate_tree(again.data) == []
    assert dump_document(again) == once
    assert to_plain(again.data)["version"] == "2.1.0"


def test_override_scopes_do_not_get_default_sections() -> None:
    doc = parse_document("version: 2.0.0\ntmux:\n    monitor_interval: 5s\n")
    assert migrate_tree(doc.data, add_sections=False) == ["version 2.1.0"]
    assert "watcher" not in doc.data


def test_1_0_0_file_from_the_reference() -> None:
    from tests.config.conftest import GO_WRITTEN

    doc = parse_document(GO_WRITTEN)
    migrate_tree(doc.data)
    tree = to_plain(doc.data)
    assert tree["version"] == "2.1.0"
    assert tree["worktree"]["base_directory"] == "../.worktrees/{{.Project}}"
    # the rest of the file is untouched, byte for byte
    out = dump_document(doc)
    assert "last_modified: 2025-11-20T10:04:05.123456789+01:00\n" in out
    assert '    "n": new_worktree\n' in out
