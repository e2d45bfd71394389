"""The byte pipe to one tmux server: a native control client, or a ``tmux -C`` child process.

Both kinds offer the same small interface (send, chunks, close_input, abort, kill, wait, run,
aclose); :func:`open_link` picks one. The protocol bytes come from :mod:`.tmux_wire`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncGenerator, Sequence

import anyio
from anyio.abc import Process, UNIXSocketStream

from watcher.capture import tmux_wire as wire
from watcher.capture.tmux_address import control_env
from watcher.errors import ProtocolError, TmuxError

__all__ = ["Link", "NativeLink", "ProcessLink", "end_link", "open_link"]

# The client's environment matters only for sessions it creates (never) and update-environment
# on attach (off: attach-session -E). Little is sent, so identification stays one small write.
_ENV_KEYS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE")


class NativeLink:
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
                    messages = wire.split_messages(buffer)
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
        if kind == wire.MSG_VERSION:
            self.version_mismatch = True
            self.exit_reason = "protocol version mismatch"
            return True
        if kind == wire.MSG_EXIT:
            if len(payload) >= 4:
                self.returncode = struct.unpack_from("=i", payload)[0]
            message = payload[4:].split(b"\0", 1)[0].decode("utf-8", "replace")
            self.exit_reason = message
            return True
        if kind == wire.MSG_SHUTDOWN:
            self.exit_reason = "server exited"
            return True
        if kind == wire.MSG_EXITED:
            if self.exit_reason is None:
                self.exit_reason = ""
            return True
        if kind in (wire.MSG_DETACH, wire.MSG_DETACHKILL):
            self.exit_reason = "detached"
            await self._reply(wire.MSG_EXITING)
        elif kind == wire.MSG_READY:
            await self._reply(wire.MSG_RESIZE)
        elif kind == wire.MSG_LOCK:
            await self._reply(wire.MSG_UNLOCK)
        elif kind in (wire.MSG_READ_OPEN, wire.MSG_WRITE_OPEN) and len(payload) >= 4:
            # The server asks the client to open a file or stream for it: never (a control
            # client of tmux's own refuses streams too); wire.EBADF as tmux's file.c answers.
            stream = struct.unpack_from("=i", payload)[0]
            answer = wire.MSG_READ_DONE if kind == wire.MSG_READ_OPEN else wire.MSG_WRITE_READY
            await self._reply(answer, struct.pack("=ii", stream, wire.EBADF))
        return False  # MSG_FLAGS, MSG_WRITE, ...: nothing to do

    async def _reply(self, kind: int, payload: bytes = b"") -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self._stream.send(wire.imsg(kind, payload, pid=self._pid))


async def open_native(socket_path: str, argv: Sequence[str]) -> NativeLink:
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
    batch = wire.identify_and_command(
        argv,
        pid=pid,
        cwd=cwd,
        term=env.get("TERM", ""),
        environ={k: env[k] for k in _ENV_KEYS if k in env},
    )
    try:
        # Each descriptor in its own write (the server takes one per read), then the rest.
        await stream.send_fds(wire.imsg(wire.MSG_IDENTIFY_STDIN, has_fd=True, pid=pid), [in_read])
        await stream.send_fds(
            wire.imsg(wire.MSG_IDENTIFY_STDOUT, has_fd=True, pid=pid), [out_write]
        )
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
    return NativeLink(stream, in_write, out_read)


class ProcessLink:
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


async def open_process(tmux: str, socket_path: str, argv: Sequence[str]) -> ProcessLink:
    """Run ``tmux -C argv`` as a child that dies with the watcher (Linux: PR_SET_PDEATHSIG)."""
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
    return ProcessLink(process)


async def open_link(socket_path: str, argv: Sequence[str], *, tmux: str, native: bool) -> Link:
    """A control client running ``argv``: native (tmux's protocol) or a ``tmux -C`` process."""
    if native:
        return await open_native(socket_path, argv)
    return await open_process(tmux, socket_path, argv)


Link = NativeLink | ProcessLink


async def end_link(link: Link) -> None:
    """Ask politely (input closed: tmux detaches the client), then insist."""
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
