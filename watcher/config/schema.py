"""The one configuration schema: ccmgr-ultra's ``config.yaml`` sections plus ccmgr-watch's own.

Defaults live here and nowhere else: every other module asks a default-constructed struct. The
ccmgr-ultra defaults are those of its ``SetDefaults()`` (``internal/config/schema.go``); where its
code keeps a default we do not have verbatim (the PR templates, claude's state regexes) the default
is left empty, which ccmgr-ultra itself fills in when it loads the file.

Field names are the YAML keys. Unknown keys are not fields: the loader keeps them in the document
(so every write keeps them) and reports them as warnings.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from watcher.config.duration import Duration
from watcher.config.secrets import SECRET_KEYS as SECRET_KEYS  # defined there, kept importable

CURRENT_VERSION: Final = "2.1.0"
"""The version this ccmgr-watch writes: ccmgr-ultra's 2.0.0 plus the storage/watcher/backup/search
sections."""

CCMGR_SECTIONS: Final = (
    "version",
    "status_hooks",
    "worktree_hooks",
    "worktree",
    "tmux",
    "git",
    "claude",
    "tui",
    "analytics",
    "shortcuts",
    "commands",
    "last_modified",
    "log_level",
    "refresh_interval",
)
WATCH_SECTIONS: Final = ("storage", "watcher", "backup", "search")

OLD_BOOLS: Final = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ]
)
"""Strings YAML 1.1 (and yaml.v3 decoding into a bool) reads as booleans."""

_HOOKS_DIR = "~/.config/ccmgr-ultra/hooks"


def _d(text: str) -> Duration:
    return Duration.parse(text)


class Section(msgspec.Struct, kw_only=True):
    """Base of every section: keyword-only fields, unknown keys tolerated."""


class HookConfig(Section):
    """One hook script (``status_hooks.idle`` and friends); ``timeout`` is in seconds."""

    enabled: bool = True
    script: str = ""
    timeout: int = 30
    async_: bool = msgspec.field(default=True, name="async")


def _hook(kind: str) -> HookConfig:
    return HookConfig(script=f"{_HOOKS_DIR}/{kind}.sh")


class StatusHooksConfig(Section):
    """Scripts run when a Claude session turns idle, busy or waiting."""

    enabled: bool = True
    idle: HookConfig = msgspec.field(default_factory=lambda: _hook("idle"))
    busy: HookConfig = msgspec.field(default_factory=lambda: _hook("busy"))
    waiting: HookConfig = msgspec.field(default_factory=lambda: _hook("waiting"))


class WorktreeHooksConfig(Section):
    """Scripts run when a worktree is created or activated."""

    enabled: bool = True
    creation: HookConfig = msgspec.field(default_factory=lambda: _hook("creation"))
    activation: HookConfig = msgspec.field(default_factory=lambda: _hook("activation"))


class WorktreeConfig(Section):
    """Where ccmgr-ultra puts worktrees."""

    auto_directory: bool = False
    directory_pattern: str = "{{.Branch}}"
    default_branch: str = "main"
    cleanup_on_merge: bool = False
    base_directory: str = "../.worktrees/{{.Project}}"


class TmuxConfig(Section):
    """ccmgr-ultra's tmux session naming and monitoring."""

    session_prefix: str = "ccmgr"
    naming_pattern: str = "{{.Prefix}}-{{.Project}}-{{.Worktree}}-{{.Branch}}"
    max_session_name: int = 50
    monitor_interval: Duration = _d("2s")
    state_file: str = "~/.config/ccmgr-ultra/tmux-sessions.json"
    default_env: dict[str, str] = {}
    auto_cleanup: bool = False
    cleanup_age: Duration = _d("24h")


class GitConfig(Section):
    """Git worktree and pull-request settings; the three tokens are secrets."""

    auto_directory: bool = False
    directory_pattern: str = "{{.Project}}-{{.Branch}}"
    max_worktrees: int = 10
    cleanup_age: Duration = _d("168h")
    default_branch: str = "main"
    protected_branches: list[str] = msgspec.field(
        default_factory=lambda: ["main", "master", "develop"]
    )
    allow_force_delete: bool = False
    default_remote: str = "origin"
    auto_push: bool = False
    create_pr: bool = False
    pr_template: str = ""
    github_token: str = ""
    gitlab_token: str = ""
    bitbucket_token: str = ""
    github_pr_template: str = ""
    default_pr_target_branch: str = "main"
    require_clean_workdir: bool = False
    confirm_destructive: bool = False
    backup_on_delete: bool = False


class ClaudeConfig(Section):
    """How ccmgr-ultra finds and classifies Claude processes."""

    enabled: bool = True
    poll_interval: Duration = _d("3s")
    max_processes: int = 10
    cleanup_interval: Duration = _d("5m")
    state_timeout: Duration = _d("30s")
    startup_timeout: Duration = _d("10s")
    log_paths: list[str] = msgspec.field(
        default_factory=lambda: ["~/.claude/logs", "/tmp/claude-*"]
    )
    state_patterns: dict[str, str] = {}
    enable_log_parsing: bool = True
    enable_resource_monitoring: bool = True
    integrate_tmux: bool = True
    integrate_worktrees: bool = True


class TUIConfig(Section):
    """ccmgr-ultra's terminal UI."""

    theme: str = "default"
    refresh_interval: int = 5
    mouse_support: bool = True
    default_screen: str = "dashboard"
    show_status_bar: bool = True
    show_key_help: bool = True
    confirm_quit: bool = False
    auto_refresh: bool = True
    debug_mode: bool = False


class AnalyticsCollectorConfig(Section):
    """Analytics event collection."""

    poll_interval: Duration = _d("30s")
    buffer_size: int = 1000
    batch_size: int = 50
    enable_metrics: bool = True
    retention_days: int = 90


class AnalyticsEngineConfig(Section):
    """Analytics query cache."""

    cache_size: int = 1000
    cache_ttl: Duration = _d("5m")
    batch_processing: bool = True
    precompute_daily: bool = True


class AnalyticsHooksConfig(Section):
    """Which events analytics captures."""

    enabled: bool = True
    capture_state_changes: bool = True
    capture_worktree_events: bool = True
    capture_session_events: bool = True


class AnalyticsRetentionConfig(Section):
    """How long analytics data is kept."""

    session_events_days: int = 90
    aggregated_data_days: int = 365
    cleanup_interval: Duration = _d("24h")
    enable_auto_cleanup: bool = True


class AnalyticsPerformanceConfig(Section):
    """Resource limits for analytics."""

    max_cpu_usage: float = 5.0
    max_memory_usage_mb: int = 100
    max_query_time: Duration = _d("100ms")
    enable_monitoring: bool = True


class AnalyticsConfig(Section):
    """ccmgr-ultra's (unwired) analytics layer."""

    enabled: bool = True
    collector: AnalyticsCollectorConfig = msgspec.field(default_factory=AnalyticsCollectorConfig)
    engine: AnalyticsEngineConfig = msgspec.field(default_factory=AnalyticsEngineConfig)
    hooks: AnalyticsHooksConfig = msgspec.field(default_factory=AnalyticsHooksConfig)
    retention: AnalyticsRetentionConfig = msgspec.field(default_factory=AnalyticsRetentionConfig)
    performance: AnalyticsPerformanceConfig = msgspec.field(
        default_factory=AnalyticsPerformanceConfig
    )


class CommandsConfig(Section):
    """External commands ccmgr-ultra runs."""

    claude_command: str = "claude"
    git_command: str = "git"
    tmux_prefix: str = "ccmgr"
    environment: dict[str, str] = {}


def _shortcuts() -> dict[str, str]:
    return {
        "n": "new_worktree",
        "m": "merge_worktree",
        "d": "delete_worktree",
        "p": "push_worktree",
        "c": "continue_session",
        "r": "resume_session",
        "q": "quit",
    }


# --- ccmgr-watch's own sections -------------------------------------------------------------


class StorageConfig(Section):
    """Where ccmgr-watch keeps its database.

    ``database`` empty means the default: ``$CCMGR_WATCH_DB``, else
    ``$XDG_CONFIG_HOME/ccmgr-ultra/data.db``. ``--db`` on the command line wins over both.
    ``mode: dual`` also keeps ccmgr-ultra's JSON state file (``tmux.state_file``) current while
    the watcher runs; the dated copies of that file it keeps are pruned after
    ``json_backup_days`` days.
    """

    database: str = ""
    mode: str = "sqlite"
    json_backup_days: int = 30


class WatcherConfig(Section):
    """Which tmux servers the watcher follows, and how it batches writes.

    No socket names, no socket paths and ``all_servers: false`` means the user's default server.
    """

    socket_names: list[str] = []
    socket_paths: list[str] = []
    all_servers: bool = False
    # How long the writer may wait, after the first event of a batch, for more events to commit
    # with it. 0s commits at once (capture latency in milliseconds); a burst still batches itself.
    flush_interval: Duration = _d("0s")
    batch_size: int = 500
    log_level: str = "info"
    # How much to lower the watcher's CPU priority at start (0: not at all), so that tmux and
    # your work always run first; a background recorder only needs spare CPU.
    nice: int = 10
    # The host every session and event is recorded with ("": the machine's hostname). Set it
    # when several machines share one store and hostnames are not telling (containers).
    host: str = ""


class BackupRetentionConfig(Section):
    """How many backups to keep (restic-style; 0 means that rule keeps nothing on its own)."""

    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    keep_hourly: int = 0


class BackupConfig(Section):
    """Scheduled database backups.

    ``folder`` empty means ``$XDG_CONFIG_HOME/ccmgr-ultra/backups``. ``schedule`` is ``off``,
    ``hourly``, ``daily``, ``weekly`` or a Go duration (at least ``1m``). ``encryption: age``
    encrypts to the public keys in ``recipients_file`` when set (the watcher can then write
    backups only the private key opens), else with the passphrase from ``passphrase_file`` or
    the environment variable ``passphrase_env`` names (``""``: ``CCMGR_WATCH_BACKUP_PASSPHRASE``);
    ``passphrase`` is age with a passphrase.
    """

    folder: str = ""
    schedule: str = "daily"
    compression: str = "gzip"
    encryption: str = "none"
    passphrase_file: str = ""
    retention: BackupRetentionConfig = msgspec.field(default_factory=BackupRetentionConfig)
    recipients_file: str = ""
    passphrase_env: str = ""


class SearchConfig(Section):
    """Defaults for ``ccmgr-watch search`` and friends."""

    default_limit: int = 20  # the CLI's start-up copy: watcher.cli.settings.DEFAULT_LIMIT


class Config(Section):
    """The whole file: ccmgr-ultra's sections, then ccmgr-watch's."""

    version: str = CURRENT_VERSION
    status_hooks: StatusHooksConfig = msgspec.field(default_factory=StatusHooksConfig)
    worktree_hooks: WorktreeHooksConfig = msgspec.field(default_factory=WorktreeHooksConfig)
    worktree: WorktreeConfig = msgspec.field(default_factory=WorktreeConfig)
    tmux: TmuxConfig = msgspec.field(default_factory=TmuxConfig)
    git: GitConfig = msgspec.field(default_factory=GitConfig)
    claude: ClaudeConfig = msgspec.field(default_factory=ClaudeConfig)
    tui: TUIConfig = msgspec.field(default_factory=TUIConfig)
    analytics: AnalyticsConfig = msgspec.field(default_factory=AnalyticsConfig)
    shortcuts: dict[str, str] = msgspec.field(default_factory=_shortcuts)
    commands: CommandsConfig = msgspec.field(default_factory=CommandsConfig)
    last_modified: str = ""
    # ccmgr-ultra's `default:"info"`/`default:"5"` tags are documentation only: its SetDefaults
    # leaves these two empty, and its own files say `log_level: ""` and `refresh_interval: 0`.
    log_level: str = ""
    refresh_interval: int = 0
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    watcher: WatcherConfig = msgspec.field(default_factory=WatcherConfig)
    backup: BackupConfig = msgspec.field(default_factory=BackupConfig)
    search: SearchConfig = msgspec.field(default_factory=SearchConfig)


def enc_hook(value: Any) -> Any:
    """msgspec encode hook: durations become Go text."""
    if isinstance(value, Duration):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def dec_hook(kind: type, value: Any) -> Any:
    """msgspec decode hook: Go duration text becomes a :class:`Duration`."""
    if kind is Duration:
        if isinstance(value, Duration):
            return value
        if isinstance(value, str):
            return Duration.parse(value)
        raise TypeError(f"expected a duration, got {value!r}")
    raise NotImplementedError(f"cannot decode {kind!r}")


def to_plain(config: msgspec.Struct) -> dict[str, Any]:
    """A struct as plain YAML-ready data (YAML key names, durations as Go text)."""
    result: dict[str, Any] = msgspec.to_builtins(config, enc_hook=enc_hook)
    return result


def defaults_tree() -> dict[str, Any]:
    """Every default as plain data, keyed like the file."""
    return to_plain(Config())
