"""The I/O edge for one tmux server: addresses, a no-side-effect probe, and the control client.

The control client (:func:`open_control_client`) is made by speaking tmux's own client protocol
on the server's socket (see "how the watcher reaches a server" below for why: it closes a
window in which tmux < 3.7 crashes, and leaves no child process behind), with two pipes for the
control protocol; a server of another protocol version gets a ``tmux -u -C attach-session``
child process instead. Either way the client is read-only and output-less, its output is
drained without pause by a reader task, and commands go over the same connection and are
matched to replies in FIFO order among the blocks that tmux flags as ours. One-off commands
(the probe) run the ``tmux`` binary through argv lists (never a shell) with ``$TMUX`` removed
and an explicit ``-S <socket>``, so the watcher never reaches a server it was not asked to
watch and never starts one. Never use ``refresh-client -B`` subscriptions or the ``wait-exit``
flag here: on tmux < 3.7 the pair crashes the whole tmux server when the watcher's session is
killed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from pathlib import Path

import anyio
import msgspec
from anyio.abc import Process, UNIXSocketStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from store.errors import ProtocolError, TmuxError
from watcher.capture.protocol import (
    ControlParser,
    Exit,
    Message,
    Notification,
    Reply,
    SessionChanged,
    SessionsChanged,
)
from watcher.capture.tracker import ClientInfo, SessionInfo, WindowInfo

__all__ = [
    "CLIENT_ENV",
    "CONTROL_FLAGS",
    "ControlClient",
    "ProbeResult",
    "ProtocolMismatch",
    "ServerInfo",
    "choose_session",
    "control_env",
    "default_socket_path",
    "identify_and_command",
    "imsg",
    "native_by_default",
    "open_control_client",
    "probe_server",
    "quote_argument",
    "resolve_address",
    "socket_dir",
    "split_messages",
    "wait_for_sessions_changed",
]

# no-detach-on-destroy is 3.6+; older tmux ignores unknown client flags (verified on 3.3a).
CONTROL_FLAGS = "no-output,ignore-size,read-only,no-detach-on-destroy"
SEP = "\x1f"  # unit separator: names are vis-encoded by tmux, so it never occurs inside one

_SESSION_FORMAT = SEP.join(
    [
        "#{session_id}",
        "#{session_name}",
        "#{session_created}",
        "#{session_attached}",
        "#{session_windows}",
        "#{session_activity}",
        "#{session_last_attached}",
        # Paths are not escaped by tmux; a newline in one would split the record (reference
        # §2.6). Inside double quotes tmux turns \n into a newline and \\\\ into \\, so the
        # substitution replaces each newline with the two characters backslash-n.
        "#{s/\\n/\\\\\\\\n/:session_path}",
    ]
)
_CLIENT_FORMAT = SEP.join(
    ["#{client_name}", "#{session_id}", "#{client_control_mode}", "#{client_pid}"]
)
_WINDOW_FORMAT = SEP.join(["#{session_id}", "#{window_id}", "#{window_name}"])
_INFO_FORMAT = SEP.join(["#{client_name}", "#{session_id}", "#{pid}", "#{start_time}"])


# --- addresses ----------------------------------------------------------------------------------


def socket_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's tmux socket folder: ``${TMUX_TMPDIR:-/tmp}/tmux-$UID``."""
    env = os.environ if environ is None else environ
    base = env.get("TMUX_TMPDIR") or "/tmp"  # tmux's own default
    return Path(base) / f"tmux-{os.getuid()}"


def default_socket_path(environ: Mapping[str, str] | None = None) -> str:
    """The default server's socket (what plain ``tmux`` uses when ``$TMUX`` is unset)."""
    return str(socket_dir(environ) / "default")


def resolve_address(
    *,
    socket_name: str | None = None,
    socket_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Turn ``-L name`` / ``-S path`` / neither into an absolute socket path.

    ``$TMUX`` is deliberately ignored: a watcher started from inside a tmux pane must not
    silently watch that server instead of the one asked for.
    """
    if socket_name is not None and socket_path is not None:
        raise TmuxError(
            "give either a socket name or a socket path, not both",
            hint="use --socket-name/-L or --socket-path/-S",
        )
    if socket_path is not None:
        if not socket_path:
            raise TmuxError("the socket path is empty", hint="pass --socket-path /path/to/socket")
        return str(Path(socket_path).expanduser().absolute())
    if socket_name is not None:
        if not socket_name or "/" in socket_name:
            raise TmuxError(
                f"invalid tmux socket name {socket_name!r}",
                hint="a socket name is a plain file name; use --socket-path for paths",
            )
        return str(socket_dir(environ) / socket_name)
    return default_socket_path(environ)


def control_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for tmux child processes: the current one without ``TMUX``/``TMUX_PANE``."""
    env = dict(os.environ if environ is None else environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


def quote_argument(arg: str) -> str:
    """Quote one argument for tmux's command parser (single quotes, ``'`` as ``'\\''``).

    Inside single quotes tmux expands nothing (no ``$VAR``, ``~``, escapes, ``;``, ``#``),
    and adjacent quoted pieces join into one argument. Newlines cannot be sent over the
    line-based control connection, so they are refused.
    """
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise TmuxError(
            f"cannot send an argument containing a newline or NUL to tmux: {arg!r}",
            hint="tmux names never contain raw newlines; target sessions by id ($N)",
        )
    return "'" + arg.replace("'", "'\\''") + "'"


def _line_of(args: Sequence[str]) -> str:
    if not args:
        raise TmuxError("empty tmux command", hint="this is a bug in ccmgr-watch")
    # The command name itself is left bare so that tmux recognises it.
    return " ".join([args[0], *(quote_argument(a) for a in args[1:])])


# --- probing without side effects ---------------------------------------------------------------


class ProbeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a running server looks like from outside: its sessions and where humans are."""

    sessions: tuple[str, ...]
    human_sessions: tuple[str, ...]


def _id_number(session_id: str) -> int:
    try:
        return int(session_id.lstrip("$"))
    except ValueError:
        return 1 << 62


async def _run_tmux(
    tmux: str, socket_path: str, args: list[str]
) -> subprocess.CompletedProcess[bytes]:
    try:
        return await anyio.run_process(
            [tmux, "-u", "-S", socket_path, *args],
            check=False,
            env=control_env(),
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise TmuxError(
            f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer and put it on PATH"
        ) from exc


async def probe_server(socket_path: str, *, tmux: str = "tmux") -> ProbeResult | None:
    """Ask the server on ``socket_path`` for its sessions; None when no server is running.

    Runs ``tmux -S path list-sessions ... ; list-clients ...``: neither command starts a server,
    and no ``-f`` config is read. A missing socket file is answered without running tmux.
    """
    if not os.path.exists(socket_path):
        return None
    sessions_cmd = ["list-sessions", "-F", "S" + SEP + "#{session_id}"]
    clients_cmd = [
        "list-clients",
        "-F",
        "C" + SEP + "#{session_id}" + SEP + "#{client_control_mode}",
    ]
    result = await _run_tmux(tmux, socket_path, [*sessions_cmd, ";", *clients_cmd])
    if result.returncode != 0:
        # list-clients fails ("no current target") on a server without sessions: ask again
        # with list-sessions alone to tell that apart from no server at all.
        result = await _run_tmux(tmux, socket_path, sessions_cmd)
        if result.returncode != 0:
            return None
    sessions: list[str] = []
    humans: set[str] = set()
    for raw in result.stdout.decode("utf-8", "surrogateescape").splitlines():
        fields = raw.split(SEP)
        if fields[0] == "S" and len(fields) == 2:
            sessions.append(fields[1])
        elif fields[0] == "C" and len(fields) == 3 and fields[2] != "1" and fields[1]:
            humans.add(fields[1])
    sessions.sort(key=_id_number)
    return ProbeResult(
        sessions=tuple(sessions),
        human_sessions=tuple(s for s in sessions if s in humans),
    )


def choose_session(probe: ProbeResult, *, avoid: Sequence[str] = ()) -> str | None:
    """The session the watcher attaches to, or None when there is none.

    The lowest-numbered session that already has a human client, else the lowest-numbered
    session. Joining a session a human already uses changes nothing a user can see (it is
    attached already, so a plain ``tmux attach``, which prefers unattached sessions, is not
    diverted); the lowest id is the oldest session, so the choice is stable across reconnects.
    Sessions in ``avoid`` (e.g. one we were just kicked from) are used only as a last resort.
    """
    for pool in (probe.human_sessions, probe.sessions):
        for session in pool:
            if session not in avoid:
                return session
    return probe.human_sessions[0] if probe.human_sessions else next(iter(probe.sessions), None)


async def wait_for_sessions_changed(
    socket_path: str, timeout: float, *, tmux: str = "tmux", native: bool = True
) -> bool:
    """On a running server without sessions, wait until one is created (or the server exits).

    Uses a session-less control client running ``wait-for <unique channel>``: it receives
    ``%sessions-changed`` and ``%exit`` but is attached to no session, so it has none of an
    attached client's side effects, and no polling is needed. Returns False on timeout.
    Raises :class:`ProtocolMismatch` when ``native`` and the server speaks another protocol.
    """
    channel = f"ccmgr-watch-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    link = await _open_link(socket_path, ["wait-for", channel], tmux=tmux, native=native)
    parser = ControlParser()
    changed = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run)
            with anyio.move_on_after(timeout):
                try:
                    async with contextlib.aclosing(link.chunks()) as chunks:
                        async for chunk in chunks:
                            if any(
                                isinstance(m, (SessionsChanged, Exit)) for m in parser.feed(chunk)
                            ):
                                break
                except (ProtocolError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
                except OSError:
                    pass
                # A change, the server's exit, or a client that could not start: look again.
                changed = True
            with anyio.CancelScope(shield=True):
                await _end_link(link)
    finally:
        with anyio.CancelScope(shield=True):
            await link.aclose()
    if link.version_mismatch:
        raise ProtocolMismatch(
            f"the tmux server at {socket_path} speaks another client protocol",
            hint="the watcher uses the tmux binary for this server instead",
        )
    return changed


async def _end_link(link: _NativeLink | _ProcessLink) -> None:
    # Ask politely (input closed: tmux detaches the client), then insist.
    await link.close_input()
    with anyio.move_on_after(2):
        await link.wait()
        return
    link.abort()
    with anyio.move_on_after(1):
        await link.wait()
        return
    link.kill()
    with anyio.move_on_after(1):
        await link.wait()


# --- how the watcher reaches a server: tmux's own client protocol, or a `tmux -C` process ------
#
# tmux 3.2 ... 3.6 (fixed in 3.7, PRs #4980 #5004) crash when a notification reaches a control
# client whose identification is half done: MSG_IDENTIFY_FLAGS marks it a control client at
# once, but only MSG_IDENTIFY_DONE creates its control state, and the `tmux` binary sends its
# identification in several writes (each descriptor ends one), between which the server runs
# other clients' commands (a new session's %sessions-changed then hits the NULL state:
# "segfault at 20"). Speaking the protocol ourselves closes that window: both descriptors go
# first (harmless before the flags), then FLAGS ... DONE and the command in ONE write, which
# the server reads and dispatches in one go (proc.c proc_event_cb). It also leaves no child
# process behind: when the watcher dies, the kernel closes its socket and pipes and the server
# drops the client.

PROTOCOL_VERSION = 8  # tmux-protocol.h, the same in every release 3.2 ... 3.7 and master
_HEADER = struct.Struct("=IHHII")  # imsg: type, len (with header), flags, peerid, pid
_IMSGF_HASFD = 1
_MAX_IMSG = 16384  # MAX_IMSGSIZE: larger messages are refused by the server
MSG_VERSION = 12
MSG_IDENTIFY_FLAGS = 100
MSG_IDENTIFY_TERM = 101
MSG_IDENTIFY_TTYNAME = 102
MSG_IDENTIFY_STDIN = 104
MSG_IDENTIFY_ENVIRON = 105
MSG_IDENTIFY_DONE = 106
MSG_IDENTIFY_CLIENTPID = 107
MSG_IDENTIFY_CWD = 108
MSG_IDENTIFY_FEATURES = 109
MSG_IDENTIFY_STDOUT = 110
MSG_IDENTIFY_LONGFLAGS = 111
MSG_COMMAND = 200
MSG_DETACH = 201
MSG_DETACHKILL = 202
MSG_EXIT = 203
MSG_EXITED = 204
MSG_EXITING = 205
MSG_LOCK = 206
MSG_READY = 207
MSG_RESIZE = 208
MSG_SHUTDOWN = 210
MSG_UNLOCK = 215
MSG_READ_OPEN = 300
MSG_READ_DONE = 302
MSG_WRITE_OPEN = 303
MSG_WRITE_READY = 305
CLIENT_CONTROL = 0x2000  # tmux.h (3.2 ... 3.7): `tmux -C`
CLIENT_UTF8 = 0x10000  # `tmux -u`
_EBADF = 9
# The client's environment matters only for sessions it creates (never) and update-environment
# on attach (off: attach-session -E). Little is sent, so identification stays one small write.
_ENV_KEYS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE")
CLIENT_ENV = "CCMGR_WATCH_TMUX_CLIENT"  # "binary": always use `tmux -C` (for comparisons)


class ProtocolMismatch(TmuxError):
    """The server speaks another client protocol version (it answered MSG_VERSION)."""


def imsg(kind: int, payload: bytes = b"", *, has_fd: bool = False, pid: int = 0) -> bytes:
    """One tmux protocol message (imsg header in native byte order, then the payload)."""
    flags = _IMSGF_HASFD if has_fd else 0
    return _HEADER.pack(kind, _HEADER.size + len(payload), flags, PROTOCOL_VERSION, pid) + payload


def identify_and_command(
    argv: Sequence[str], *, pid: int, cwd: str, term: str, environ: Mapping[str, str]
) -> bytes:
    """Everything after the two descriptors, as one write: FLAGS ... DONE, then the command.

    The same messages as tmux's client.c client_send_identify (minus the descriptors), for a
    control client (``-C``) with UTF-8 (``-u``), no tty and no terminal features.
    """

    def text(value: str) -> bytes:
        return value.encode("utf-8", "surrogateescape") + b"\0"

    flags = CLIENT_CONTROL | CLIENT_UTF8
    parts = [
        imsg(MSG_IDENTIFY_FLAGS, struct.pack("=i", flags), pid=pid),
        imsg(MSG_IDENTIFY_LONGFLAGS, struct.pack("=Q", flags), pid=pid),
        imsg(MSG_IDENTIFY_TERM, text(term), pid=pid),
        imsg(MSG_IDENTIFY_FEATURES, struct.pack("=i", 0), pid=pid),
        imsg(MSG_IDENTIFY_TTYNAME, b"\0", pid=pid),
        imsg(MSG_IDENTIFY_CWD, text(cwd), pid=pid),
        imsg(MSG_IDENTIFY_CLIENTPID, struct.pack("=i", pid), pid=pid),
    ]
    for key, value in environ.items():
        entry = text(f"{key}={value}")
        if len(entry) + _HEADER.size <= _MAX_IMSG:
            parts.append(imsg(MSG_IDENTIFY_ENVIRON, entry, pid=pid))
    parts.append(imsg(MSG_IDENTIFY_DONE, pid=pid))
    packed = b"".join(text(a) for a in argv)
    command = imsg(MSG_COMMAND, struct.pack("=i", len(argv)) + packed, pid=pid)
    if len(command) > _MAX_IMSG:
        raise TmuxError("tmux command too long", hint="this is a bug in ccmgr-watch")
    parts.append(command)
    return b"".join(parts)


def split_messages(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete messages (type, payload) off the front of ``buffer``."""
    messages = []
    while len(buffer) >= _HEADER.size:
        kind, length, _flags, _peer, _pid = _HEADER.unpack_from(buffer)
        if length < _HEADER.size:
            raise ProtocolError(
                f"bad tmux message length {length}", hint="check `tmux -V` (3.2+ is supported)"
            )
        if len(buffer) < length:
            break
        messages.append((kind, bytes(buffer[_HEADER.size : length])))
        del buffer[:length]
    return messages


class _NativeLink:
    """A control client made by speaking tmux's protocol on the server socket.

    Commands go into a pipe whose read end the server holds (the client's "stdin"), the
    control protocol comes out of another (its "stdout"); the socket carries only the
    identification and the server's exit messages, which are answered as tmux's client does.
    """

    def __init__(self, stream: UNIXSocketStream, stdin_fd: int, stdout_fd: int) -> None:
        self._stream = stream
        self._stdin: int | None = stdin_fd
        self._stdout: int | None = stdout_fd
        self._pid = os.getpid()
        self._done = anyio.Event()
        self.exit_reason: str | None = None  # what tmux's client would print after %exit
        self.lost = False  # the socket ended without an exit message
        self.version_mismatch = False
        self.returncode: int | None = None
        self.detail = ""

    async def send(self, data: bytes) -> None:
        """Write to the client's command pipe (never blocks the loop)."""
        view = memoryview(data)
        while view:
            fd = self._stdin
            if fd is None:
                raise anyio.ClosedResourceError
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                await anyio.wait_writable(fd)
                continue
            view = view[written:]

    async def chunks(self) -> AsyncGenerator[bytes]:
        """What the server writes to the client, until it closes the pipe."""
        while (fd := self._stdout) is not None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            if not data:
                return
            yield data

    async def close_input(self) -> None:
        """Close the command pipe: tmux then detaches the client (as on stdin EOF)."""
        fd, self._stdin = self._stdin, None
        if fd is not None:
            anyio.notify_closing(fd)
            os.close(fd)

    def abort(self) -> None:
        """Drop the connection at once (the server sees the socket close and frees the client)."""
        raw = self._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)

    def kill(self) -> None:
        """Drop the connection and stop reading (for a server that no longer answers)."""
        self.abort()
        fd, self._stdout = self._stdout, None
        if fd is not None:
            anyio.notify_closing(fd)
            os.close(fd)

    async def wait(self) -> None:
        """Until the socket is closed."""
        await self._done.wait()

    async def aclose(self) -> None:
        """Release the descriptors (after :meth:`run` and the readers ended)."""
        await self.close_input()
        fd, self._stdout = self._stdout, None
        if fd is not None:
            anyio.notify_closing(fd)
            os.close(fd)
        await self._stream.aclose()

    async def run(self) -> None:
        """Read the socket until the client's end, answering as tmux's client.c does."""
        buffer = bytearray()
        try:
            while True:
                try:
                    data = await self._stream.receive(65536)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    break
                except OSError:
                    break
                buffer += data
                try:
                    messages = split_messages(buffer)
                except ProtocolError as exc:
                    self.detail = str(exc)
                    break
                for kind, payload in messages:
                    if await self._dispatch(kind, payload):
                        return
        finally:
            if self.exit_reason is None:
                self.lost = True
                self.exit_reason = "server exited unexpectedly"
            # The server frees the client (and closes our pipes' other ends) when it sees
            # the socket close, as when tmux's client process exits.
            self.abort()
            self._done.set()

    async def _dispatch(self, kind: int, payload: bytes) -> bool:
        # True when the client's life is over (tmux's client would exit now).
        if kind == MSG_VERSION:
            self.version_mismatch = True
            self.exit_reason = "protocol version mismatch"
            return True
        if kind == MSG_EXIT:
            if len(payload) >= 4:
                self.returncode = struct.unpack_from("=i", payload)[0]
            message = payload[4:].split(b"\0", 1)[0].decode("utf-8", "replace")
            self.exit_reason = message
            return True
        if kind == MSG_SHUTDOWN:
            self.exit_reason = "server exited"
            return True
        if kind == MSG_EXITED:
            if self.exit_reason is None:
                self.exit_reason = ""
            return True
        if kind in (MSG_DETACH, MSG_DETACHKILL):
            self.exit_reason = "detached"
            await self._reply(MSG_EXITING)
        elif kind == MSG_READY:
            await self._reply(MSG_RESIZE)
        elif kind == MSG_LOCK:
            await self._reply(MSG_UNLOCK)
        elif kind in (MSG_READ_OPEN, MSG_WRITE_OPEN) and len(payload) >= 4:
            # The server asks the client to open a file or stream for it: never (a control
            # client of tmux's own refuses streams too); EBADF as tmux's file.c answers.
            stream = struct.unpack_from("=i", payload)[0]
            answer = MSG_READ_DONE if kind == MSG_READ_OPEN else MSG_WRITE_READY
            await self._reply(answer, struct.pack("=ii", stream, _EBADF))
        return False  # MSG_FLAGS, MSG_WRITE, ...: nothing to do

    async def _reply(self, kind: int, payload: bytes = b"") -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self._stream.send(imsg(kind, payload, pid=self._pid))


async def _open_native(socket_path: str, argv: Sequence[str]) -> _NativeLink:
    """Connect to the server and identify as a control client running ``argv``."""
    try:
        stream = await anyio.connect_unix(socket_path)
    except OSError as exc:
        raise TmuxError(
            f"cannot connect to the tmux server at {socket_path}: {exc.strerror or exc}",
            hint="the server may have just stopped; the watcher waits for the next one",
        ) from exc
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    os.set_blocking(in_write, False)
    os.set_blocking(out_read, False)
    pid = os.getpid()
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    env = control_env()
    batch = identify_and_command(
        argv,
        pid=pid,
        cwd=cwd,
        term=env.get("TERM", ""),
        environ={k: env[k] for k in _ENV_KEYS if k in env},
    )
    try:
        # Each descriptor in its own write (the server takes one per read), then the rest.
        await stream.send_fds(imsg(MSG_IDENTIFY_STDIN, has_fd=True, pid=pid), [in_read])
        await stream.send_fds(imsg(MSG_IDENTIFY_STDOUT, has_fd=True, pid=pid), [out_write])
        await stream.send(batch)
    except BaseException as exc:
        for fd in (in_write, out_read):
            os.close(fd)
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        if isinstance(exc, (OSError, anyio.BrokenResourceError)):
            raise TmuxError(
                f"cannot identify to the tmux server at {socket_path}: {exc!r}",
                hint="the server may have just stopped; the watcher waits for the next one",
            ) from exc
        raise
    finally:
        # The server holds its own copies now; ours would keep the pipes open forever.
        os.close(in_read)
        os.close(out_write)
    return _NativeLink(stream, in_write, out_read)


class _ProcessLink:
    """A control client run as a ``tmux -C`` child process (servers of another protocol).

    On Linux the child gets PR_SET_PDEATHSIG through a tiny exec shim, so it dies with the
    watcher whatever kills the watcher (a ``kill -9`` included).
    """

    def __init__(self, process: Process) -> None:
        self._process = process
        self.exit_reason: str | None = None  # the binary prints its own %exit line
        self.lost = False
        self.version_mismatch = False
        self.returncode: int | None = None
        self._stderr = b""

    @property
    def detail(self) -> str:
        """The end of what tmux printed on stderr."""
        return self._stderr.decode("utf-8", "replace").strip()

    async def send(self, data: bytes) -> None:
        """Write to the child's stdin."""
        assert self._process.stdin is not None
        await self._process.stdin.send(data)

    async def chunks(self) -> AsyncGenerator[bytes]:
        """The child's stdout."""
        assert self._process.stdout is not None
        async for chunk in self._process.stdout:
            yield chunk

    async def close_input(self) -> None:
        """Close the child's stdin: tmux detaches the client and the child exits."""
        if self._process.stdin is not None:
            with contextlib.suppress(Exception):
                await self._process.stdin.aclose()

    def abort(self) -> None:
        """SIGTERM the child."""
        with contextlib.suppress(ProcessLookupError, OSError):
            self._process.terminate()

    def kill(self) -> None:
        """SIGKILL the child."""
        with contextlib.suppress(ProcessLookupError, OSError):
            self._process.kill()

    async def wait(self) -> None:
        """Until the child exited."""
        self.returncode = await self._process.wait()

    async def aclose(self) -> None:
        """Reap the child and close its pipes."""
        await self._process.aclose()

    async def run(self) -> None:
        """Collect stderr (for the reason of an unexpected end) until the child closes it."""
        stderr = self._process.stderr
        if stderr is None:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async for chunk in stderr:
                self._stderr = (self._stderr + chunk)[-2000:]


# Sets the parent-death signal, then becomes tmux; exits at once if the parent is gone already.
_PDEATHSIG_SHIM = (
    "import ctypes,os,signal,sys\n"
    "ctypes.CDLL(None,use_errno=True).prctl(1,signal.SIGKILL)\n"
    "os.getppid()!=int(sys.argv[1]) and sys.exit(1)\n"
    "os.execvp(sys.argv[2],sys.argv[2:])\n"
)


async def _open_process(tmux: str, socket_path: str, argv: Sequence[str]) -> _ProcessLink:
    command = [tmux, "-u", "-S", socket_path, "-C", *argv]
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-c", _PDEATHSIG_SHIM, str(os.getpid()), *command]
    try:
        process = await anyio.open_process(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=control_env(),
        )
    except OSError as exc:
        raise TmuxError(
            f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer and put it on PATH"
        ) from exc
    return _ProcessLink(process)


async def _open_link(
    socket_path: str, argv: Sequence[str], *, tmux: str, native: bool
) -> _NativeLink | _ProcessLink:
    if native:
        return await _open_native(socket_path, argv)
    return await _open_process(tmux, socket_path, argv)


def native_by_default(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to speak tmux's protocol (the default) rather than run ``tmux -C``."""
    env = os.environ if environ is None else environ
    return env.get(CLIENT_ENV, "").strip().lower() != "binary"


# --- the control client -------------------------------------------------------------------------


class ServerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who we are on the server: own client name, own session, server pid and start time."""

    client_name: str
    session_id: str
    pid: int
    start_time: int


def _session_of(line: str) -> SessionInfo:
    # The path comes last and is not vis-encoded: it may itself contain the separator.
    fields = line.split(SEP, 7)
    if len(fields) != 8:
        raise ProtocolError(
            f"unexpected session line: {line[:200]!r}",
            hint="check `tmux -V` (3.2 or newer is supported)",
        )
    sid, name, created, attached, windows, activity, last_attached, path = fields
    return SessionInfo(
        session_id=sid,
        name=name,
        created=_int(created),
        attached=_int(attached),
        windows=_int(windows),
        activity=_opt_int(activity),
        last_attached=_opt_int(last_attached),
        path=path,
    )


def _check_id(value: str, sigil: str) -> str:
    if not (value.startswith(sigil) and value[1:].isdigit()):
        raise TmuxError(f"invalid tmux id {value!r}", hint="this is a bug in ccmgr-watch")
    return value


def _benign_exit(reason: str) -> bool:
    # tmux's %exit reasons for a detach, a killed session or a stopped server (client.c).
    return reason.startswith("detached") or reason in ("exited", "server exited")


class _Pending:
    __slots__ = ("done", "error", "mark", "reply")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.reply: Reply | None = None
        self.error: TmuxError | None = None
        self.mark = 0


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _opt_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


class ControlClient:
    """One ``tmux -C`` connection: commands in, replies and notifications out.

    Obtain one with :func:`open_control_client`. ``notifications`` yields every notification
    in arrival order (replies are routed to :meth:`command` instead) and ends after tmux's
    ``%exit`` or EOF; ``closed_reason`` then says why.

    Marks: the ``*_marked`` listings also return how many notifications had been delivered to
    ``notifications`` before their reply arrived. tmux writes notifications and replies to one
    ordered stream, so the notifications numbered (from 0, in ``notifications`` order) below
    the mark happened before the listing and are already reflected in it.
    """

    def __init__(
        self,
        link: _NativeLink | _ProcessLink,
        socket_path: str,
        session_id: str,
        buffer: int,
        reply_timeout: float = 10.0,
    ) -> None:
        self.socket_path = socket_path
        self.reply_timeout = reply_timeout
        self.target = session_id
        self.session_id: str | None = None
        self.closed_reason: str | None = None
        # Set when the connection ended abnormally (not a plain detach/kill/exit).
        self.failure: str | None = None
        self.returncode: int | None = None
        self.protocol_error: ProtocolError | None = None
        self.stray_lines = 0
        self.unsolicited_replies = 0
        self.delivered = 0  # notifications put into ``notifications`` so far
        self._link = link
        self._saw_exit = False
        self._parser = ControlParser()
        self._pending: deque[_Pending] = deque()
        # Uncontended nearly always (one task sends commands): fast_acquire skips the extra
        # trip through the event loop that a plain acquire costs.
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._attached = anyio.Event()
        self._closed = anyio.Event()
        self._last_unsolicited_error = ""
        send, receive = anyio.create_memory_object_stream[Notification](buffer)
        self._send: MemoryObjectSendStream[Notification] = send
        self.notifications: MemoryObjectReceiveStream[Notification] = receive

    @property
    def closed(self) -> bool:
        """True once tmux said ``%exit``, closed stdout, or the connection was shut down."""
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        """Wait until the connection has ended."""
        await self._closed.wait()

    # -- commands --

    async def command(self, *args: str) -> Reply:
        """Run one tmux command (arguments quoted safely) and return its successful reply.

        Raises :class:`TmuxError` with tmux's message when the command fails, or when the
        connection ends before the reply arrives.
        """
        return await self.command_line(_line_of(args))

    async def command_line(self, line: str) -> Reply:
        """Run one pre-built command line (exactly one command: no top-level ``;``)."""
        return (await self._request(line))[0]

    async def _request(self, line: str) -> tuple[Reply, int]:
        reply, mark = await self._exchange(line)
        if not reply.ok:
            text = "; ".join(reply.lines) or "unknown error"
            raise TmuxError(f"tmux: {text}", hint=f"the command was: {line[:200]}")
        return reply, mark

    async def _exchange(self, line: str) -> tuple[Reply, int]:
        # The reply whatever it says (``ok`` False for %error), and its notification mark.
        if "\n" in line or "\r" in line:
            raise TmuxError("a tmux command line cannot contain a newline", hint="this is a bug")
        if self.closed:
            raise TmuxError(
                f"tmux control client is closed ({self.closed_reason})",
                hint="the watcher reconnects by itself",
            )
        pending = _Pending()
        async with self._write_lock:
            # Appending before writing keeps the FIFO in write order; a reply cannot come
            # before its command is written.
            self._pending.append(pending)
            try:
                await self._link.send(line.encode("utf-8", "surrogateescape") + b"\n")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                with contextlib.suppress(ValueError):
                    self._pending.remove(pending)
                raise TmuxError(
                    f"cannot write to the tmux control client: {exc!r}",
                    hint="the tmux client exited; the watcher reconnects by itself",
                ) from exc
        with anyio.move_on_after(self.reply_timeout) as waited:
            await pending.done.wait()
        if waited.cancelled_caught:
            # Our commands are all quick. A reply that never comes means the stream is out of
            # step (e.g. a hook printed a line that looks like %begin): start afresh.
            self.failure = f"tmux did not answer within {self.reply_timeout:g} s: {line[:60]}"
            self._set_reason(self.failure)
            self._terminate()
            raise TmuxError(self.failure, hint="the watcher reconnects by itself")
        if pending.error is not None:
            raise pending.error
        assert pending.reply is not None
        return pending.reply, pending.mark

    # -- snapshot helpers --

    async def server_info(self) -> ServerInfo:
        """Own client name and session, server pid and start time (one round trip)."""
        reply = await self.command_line(f"display-message -p '{_INFO_FORMAT}'")
        fields = reply.lines[0].split(SEP) if reply.lines else []
        if len(fields) != 4 or not fields[2].isdigit() or not fields[3].isdigit():
            raise ProtocolError(
                f"unexpected display-message reply: {reply.lines!r}",
                hint="check `tmux -V` (3.2 or newer is supported)",
            )
        return ServerInfo(
            client_name=fields[0],
            session_id=fields[1],
            pid=int(fields[2]),
            start_time=int(fields[3]),
        )

    async def own_client_name(self) -> str:
        """This control client's name as other notifications will call it (``client-<pid>``)."""
        return (await self.server_info()).client_name

    async def list_sessions(self) -> list[SessionInfo]:
        """Every session on the server."""
        return (await self.list_sessions_marked())[0]

    async def list_sessions_marked(self) -> tuple[list[SessionInfo], int]:
        """Every session on the server, and the notification mark of the listing."""
        reply, mark = await self._request(f'list-sessions -F "{_SESSION_FORMAT}"')
        sessions = [_session_of(line) for line in reply.lines]
        return sessions, mark

    async def list_clients(self) -> list[ClientInfo]:
        """Every client attached to the server (control clients included, flagged)."""
        return (await self.list_clients_marked())[0]

    async def list_clients_marked(self) -> tuple[list[ClientInfo], int]:
        """Every client on the server, and the notification mark of the listing."""
        reply, mark = await self._request(f"list-clients -F '{_CLIENT_FORMAT}'")
        clients = []
        for line in reply.lines:
            fields = line.split(SEP)
            if len(fields) != 4:
                raise ProtocolError(
                    f"unexpected list-clients line: {line[:200]!r}",
                    hint="check `tmux -V` (3.2 or newer is supported)",
                )
            name, sid, control, pid = fields
            clients.append(
                ClientInfo(name=name, session_id=sid, control=control == "1", pid=_int(pid))
            )
        return clients, mark

    async def list_windows(self, window_id: str | None = None) -> list[WindowInfo]:
        """Every (session, window) link on the server, or only those of ``window_id``."""
        return (await self.list_windows_marked(window_id))[0]

    async def list_windows_marked(
        self, window_id: str | None = None
    ) -> tuple[list[WindowInfo], int]:
        """Window links (all, or of ``window_id``), and the notification mark of the listing."""
        line = f"list-windows -a -F '{_WINDOW_FORMAT}'"
        if window_id is not None:
            _check_id(window_id, "@")
            line += f" -f '#{{==:#{{window_id}},{window_id}}}'"
        reply, mark = await self._request(line)
        windows = []
        for text in reply.lines:
            fields = text.split(SEP)
            if len(fields) != 3:
                raise ProtocolError(
                    f"unexpected list-windows line: {text[:200]!r}",
                    hint="check `tmux -V` (3.2 or newer is supported)",
                )
            windows.append(WindowInfo(session_id=fields[0], window_id=fields[1], name=fields[2]))
        return windows, mark

    async def list_session_ids_marked(self) -> tuple[list[str], int]:
        """Only the session ids (cheap on a big server), and the notification mark."""
        # One line for all sessions (a #{S:} loop) rather than one line per session: on a
        # big server this is called for every %sessions-changed.
        reply, mark = await self._request("display-message -p '#{S:#{session_id} }'")
        return (reply.lines[0].split() if reply.lines else []), mark

    async def session_marked(self, session_id: str) -> tuple[SessionInfo | None, int]:
        """One session's details by id (None when it is gone), and the notification mark."""
        _check_id(session_id, "$")
        reply, mark = await self._exchange(
            f"display-message -t '{session_id}' -p \"{_SESSION_FORMAT}\""
        )
        if not reply.ok:
            return None, mark  # can't find session: it ended already (display-message
            # may also run without its target: the id check below catches that)
        if len(reply.lines) != 1:
            raise ProtocolError(
                f"unexpected display-message reply: {reply.lines!r}",
                hint="check `tmux -V` (3.2 or newer is supported)",
            )
        info = _session_of(reply.lines[0])
        return (info if info.session_id == session_id else None), mark

    async def window_lookup_marked(
        self, window_id: str
    ) -> tuple[list[WindowInfo], SessionInfo | None, int]:
        """The sessions a window is linked to now (empty when it is gone), and the mark.

        One ``display-message -t @W`` answers the common case (one link) without going
        through every window of the server, and brings that session's details along (a new
        session's first window is announced before the session); a window in several
        sessions is listed fully (no details then).
        """
        _check_id(window_id, "@")
        fmt = SEP.join(
            ["#{window_linked_sessions}", "#{window_id}", "#{window_name}", _SESSION_FORMAT]
        )
        reply, mark = await self._exchange(f"display-message -t '{window_id}' -p \"{fmt}\"")
        fields = reply.lines[0].split(SEP, 3) if len(reply.lines) == 1 else []
        if not reply.ok or len(fields) != 4 or fields[1] != window_id:
            # display-message runs even when its target is missing (with empty or other
            # values): the window is gone, no link is left.
            return [], None, mark
        if fields[0] != "1":
            links, mark = await self.list_windows_marked(window_id)
            return links, None, mark
        session = _session_of(fields[3])
        link = WindowInfo(session_id=session.session_id, window_id=window_id, name=fields[2])
        return [link], session, mark

    # -- internals --

    def _deliver(self, message: Message) -> None:
        if isinstance(message, Reply):
            if message.from_client and self._pending:
                pending = self._pending.popleft()
                pending.reply = message
                pending.mark = self.delivered
                pending.done.set()
            else:
                # flags 0: the attach command itself, or after-hooks run on our behalf.
                self.unsolicited_replies += 1
                if not message.ok:
                    self._last_unsolicited_error = "; ".join(message.lines)
            return
        if isinstance(message, Notification):
            if isinstance(message, SessionChanged):
                self.session_id = message.session_id
                self._attached.set()
            elif isinstance(message, Exit):
                self._saw_exit = True
                self._set_reason(f"tmux said %exit {message.reason or ''}".strip())
                if message.reason and not _benign_exit(message.reason):
                    self.failure = f"tmux control client exited: {message.reason}"
            try:
                self._send.send_nowait(message)
                self.delivered += 1
            except anyio.WouldBlock:
                # Never stop draining stdout (tmux would buffer without limit); a consumer
                # that falls this far behind gets a closed connection and reconciles.
                self._set_reason("notification backlog overflow")
                self.failure = "the watcher fell too far behind tmux's notifications"
                self._terminate()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
            return
        self.stray_lines += 1

    def _set_reason(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason

    def _terminate(self) -> None:
        self._link.abort()

    async def _read_stdout(self) -> None:
        link = self._link
        try:
            try:
                async with contextlib.aclosing(link.chunks()) as chunks:
                    async for chunk in chunks:
                        for message in self._parser.feed(chunk):
                            self._deliver(message)
                for message in self._parser.feed_eof():
                    self._deliver(message)
            except ProtocolError as exc:
                self.protocol_error = exc
                self._set_reason(str(exc))
                self.failure = str(exc)
                self._terminate()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                self._set_reason(f"stdout closed: {exc!r}")
                self.failure = self.closed_reason
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await link.wait()
            self.returncode = link.returncode
            if not self._saw_exit and link.exit_reason is not None:
                # Without a tmux binary nobody prints %exit: say what it would have said.
                self._deliver(Exit(reason=link.exit_reason or None))
            self._finish()

    def _finish(self) -> None:
        detail = self._last_unsolicited_error or self._link.detail
        reason = self.closed_reason or "tmux control client ended"
        if detail:
            reason = f"{reason}: {detail}"
        self.closed_reason = reason
        error = TmuxError(
            f"tmux control client exited ({reason})",
            hint="the session may have been killed or the server stopped; the watcher reconnects",
        )
        while self._pending:
            pending = self._pending.popleft()
            pending.error = error
            pending.done.set()
        self._send.close()
        self._closed.set()
        self._attached.set()  # wake an attach waiter; it checks ``closed``

    async def _shutdown(self) -> None:
        await self._link.close_input()  # input EOF makes tmux detach the client cleanly
        with anyio.move_on_after(2):
            await self._closed.wait()
            return
        self._terminate()
        with anyio.move_on_after(1):
            await self._closed.wait()
            return
        self._link.kill()
        await self._closed.wait()


@contextlib.asynccontextmanager
async def open_control_client(
    socket_path: str,
    session_id: str,
    *,
    tmux: str = "tmux",
    buffer: int = 10_000,
    attach_timeout: float = 10.0,
    reply_timeout: float = 10.0,
    native: bool = True,
) -> AsyncIterator[ControlClient]:
    """Attach a read-only, output-less control client to ``session_id`` on ``socket_path``.

    Returns once tmux confirmed the attach (``%session-changed``). Raises :class:`TmuxError`
    when tmux cannot attach (no such session, no server), :class:`ProtocolMismatch` when
    ``native`` and the server speaks another protocol version. A command whose reply takes
    longer than ``reply_timeout`` seconds ends the connection (its stream is out of step).
    Leaving the context closes the client's input, which makes tmux detach the client; one
    that does not go is dropped. ``native=False`` runs a ``tmux -C`` child process instead.
    """
    # -E: never copy the watcher's environment into the session (update-environment).
    argv = ["attach-session", "-E", "-f", CONTROL_FLAGS, "-t", session_id]
    link = await _open_link(socket_path, argv, tmux=tmux, native=native)
    client = ControlClient(link, socket_path, session_id, buffer, reply_timeout)
    attach_error: TmuxError | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run)
            tg.start_soon(client._read_stdout)
            try:
                with anyio.move_on_after(attach_timeout) as scope:
                    await client._attached.wait()
                if scope.cancelled_caught or client.closed:
                    attach_error = TmuxError(
                        f"cannot attach a control client to {session_id} on {socket_path}"
                        f" ({client.closed_reason or 'timed out'})",
                        hint="the session may have just ended; the watcher retries by itself",
                    )
                else:
                    yield client
            finally:
                with anyio.CancelScope(shield=True):
                    await client._shutdown()
                    with anyio.move_on_after(1):
                        await link.wait()
                    link.kill()
    except BaseExceptionGroup as group:
        # The reader tasks never raise, so a group holds the body's own exception: unwrap it
        # so callers can catch TmuxError and friends directly.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await link.aclose()
    if link.version_mismatch:
        raise ProtocolMismatch(
            f"the tmux server at {socket_path} speaks another client protocol",
            hint="the watcher uses the tmux binary for this server instead",
        )
    if attach_error is not None:
        raise attach_error
