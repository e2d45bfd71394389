"""The I/O edge for one tmux server: addresses, a no-side-effect probe, and the control client.

Everything here talks to a ``tmux`` binary through argv lists (never a shell) with ``$TMUX``
removed from the environment and an explicit ``-S <socket>``, so the watcher never reaches a
server it was not asked to watch and never starts one. The control client
(:func:`open_control_client`) is one long-lived ``tmux -u -C attach-session -f no-output,...``
process whose stdout is drained without pause by a reader task; commands go over the same
connection and are matched to replies in FIFO order among the blocks that tmux flags as ours.
Never use ``refresh-client -B`` subscriptions or the ``wait-exit`` flag here: on tmux < 3.7 the
pair crashes the whole tmux server when the watcher's session is killed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import anyio
import msgspec
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from store.errors import ProtocolError, TmuxError
from watcher.protocol import (
    ControlParser,
    Exit,
    Message,
    Notification,
    Reply,
    SessionChanged,
    SessionsChanged,
)
from watcher.tracker import ClientInfo, SessionInfo, WindowInfo

__all__ = [
    "CONTROL_FLAGS",
    "ControlClient",
    "ProbeResult",
    "ServerInfo",
    "choose_session",
    "control_env",
    "default_socket_path",
    "open_control_client",
    "probe_server",
    "quote_argument",
    "resolve_address",
    "socket_dir",
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
    socket_path: str, timeout: float, *, tmux: str = "tmux"
) -> bool:
    """On a running server without sessions, wait until one is created (or the server exits).

    Uses a session-less control client (``tmux -C wait-for <unique channel>``): it receives
    ``%sessions-changed`` and ``%exit`` but is attached to no session, so it has none of an
    attached client's side effects, and no polling is needed. Returns False on timeout.
    """
    channel = f"ccmgr-watch-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    argv = [tmux, "-u", "-S", socket_path, "-C", "wait-for", channel]
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=control_env(),
        )
    except OSError as exc:
        raise TmuxError(
            f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer and put it on PATH"
        ) from exc
    parser = ControlParser()
    changed = False
    try:
        with anyio.move_on_after(timeout):
            stdout = process.stdout
            assert stdout is not None
            try:
                async for chunk in stdout:
                    if any(isinstance(m, (SessionsChanged, Exit)) for m in parser.feed(chunk)):
                        break
            except (ProtocolError, anyio.BrokenResourceError, OSError):
                pass
            # A change, the server's exit, or a client that could not start: look again.
            changed = True
    finally:
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(ProcessLookupError, OSError):
                process.terminate()
            with anyio.move_on_after(2):
                await process.wait()
            with contextlib.suppress(ProcessLookupError, OSError):
                process.kill()
            await process.aclose()
    return changed


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
        process: Process,
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
        self._process = process
        self._parser = ControlParser()
        self._pending: deque[_Pending] = deque()
        # Uncontended nearly always (one task sends commands): fast_acquire skips the extra
        # trip through the event loop that a plain acquire costs.
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._attached = anyio.Event()
        self._closed = anyio.Event()
        self._last_unsolicited_error = ""
        self._stderr_tail = b""
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
                await self._process.stdin.send(line.encode("utf-8", "surrogateescape") + b"\n")  # type: ignore[union-attr]
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
        with contextlib.suppress(ProcessLookupError, OSError):
            self._process.terminate()

    async def _read_stdout(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            try:
                async for chunk in stdout:
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
                self.returncode = await self._process.wait()
            self._finish()

    async def _read_stderr(self) -> None:
        stderr = self._process.stderr
        if stderr is None:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async for chunk in stderr:
                self._stderr_tail = (self._stderr_tail + chunk)[-2000:]

    def _finish(self) -> None:
        detail = (
            self._last_unsolicited_error or self._stderr_tail.decode("utf-8", "replace").strip()
        )
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
        stdin = self._process.stdin
        if stdin is not None:
            with contextlib.suppress(Exception):
                await stdin.aclose()  # stdin EOF makes tmux detach and exit cleanly
        with anyio.move_on_after(2):
            await self._closed.wait()
            return
        self._terminate()
        with anyio.move_on_after(1):
            await self._closed.wait()
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            self._process.kill()
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
) -> AsyncIterator[ControlClient]:
    """Attach a read-only, output-less control client to ``session_id`` on ``socket_path``.

    Returns once tmux confirmed the attach (``%session-changed``). Raises :class:`TmuxError`
    when tmux cannot attach (no such session, no server). A command whose reply takes longer
    than ``reply_timeout`` seconds ends the connection (its stream is out of step). Leaving the
    context closes stdin, which makes tmux detach the client; one that does not exit is
    terminated.
    """
    argv = [tmux, "-u", "-S", socket_path, "-C", "attach-session", "-f", CONTROL_FLAGS]
    argv += ["-t", session_id]
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=control_env(),
        )
    except OSError as exc:
        raise TmuxError(
            f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer and put it on PATH"
        ) from exc
    client = ControlClient(process, socket_path, session_id, buffer, reply_timeout)
    attach_error: TmuxError | None = None
    try:
        async with process, anyio.create_task_group() as tg:
            tg.start_soon(client._read_stdout)
            tg.start_soon(client._read_stderr)
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
    except BaseExceptionGroup as group:
        # The reader tasks never raise, so a group holds the body's own exception: unwrap it
        # so callers can catch TmuxError and friends directly.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if attach_error is not None:
        raise attach_error
