"""The service's settings (:class:`ServiceConfig`): what it watches and how, from config and CLI."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

import msgspec

from watcher.capture.tmux_address import default_socket_path, socket_for_name
from watcher.capture.writer import DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL
from watcher.config.schema import WatcherConfig

__all__ = ["ServiceConfig"]


class ServiceConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the service watches and how; every field can change while it runs.

    The defaults are the config schema's (``watcher`` section); :meth:`from_section` builds one
    from a loaded config plus the command line's overrides.
    """

    sockets: tuple[str, ...] = ()
    watch_all: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    log_level: str = WatcherConfig().log_level.upper()
    host: str = msgspec.field(default_factory=lambda: local_host())

    @classmethod
    def from_section(
        cls,
        section: WatcherConfig,
        *,
        sockets: Iterable[str] = (),
        watch_all: bool = False,
        batch_size: int | None = None,
        log_level: str | None = None,
    ) -> ServiceConfig:
        """Settings from the config's ``watcher`` section; command-line values win.

        Servers named on the command line (``-L``/``-S``/``--all``) replace the configured ones.
        """
        named = list(sockets)
        if named or watch_all:
            chosen, every = tuple(dict.fromkeys(named)), watch_all
        else:
            configured = [socket_for_name(n) for n in section.socket_names]
            configured += [os.path.abspath(os.path.expanduser(p)) for p in section.socket_paths]
            chosen, every = tuple(dict.fromkeys(configured)), section.all_servers
        return cls(
            sockets=chosen,
            watch_all=every,
            batch_size=batch_size or section.batch_size,
            flush_interval=section.flush_interval.seconds,
            log_level=(log_level or section.log_level).upper(),
            host=section.host or local_host(),
        )

    def explicit_sockets(self) -> set[str]:
        """The sockets named by the settings (the default server when none are and not --all)."""
        if not self.sockets and not self.watch_all:
            return {default_socket_path()}
        return {os.path.abspath(s) for s in self.sockets}


def local_host() -> str:
    """The machine's hostname as recorded with sessions (``watcher.host`` unset), characters a
    server key cannot hold (watcher.config.rules.valid_host) replaced by ``-``."""
    name = socket.gethostname() or "localhost"
    return "".join(c if (c.isalnum() and c.isascii()) or c in ".-_" else "-" for c in name)[:253]
