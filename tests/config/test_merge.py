"""merge.py: scopes laid over each other, and an exported file imported into a scope."""

from __future__ import annotations

from watcher.config.merge import deep_merge, layer, merge_import
from watcher.config.secrets import REDACTED


def test_maps_merge_and_lists_and_scalars_are_replaced() -> None:
    base = {"tmux": {"prefix": "a", "env": {"X": "1"}}, "list": [1, 2]}
    over = {"tmux": {"env": {"Y": "2"}}, "list": [3]}
    assert deep_merge(base, over) == {
        "tmux": {"prefix": "a", "env": {"X": "1", "Y": "2"}},
        "list": [3],
    }
    assert layer([base, over, {"list": []}])["list"] == []


def test_placeholders_keep_the_scopes_value_or_are_left_out() -> None:
    old = {"git": {"github_token": "ghp_real0000", "default_branch": "main"}}
    incoming = {"git": {"github_token": REDACTED, "gitlab_token": REDACTED, "x": "y"}}
    merged = merge_import(old, incoming, replace=False)
    assert merged.tree["git"] == {
        "github_token": "ghp_real0000",
        "default_branch": "main",
        "x": "y",
    }
    assert merged.kept == ["git.github_token"]
    assert merged.left_out == ["git.gitlab_token"]
    replaced = merge_import(old, {"git": {"github_token": REDACTED}}, replace=True)
    assert replaced.tree == {"git": {"github_token": "ghp_real0000"}}
