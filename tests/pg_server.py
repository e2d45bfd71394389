"""A private PostgreSQL server for tests: started by the test session itself, torn down after.

``initdb`` + ``pg_ctl`` from the PostgreSQL on the machine (``$CCMGR_WATCH_PG_BIN``, else the
folder of ``initdb`` on PATH, else the newest ``/usr/lib/postgresql/*/bin``) in a temporary folder,
listening only on a Unix socket in that folder (no TCP port: nothing else on the machine can
reach it or collide with it). initdb refuses to run as root (CI runs as root): the server then
runs as the ``postgres`` system user (``runuser -u postgres``) in a folder that user owns.

Start-up costs about a second, so there is one server per test session (the ``pg_server``
fixture) and one database per test (``pg_url``): ``CREATE DATABASE … TEMPLATE`` a migrated
template, a file copy on the server. Without PostgreSQL (or psycopg) these tests skip with one
line saying how to enable them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERUSER = "ccmgr"
TEMPLATE = "ccmgr_template"
HOW_TO_ENABLE = (
    "PostgreSQL tests skipped: {why}; to run them install PostgreSQL (Debian: apt install "
    "postgresql; its initdb and pg_ctl are found on PATH or in /usr/lib/postgresql/*/bin, or set "
    "CCMGR_WATCH_PG_BIN to their folder) and psycopg (pip install -e '.[test]')"
)


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    candidates: list[str] = []
    if os.environ.get("CCMGR_WATCH_PG_BIN"):
        candidates.append(os.environ["CCMGR_WATCH_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for folder in candidates:
        if all(os.access(Path(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(folder)
    return None


class PgServer:
    """One running PostgreSQL server on a Unix socket in its own folder."""

    def __init__(self, bin_dir: Path, root: Path, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "server.log"
        self.port = 5432  # only names the socket file (.s.PGSQL.5432): no TCP listener
        self._run_as = run_as

    def _argv(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self._run_as, "--", *argv] if self._run_as else argv

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._argv(tool, *args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr.strip()}\n{log[-2000:]}")

    def init(self) -> None:
        """Create the cluster (trust authentication: only its own socket folder can reach it)."""
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of one database on this server, over its socket."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction (CREATE DATABASE cannot run in one)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def new_database(self) -> str:
        """A fresh database copied from the template; its URL."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a private server with a template database; stop it and delete its folder after.

    Skips the calling test (with how to enable it) when PostgreSQL or psycopg is missing.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(HOW_TO_ENABLE.format(why="no initdb/pg_ctl found"))
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip(HOW_TO_ENABLE.format(why="psycopg is not installed"))
    run_as: str | None = None
    if os.geteuid() == 0:
        # initdb refuses root; the postgres system user (Debian's package creates it) runs it.
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip(HOW_TO_ENABLE.format(why="running as root without a postgres user"))
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="ccmgr-pg-", dir="/tmp"))
    (root / "socket").mkdir(mode=0o700)
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        for path in (root, root / "socket"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o700)
    server = PgServer(bin_dir, root, run_as)
    try:
        server.init()
        server.start()
        try:
            server.execute(f"CREATE DATABASE {TEMPLATE}")
            from store.postgres.migrate import migrate

            migrate(server.url(TEMPLATE))
            yield server
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
