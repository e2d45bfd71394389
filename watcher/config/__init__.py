"""Configuration: ccmgr-ultra's ``config.yaml`` plus ccmgr-watch's sections, in three scopes.

Modules (pure unless noted): ``duration`` (Go durations), ``schema`` (the structs and every
default), ``yamlio`` (round-trip YAML text), ``validate`` (types and defaults), ``rules``
(ccmgr-ultra's checks and ours), ``load`` (one file; reads files), ``scopes`` (global/project/user
and the effective config; reads files), ``diff`` (diff, apply, three-way merge), ``migrate``
(version upgrades), ``writer`` (atomic writes and backups; writes files), ``live`` (async reload).

Reading settings from a command or the service::

    from watcher.config.scopes import load_config
    config = load_config()            # or load_config(project_dir); raises ConfigError
    config.watcher.batch_size, config.watcher.flush_interval.seconds, config.search.default_limit

Nothing is imported here, so importing this package costs nothing.
"""
