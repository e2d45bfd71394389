"""Fixtures for the config tests: a private XDG/HOME, and files written the way ccmgr-ultra does."""

from __future__ import annotations

from pathlib import Path

import pytest

# The excerpt from the reference (test-ccmgr-ultra/.ccmgr-ultra/config.yaml.backup), whole parts.
EXCERPT = """\
version: 1.0.0
status_hooks:
    enabled: true
    idle:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/idle.sh
        timeout: 30
        async: true
tmux:
    session_prefix: ccmgr
    naming_pattern: '{{.prefix}}-{{.project}}-{{.worktree}}-{{.branch}}'
    max_session_name: 50
    monitor_interval: 2s
    state_file: ~/.config/ccmgr-ultra/tmux-sessions.json
    default_env: {}
    auto_cleanup: false
    cleanup_age: 24h0m0s
shortcuts:
    c: continue_session
    d: delete_worktree
    m: merge_worktree
    "n": new_worktree
last_modified: 2025-06-21T23:03:13.256298-07:00
log_level: ""
refresh_interval: 0
"""

# What yaml.v3 (4-space indent) writes for DefaultConfig() after SetDefaults, on Linux
# (nanosecond timestamps), with a user's comments added afterwards.
GO_WRITTEN = """\
version: 1.0.0
# hooks run on state changes
status_hooks:
    enabled: true
    idle:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/idle.sh
        timeout: 30
        async: true
    busy:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/busy.sh
        timeout: 30
        async: true
    waiting:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/waiting.sh
        timeout: 30
        async: true
worktree_hooks:
    enabled: true
    creation:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/creation.sh
        timeout: 30
        async: true
    activation:
        enabled: true
        script: ~/.config/ccmgr-ultra/hooks/activation.sh
        timeout: 30
        async: true
worktree:
    auto_directory: false
    directory_pattern: '{{.Project}}-{{.Branch}}'
    default_branch: main
    cleanup_on_merge: false
tmux:
    session_prefix: ccmgr  # keep short
    naming_pattern: '{{.Prefix}}-{{.Project}}-{{.Worktree}}-{{.Branch}}'
    max_session_name: 50
    monitor_interval: 2s
    state_file: ~/.config/ccmgr-ultra/tmux-sessions.json
    default_env: {}
    auto_cleanup: false
    cleanup_age: 24h0m0s
git:
    auto_directory: false
    directory_pattern: '{{.Project}}-{{.Branch}}'
    max_worktrees: 10
    cleanup_age: 168h0m0s
    default_branch: main
    protected_branches:
        - main
        - master
        - develop
    allow_force_delete: false
    default_remote: origin
    auto_push: false
    create_pr: false
    pr_template: |-
        ## Summary
        {{.Description}}
    github_token: ghp_abcdefSECRET
    gitlab_token: ""
    bitbucket_token: ""
    github_pr_template: ""
    default_pr_target_branch: main
    require_clean_workdir: false
    confirm_destructive: false
    backup_on_delete: false
claude:
    enabled: true
    poll_interval: 3s
    max_processes: 10
    cleanup_interval: 5m0s
    state_timeout: 30s
    startup_timeout: 10s
    log_paths:
        - ~/.claude/logs
        - /tmp/claude-*
    state_patterns:
        busy: (?i)(thinking|processing)
        idle: (?i)waiting for input
    enable_log_parsing: true
    enable_resource_monitoring: true
    integrate_tmux: true
    integrate_worktrees: true
tui:
    theme: default
    refresh_interval: 5
    mouse_support: true
    default_screen: dashboard
    show_status_bar: true
    show_key_help: true
    confirm_quit: false
    auto_refresh: true
    debug_mode: false
analytics:
    enabled: true
    collector:
        poll_interval: 30s
        buffer_size: 1000
        batch_size: 50
        enable_metrics: true
        retention_days: 90
    engine:
        cache_size: 1000
        cache_ttl: 5m0s
        batch_processing: true
        precompute_daily: true
    hooks:
        enabled: true
        capture_state_changes: true
        capture_worktree_events: true
        capture_session_events: true
    retention:
        session_events_days: 90
        aggregated_data_days: 365
        cleanup_interval: 24h0m0s
        enable_auto_cleanup: true
    performance:
        max_cpu_usage: 5
        max_memory_usage_mb: 100
        max_query_time: 100ms
        enable_monitoring: true
shortcuts:
    c: continue_session
    d: delete_worktree
    m: merge_worktree
    "n": new_worktree
    p: push_worktree
    q: quit
    r: resume_session
commands:
    claude_command: claude
    git_command: git
    tmux_prefix: ccmgr
    environment: {}
last_modified: 2025-11-20T10:04:05.123456789+01:00
log_level: ""
refresh_interval: 0
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and XDG_CONFIG_HOME; the cwd is a fresh project folder (``proj``)."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("CCMGR_WATCH_DB", raising=False)
    project = tmp_path / "proj"
    (project / ".ccmgr-ultra").mkdir(parents=True)
    monkeypatch.chdir(project)
    return home


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
