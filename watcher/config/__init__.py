"""Configuration: ccmgr-ultra's ``config.yaml`` plus ccmgr-watch's sections, in three scopes.

The pipeline runs one way, each step handing the next a value: ``readfile`` (bytes → text →
``yamlio.Document``) → ``load`` (check one file: ``validate`` types, ``rules``) → ``scopes``
(merge the scopes into the effective config, with origins). docs/architecture-config.md has the
module map; the pure modules (``diff``, ``merge``, ``validate``, ``rules``, ``schema``,
``duration``, ``secrets``) import no I/O library (tests/config/test_boundaries.py).

Reading settings from a command or the service::

    from watcher.config.scopes import load_config
    config = load_config()            # or load_config(project_dir); raises ConfigError
    config.watcher.batch_size, config.watcher.flush_interval.seconds, config.search.default_limit

Nothing is imported here, so importing this package costs nothing.
"""
