"""The service with a stand-in for tmux: lock, flush on stop, status, reconfigure, --all."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from watcher import service as service_module
from watcher.capture.events import KnownSession, Lifecycle, server_key
from watcher.capture.tmux_address import socket_dir
from watcher.errors import TmuxError, WatcherError
from watcher.service import Service
from watcher.service_config import ServiceConfig
from watcher.status_file import lock_holder, read_status, status_path

pytestmark = pytest.mark.anyio


async def wait_until(predicate: Callable[[], Any], timeout: float = 10) -> None:
    """Poll ``predicate`` until it is true; fail (not assert on speed) after ``timeout``."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


def count(db_path: Path, sql: str = "SELECT count(*) FROM sessions") -> int:
    if not db_path.exists():
        return 0
    with sqlite3.connect(db_path) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:
            return 0


class FakeTmux:
    """Stands in for watch_server: records which sockets run and emits what a test asks."""

    def __init__(self, events_per_server: int = 0, fail_first: bool = False) -> None:
        self.running: set[str] = set()
        self.started: list[str] = []
        self.known: dict[str, list[KnownSession]] = {}
        self.events_per_server = events_per_server
        self.fail_first = fail_first
        self.sent: dict[str, int] = {}

    async def __call__(
        self,
        address: str,
        *,
        send: Any,
        known_alive: Callable[[str], Awaitable[list[KnownSession]]],
        on_state: Callable[[Any], None] | None = None,
        host: str | None = None,
        waits: Any = None,
    ) -> None:
        self.started.append(address)
        if self.fail_first and self.started.count(address) == 1:
            raise TmuxError("tmux went away")
        self.running.add(address)
        try:
            if on_state:
                on_state("attached")
            self.known[address] = await known_alive(address)
            server = server_key(address, 1, 1)
            for i in range(self.events_per_server):
                await send.send(
                    Lifecycle(
                        server=server,
                        tmux_id=f"${i}",
                        event_type="created",
                        timestamp="2026-11-26T10:00:00.000000Z",
                        name=f"s{i}",
                        status="detached",
                    )
                )
                self.sent[address] = i + 1
            await anyio.sleep_forever()
        finally:
            self.running.discard(address)


async def test_stop_flushes_everything_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What is checked is that everything queued is written, not how fast: on a loaded machine
    # 2,000 events took longer than the 1.5 s budget (1,502 written). The budget has its own
    # test through a real process (test_scenarios: SIGTERM flushes and exits zero).
    monkeypatch.setattr(service_module, "FLUSH_TIMEOUT", 60.0)
    db_path = tmp_path / "data.db"
    fake = FakeTmux(events_per_server=2000)
    service = Service(
        db_path, ServiceConfig(sockets=("/x/a",)), watch_server=fake, handle_signals=False
    )
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await wait_until(lambda: fake.sent.get("/x/a") == 2000)
        # Everything was handed over to the stream (it holds 4096); stop before it is written.
        service.stop()
    assert count(db_path) == 2000
    assert count(db_path, "SELECT count(*) FROM session_events") == 2000
    status = read_status(db_path)
    assert status is not None and status["running"] is False
    assert status["events_written"] == 2000
    assert stat.S_IMODE(os.stat(status_path(db_path)).st_mode) == 0o600


async def test_a_second_service_on_the_same_database_is_refused(tmp_path: Path) -> None:
    db_path = tmp_path / "data.db"
    first = Service(db_path, ServiceConfig(sockets=("/x/a",)), watch_server=FakeTmux())
    async with anyio.create_task_group() as tg:
        await tg.start(first.run)
        assert lock_holder(db_path) == os.getpid()
        second = Service(db_path, ServiceConfig(sockets=("/x/a",)), watch_server=FakeTmux())
        with pytest.raises(WatcherError, match="already running"):
            await second.run()
        first.stop()
    assert lock_holder(db_path) is None
    mode = stat.S_IMODE(os.stat(tmp_path / "data.db.watcher.lock").st_mode)
    assert mode == 0o600


async def test_status_file_reports_servers_and_counts(tmp_path: Path) -> None:
    db_path = tmp_path / "data.db"
    fake = FakeTmux(events_per_server=3)
    service = Service(
        db_path, ServiceConfig(sockets=("/x/a", "/x/b")), watch_server=fake, handle_signals=False
    )
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)

        def ready() -> bool:
            status = read_status(db_path)
            return bool(status and status["events_written"] == 6)

        await wait_until(ready)
        status = read_status(db_path)
        assert status is not None
        assert status["running"] is True and status["pid"] == os.getpid()
        assert [(s["socket"], s["state"]) for s in status["servers"]] == [
            ("/x/a", "attached"),
            ("/x/b", "attached"),
        ]
        assert status["last_event"]["event_type"] == "created"
        service.stop()


async def test_reconfigure_starts_and_stops_server_tasks(tmp_path: Path) -> None:
    fake = FakeTmux()
    service = Service(
        tmp_path / "data.db",
        ServiceConfig(sockets=("/x/a",)),
        watch_server=fake,
        handle_signals=False,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await wait_until(lambda: fake.running == {"/x/a"})
        service.reconfigure(ServiceConfig(sockets=("/x/b", "/x/c"), batch_size=7))
        await wait_until(lambda: fake.running == {"/x/b", "/x/c"})
        assert service.statistics()["batch_size"] == 7
        with pytest.raises(WatcherError):
            service.reconfigure(ServiceConfig(sockets=("/x/b",), batch_size=0))
        service.stop()


async def test_a_failing_server_task_is_restarted(tmp_path: Path) -> None:
    fake = FakeTmux(fail_first=True)
    service = Service(
        tmp_path / "data.db",
        ServiceConfig(sockets=("/x/a",)),
        watch_server=fake,
        handle_signals=False,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await wait_until(lambda: fake.running == {"/x/a"})
        [server] = service.statistics()["servers"]
        assert server["restarts"] == 1 and server["last_error"] == "tmux went away"
        service.stop()


async def test_known_alive_reads_what_was_written(tmp_path: Path) -> None:
    db_path = tmp_path / "data.db"
    first = FakeTmux(events_per_server=3)
    service = Service(db_path, ServiceConfig(sockets=("/x/a",)), watch_server=first)
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await wait_until(lambda: count(db_path) == 3)
        service.stop()
    again = FakeTmux()
    service = Service(db_path, ServiceConfig(sockets=("/x/a",)), watch_server=again)
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await wait_until(lambda: "/x/a" in again.known)
        service.stop()
    assert sorted(k.tmux_id for k in again.known["/x/a"]) == ["$0", "$1", "$2"]


async def test_all_watches_sockets_that_appear_later(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tmux").mkdir()
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path / "tmux"))
    folder = socket_dir()
    fake = FakeTmux()
    service = Service(
        tmp_path / "data.db", ServiceConfig(watch_all=True), watch_server=fake, handle_signals=False
    )
    listeners: list[socket.socket] = []

    def make_socket(name: str) -> str:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(folder / name))
        listeners.append(sock)
        return str(folder / name)

    try:
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            folder.mkdir(parents=True, mode=0o700)  # no tmux server had run yet
            first = make_socket("default")
            await wait_until(lambda: fake.running == {first})
            (folder / "not-a-socket").write_text("x")
            second = make_socket("work")
            await wait_until(lambda: fake.running == {first, second})
            os.unlink(second)
            await wait_until(lambda: fake.running == {first})
            service.stop()
    finally:
        for sock in listeners:
            sock.close()


def test_settings_from_the_config_section_and_the_command_line() -> None:
    from watcher.capture.tmux_address import socket_for_name
    from watcher.config.duration import Duration
    from watcher.config.schema import WatcherConfig
    from watcher.service_config import ServiceConfig

    section = WatcherConfig(
        socket_names=["work"],
        socket_paths=["~/sock"],
        batch_size=50,
        flush_interval=Duration.parse("250ms"),
        log_level="debug",
    )
    from_config = ServiceConfig.from_section(section)
    assert from_config.sockets == (socket_for_name("work"), os.path.expanduser("~/sock"))
    assert (from_config.batch_size, from_config.flush_interval) == (50, 0.25)
    assert from_config.log_level == "DEBUG" and not from_config.watch_all
    # Servers named on the command line replace the configured ones; other flags win too.
    cli = ServiceConfig.from_section(section, sockets=["/x/a"], batch_size=9, log_level="info")
    assert (cli.sockets, cli.batch_size, cli.log_level) == (("/x/a",), 9, "INFO")
    assert ServiceConfig.from_section(section, watch_all=True).sockets == ()
    defaults = ServiceConfig.from_section(WatcherConfig())
    assert defaults == ServiceConfig()  # one set of defaults: the schema's
