"""Scopes: finding the project, layering, origins."""

from __future__ import annotations

from pathlib import Path

from tests.config.conftest import write
from watcher.config.locations import find_project_folder, resolve_scopes
from watcher.config.scopes import load_effective


def test_find_project_folder(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub" / "deep").mkdir(parents=True)
    deep = str(tmp_path / "repo" / "sub" / "deep")
    assert find_project_folder(deep) == str((tmp_path / "repo").resolve())
    (tmp_path / "repo" / "sub" / ".ccmgr-ultra").mkdir()
    assert find_project_folder(deep) == str((tmp_path / "repo" / "sub").resolve())


def test_layers_merge_and_say_where_values_came_from(home: Path) -> None:
    paths = resolve_scopes()
    write(
        paths["global"],
        "tmux:\n    monitor_interval: 3s\n    session_prefix: g\nshortcuts:\n    a: x\n",
    )
    write(
        paths["project"],
        "tmux:\n    session_prefix: p\nshortcuts:\n    b: y\n"
        "git:\n    protected_branches: [a, b]\n",
    )
    write(paths["user"], "git:\n    protected_branches: [c]\nwatcher:\n    batch_size: 50\n")
    effective = load_effective(paths)
    config = effective.config
    assert str(config.tmux.monitor_interval) == "3s"
    assert config.tmux.session_prefix == "p"
    assert config.shortcuts == {"a": "x", "b": "y"}  # maps merge key by key
    assert config.git.protected_branches == ["c"]  # lists are replaced
    assert config.watcher.batch_size == 50
    assert config.search.default_limit == 20
    origins = {".".join(map(str, k)): o.render() for k, o in effective.origins.items()}
    assert origins["tmux.monitor_interval"] == f"global ({paths['global']}:2)"
    assert origins["tmux.session_prefix"] == f"project ({paths['project']}:2)"
    assert origins["watcher.batch_size"] == f"user ({paths['user']}:4)"
    assert origins["search.default_limit"] == "default"


def test_cross_scope_rule_is_located_in_the_file_that_set_it(home: Path) -> None:
    paths = resolve_scopes()
    write(paths["global"], "analytics:\n    collector:\n        buffer_size: 100\n")
    write(paths["user"], "analytics:\n    collector:\n        batch_size: 200\n")
    errors = load_effective(paths).errors
    assert [e.render() for e in errors] == [
        f"{paths['user']}:3:9: analytics.collector.batch_size: batch size cannot exceed buffer size"
    ]


def test_load_config_and_section_helpers(home: Path, monkeypatch) -> None:
    import pytest

    from store.errors import ConfigError
    from watcher.config.scopes import backup_folder, database_path, load_config

    paths = resolve_scopes()
    config = load_config()
    assert database_path(config) == home / ".config" / "ccmgr-ultra" / "data.db"
    assert backup_folder(config) == home / ".config" / "ccmgr-ultra" / "backups"
    write(paths["user"], "storage:\n    database: ~/x.db\nwatcher:\n    flush_interval: 250ms\n")
    config = load_config()
    assert database_path(config) == home / "x.db"
    assert database_path(config, "/tmp/explicit.db") == Path("/tmp/explicit.db")
    monkeypatch.setenv("CCMGR_WATCH_DB", "/tmp/env.db")
    assert database_path(config) == Path("/tmp/env.db")
    assert config.watcher.flush_interval.seconds == 0.25
    write(paths["user"], "watcher:\n    batch_size: 0\n")
    with pytest.raises(ConfigError, match=r"config.local.yaml:2:5: watcher.batch_size"):
        load_config()
