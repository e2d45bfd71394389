"""Every validation rule and message, located in the file."""

from __future__ import annotations

import pytest

from watcher.config.load import check_document
from watcher.config.yamlio import parse_document

# (yaml, dotted path, exact message)
RULES = [
    ('shortcuts:\n    "": quit\n', "shortcuts.", "shortcut key cannot be empty"),
    ('shortcuts:\n    x: ""\n', "shortcuts.x", "shortcut action for key 'x' cannot be empty"),
    (
        "status_hooks:\n    busy:\n        timeout: -1\n",
        "status_hooks.busy.timeout",
        "hook timeout cannot be negative",
    ),
    (
        "worktree_hooks:\n    creation:\n        timeout: 301\n",
        "worktree_hooks.creation.timeout",
        "hook timeout cannot exceed 300 seconds",
    ),
    (
        "worktree:\n    directory_pattern: plain\n",
        "worktree.directory_pattern",
        "directory pattern must contain template variables like {{.Project}} or {{.Branch}}",
    ),
    (
        "worktree:\n    base_directory: '../{{.Project'\n",
        "worktree.base_directory",
        "base directory template must contain valid template variables like {{.Project}}",
    ),
    (
        'commands:\n    environment:\n        "": x\n',
        "commands.environment.",
        "environment variable key cannot be empty",
    ),
    (
        "commands:\n    environment:\n        A=B: x\n",
        "commands.environment.A=B",
        "environment variable key 'A=B' cannot contain '='",
    ),
    (
        'commands:\n    environment:\n        FOO: ""\n',
        "commands.environment.FOO",
        "environment variable 'FOO' cannot have empty value",
    ),
    (
        "tmux:\n    max_session_name: -5\n",
        "tmux.max_session_name",
        "max session name length cannot be negative",
    ),
    (
        "tmux:\n    monitor_interval: -2s\n",
        "tmux.monitor_interval",
        "monitor interval cannot be negative",
    ),
    ("tmux:\n    cleanup_age: -1h\n", "tmux.cleanup_age", "cleanup age cannot be negative"),
    ("git:\n    max_worktrees: -1\n", "git.max_worktrees", "max worktrees cannot be negative"),
    ("git:\n    cleanup_age: -1h\n", "git.cleanup_age", "cleanup age cannot be negative"),
    (
        "git:\n    directory_pattern: x\n",
        "git.directory_pattern",
        "directory pattern must contain template variables like {{.Project}} or {{.Branch}}",
    ),
    (
        'git:\n    protected_branches:\n        - main\n        - ""\n',
        "git.protected_branches[1]",
        "protected branch name cannot be empty",
    ),
    (
        "claude:\n    poll_interval: -1s\n",
        "claude.poll_interval",
        "poll interval cannot be negative",
    ),
    (
        "claude:\n    poll_interval: 500ms\n",
        "claude.poll_interval",
        "poll interval must be at least 1 second",
    ),
    (
        "claude:\n    max_processes: -1\n",
        "claude.max_processes",
        "max processes cannot be negative",
    ),
    (
        "claude:\n    max_processes: 101\n",
        "claude.max_processes",
        "max processes cannot exceed 100",
    ),
    (
        "claude:\n    cleanup_interval: -1s\n",
        "claude.cleanup_interval",
        "cleanup interval cannot be negative",
    ),
    (
        "claude:\n    state_timeout: -1s\n",
        "claude.state_timeout",
        "state timeout cannot be negative",
    ),
    (
        "claude:\n    startup_timeout: -1s\n",
        "claude.startup_timeout",
        "startup timeout cannot be negative",
    ),
    ('claude:\n    log_paths: ["a", ""]\n', "claude.log_paths[1]", "log path cannot be empty"),
    (
        'claude:\n    state_patterns:\n        "": x\n',
        "claude.state_patterns.",
        "state pattern key cannot be empty",
    ),
    (
        'claude:\n    state_patterns:\n        busy: ""\n',
        "claude.state_patterns.busy",
        "state pattern for 'busy' cannot be empty",
    ),
    (
        "tui:\n    refresh_interval: -1\n",
        "tui.refresh_interval",
        "refresh interval must be at least 1 second",
    ),
    ("tui:\n    default_screen: home\n", "tui.default_screen", "invalid default screen: home"),
    (
        "analytics:\n    collector:\n        poll_interval: 10ms\n",
        "analytics.collector.poll_interval",
        "poll interval must be at least 1 second",
    ),
    (
        "analytics:\n    collector:\n        buffer_size: -1\n",
        "analytics.collector.buffer_size",
        "buffer size must be positive",
    ),
    (
        "analytics:\n    collector:\n        batch_size: -1\n",
        "analytics.collector.batch_size",
        "batch size must be positive",
    ),
    (
        "analytics:\n    collector:\n        batch_size: 2000\n",
        "analytics.collector.batch_size",
        "batch size cannot exceed buffer size",
    ),
    (
        "analytics:\n    collector:\n        retention_days: -1\n",
        "analytics.collector.retention_days",
        "retention days cannot be negative",
    ),
    (
        "analytics:\n    engine:\n        cache_size: -1\n",
        "analytics.engine.cache_size",
        "cache size cannot be negative",
    ),
    (
        "analytics:\n    engine:\n        cache_ttl: -1s\n",
        "analytics.engine.cache_ttl",
        "cache TTL cannot be negative",
    ),
    (
        "analytics:\n    retention:\n        session_events_days: -1\n",
        "analytics.retention.session_events_days",
        "session events days cannot be negative",
    ),
    (
        "analytics:\n    retention:\n        aggregated_data_days: -1\n",
        "analytics.retention.aggregated_data_days",
        "aggregated data days cannot be negative",
    ),
    (
        "analytics:\n    performance:\n        max_cpu_usage: -1\n",
        "analytics.performance.max_cpu_usage",
        "max CPU usage cannot be negative",
    ),
    (
        "analytics:\n    performance:\n        max_cpu_usage: 100.5\n",
        "analytics.performance.max_cpu_usage",
        "max CPU usage cannot exceed 100%",
    ),
    (
        "analytics:\n    performance:\n        max_memory_usage_mb: -1\n",
        "analytics.performance.max_memory_usage_mb",
        "max memory usage cannot be negative",
    ),
    (
        "analytics:\n    performance:\n        max_query_time: -1ms\n",
        "analytics.performance.max_query_time",
        "max query time cannot be negative",
    ),
    # ccmgr-watch's own sections
    (
        "watcher:\n    socket_names: ['']\n",
        "watcher.socket_names[0]",
        "socket name cannot be empty",
    ),
    (
        "watcher:\n    socket_names: [a/b]\n",
        "watcher.socket_names[0]",
        "socket name cannot contain '/'",
    ),
    (
        "watcher:\n    socket_paths: [rel]\n",
        "watcher.socket_paths[0]",
        "socket path must be absolute",
    ),
    ("watcher:\n    socket_names: [a, a]\n", "watcher.socket_names[1]", "'a' is listed twice"),
    ("watcher:\n    nice: 25\n", "watcher.nice", "nice must be between 0 and 19, not 25"),
    ("watcher:\n    host: a@b\n", "watcher.host", "invalid host name: 'a@b'"),
    (
        "watcher:\n    flush_interval: -1s\n",
        "watcher.flush_interval",
        "flush interval cannot be negative",
    ),
    (
        "watcher:\n    flush_interval: 2m\n",
        "watcher.flush_interval",
        "flush interval cannot exceed 1m0s",
    ),
    ("watcher:\n    batch_size: 0\n", "watcher.batch_size", "batch size must be at least 1"),
    ("watcher:\n    batch_size: 100001\n", "watcher.batch_size", "batch size cannot exceed 100000"),
    ("watcher:\n    log_level: loud\n", "watcher.log_level", "invalid log level: loud"),
    ("backup:\n    schedule: sometimes\n", "backup.schedule", "invalid schedule: sometimes"),
    ("backup:\n    schedule: 30s\n", "backup.schedule", "invalid schedule: 30s"),
    ("backup:\n    compression: zip\n", "backup.compression", "invalid compression: zip"),
    ("backup:\n    encryption: rot13\n", "backup.encryption", "invalid encryption: rot13"),
    (
        "backup:\n    encryption: passphrase\n",
        "backup.passphrase_file",
        "passphrase file is required when encryption is passphrase",
    ),
    (
        "backup:\n    retention:\n        keep_daily: -1\n",
        "backup.retention.keep_daily",
        "keep_daily cannot be negative",
    ),
    ("search:\n    default_limit: 0\n", "search.default_limit", "default limit must be at least 1"),
    (
        "search:\n    default_limit: 10001\n",
        "search.default_limit",
        "default limit cannot exceed 10000",
    ),
    # type errors
    (
        "tmux:\n    monitor_interval: fast\n",
        "tmux.monitor_interval",
        'expected a duration like "2s", got "fast"',
    ),
    (
        "tmux:\n    monitor_interval: 5\n",
        "tmux.monitor_interval",
        'expected a duration like "2s", got 5',
    ),
    (
        "tmux:\n    max_session_name: '50'\n",
        "tmux.max_session_name",
        'expected a whole number, got "50"',
    ),
    (
        "tmux:\n    auto_cleanup: maybe\n",
        "tmux.auto_cleanup",
        'expected true or false, got "maybe"',
    ),
    ("tmux: 5\n", "tmux", "expected a mapping of settings, got 5"),
    (
        "git:\n    protected_branches: main\n",
        "git.protected_branches",
        'expected a list, got "main"',
    ),
    (
        "tmux:\n    default_env: [a]\n",
        "tmux.default_env",
        "expected a mapping of names to strings, got a list",
    ),
    ("last_modified: yesterday\n", "last_modified", "expected an RFC 3339 timestamp"),
    ("version: banana\n", "version", "expected a version like \"2.1.0\", got 'banana'"),
]


@pytest.mark.parametrize(("text", "path", "message"), RULES, ids=[r[2][:50] for r in RULES])
def test_rule_reports_path_message_and_location(text: str, path: str, message: str) -> None:
    checked = check_document(parse_document(text, "config.yaml"))
    matches = [i for i in checked.errors if i.path == path and i.message.startswith(message)]
    assert matches, [i.render() for i in checked.issues]
    issue = matches[0]
    assert issue.file == "config.yaml" and issue.line and issue.column
    assert issue.hint
    assert len(checked.errors) == 1, [i.render() for i in checked.errors]


def test_every_problem_is_reported_at_once_with_its_location() -> None:
    text = (
        "version: 2.1.0\ntmux:\n    monitor_interval: fast\n    max_session_name: -1\n"
        "tui:\n    default_screen: home\n"
    )
    rendered = [i.render() for i in check_document(parse_document(text, "config.yaml")).errors]
    assert rendered == [
        'config.yaml:3:5: tmux.monitor_interval: expected a duration like "2s", got "fast"',
        "config.yaml:4:5: tmux.max_session_name: max session name length cannot be negative",
        "config.yaml:6:5: tui.default_screen: invalid default screen: home",
    ]


def test_zero_means_unset_like_set_defaults() -> None:
    text = (
        "status_hooks:\n    idle:\n        timeout: 0\n        script: ''\n"
        "tui:\n    refresh_interval: 0\n"
    )
    assert check_document(parse_document(text)).errors == []


def test_unknown_keys_are_warnings_with_suggestions() -> None:
    text = "tmux:\n    monitor_intervall: 2s\nhooks: {}\nmy_tool: {a: 1}\n"
    issues = check_document(parse_document(text)).issues
    warnings = {i.path: i for i in issues if i.severity == "warning"}
    assert warnings["tmux.monitor_intervall"].hint == "did you mean `monitor_interval`?"
    assert "0.9.0 name of `status_hooks`" in (warnings["hooks"].hint or "")
    assert warnings["my_tool"].message == "unknown key"


def test_forced_booleans_are_warned_about() -> None:
    text = "status_hooks:\n    idle:\n        async: false\ntui:\n    debug_mode: true\n"
    issues = check_document(parse_document(text, "c.yaml")).issues
    warnings = [i.render() for i in issues if i.severity == "warning"]
    assert (
        "c.yaml:3:9: warning: status_hooks.idle.async: "
        "ccmgr-ultra ignores this value and always uses true" in warnings
    )
    assert any("tui.debug_mode" in w for w in warnings)


def test_yaml_1_1_booleans_are_accepted_for_bool_fields() -> None:
    checked = check_document(parse_document("tmux:\n    auto_cleanup: yes\n"))
    assert checked.errors == [] and checked.tree["tmux"]["auto_cleanup"] is True


def test_the_real_files_are_valid() -> None:
    from tests.config.conftest import EXCERPT, GO_WRITTEN

    for text in (EXCERPT, GO_WRITTEN):
        assert check_document(parse_document(text)).errors == []


# Rules that ccmgr-ultra's zero-filling makes unreachable from a file (an empty value takes the
# default first) but which its Validate still has; checked on unfilled structs.
UNFILLED = [
    ({"version": ""}, "version", "config version is required"),
    (
        {"status_hooks": {"idle": {"script": ""}}},
        "status_hooks.idle.script",
        "hook script path is required when hook is enabled",
    ),
    ({"worktree": {"default_branch": ""}}, "worktree.default_branch", "default branch is required"),
    (
        {"worktree": {"auto_directory": True, "directory_pattern": ""}},
        "worktree.directory_pattern",
        "directory pattern is required when auto directory is enabled",
    ),
    (
        {"worktree": {"auto_directory": True, "base_directory": ""}},
        "worktree.base_directory",
        "base directory is required when auto directory is enabled",
    ),
    ({"commands": {"claude_command": ""}}, "commands.claude_command", "claude command is required"),
    ({"commands": {"git_command": ""}}, "commands.git_command", "git command is required"),
    ({"commands": {"tmux_prefix": ""}}, "commands.tmux_prefix", "tmux prefix is required"),
    ({"tmux": {"session_prefix": ""}}, "tmux.session_prefix", "tmux session prefix is required"),
    ({"git": {"default_branch": ""}}, "git.default_branch", "default branch is required"),
    ({"git": {"default_remote": ""}}, "git.default_remote", "default remote is required"),
    (
        {"git": {"auto_directory": True, "directory_pattern": ""}},
        "git.directory_pattern",
        "directory pattern is required when auto directory is enabled",
    ),
    (
        {"tui": {"refresh_interval": 0}},
        "tui.refresh_interval",
        "refresh interval must be at least 1 second",
    ),
    (
        {"claude": {"poll_interval": "0s"}},
        "claude.poll_interval",
        "poll interval must be at least 1 second",
    ),
    (
        {"analytics": {"collector": {"buffer_size": 0}}},
        "analytics.collector.buffer_size",
        "buffer size must be positive",
    ),
]


@pytest.mark.parametrize(("tree", "path", "message"), UNFILLED, ids=[u[2][:50] for u in UNFILLED])
def test_rules_on_unfilled_values(tree, path, message) -> None:
    from watcher.config.rules import check_rules
    from watcher.config.validate import build_config

    config, _ = build_config(tree, fill=False)
    issues = check_rules(config)
    assert [(i.path, i.message) for i in issues] == [(path, message)]
    # ...and a file with the same empty value is accepted, as ccmgr-ultra accepts it.
    config, _ = build_config(tree)
    assert check_rules(config) == []


def test_many_unknown_keys_are_all_reported_but_only_the_first_get_suggestions() -> None:
    """The 'did you mean' search (difflib) was most of validate's cost per unknown key."""
    from watcher.config.validate import MAX_SUGGESTIONS, check_types

    lines = [f"    monitor_intervl{i}: 2s" for i in range(MAX_SUGGESTIONS + 50)]
    _, issues = check_types({"tmux": {line.split(":")[0].strip(): "2s" for line in lines}})
    assert len(issues) == MAX_SUGGESTIONS + 50
    assert all(i.message == "unknown key" for i in issues)
    assert "did you mean" in (issues[0].hint or "")
    assert "did you mean" not in (issues[-1].hint or "")
