"""The control client: one read-only, output-less control connection to a tmux session.

:func:`open_control_client` opens one over a link (:mod:`.tmux_link`: tmux's own client protocol,
or a ``tmux -u -C attach-session`` child for a server of another protocol version). Its output is
drained without pause by a reader task; commands go over the same connection and are matched to
replies in FIFO order among the blocks that tmux flags as ours. Never use ``refresh-client -B``
subscriptions or the ``wait-exit`` flag here: on tmux < 3.7 the pair crashes the whole tmux server
when the watcher's session is killed.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from watcher.capture.protocol import (
    ControlParser,
    Exit,
    Message,
    Notification,
    Reply,
    SessionChanged,
)
from watcher.capture.tmux_address import CONTROL_FLAGS, check_id, line_of
from watcher.capture.tmux_link import Link, open_link
from watcher.capture.tmux_replies import (
    CLIENT_FORMAT,
    INFO_FORMAT,
    SEP,
    SESSION_FORMAT,
    SHAPE_FIELDS,
    SHAPE_FORMAT,
    WINDOW_FORMAT,
    ServerInfo,
    benign_exit,
    parse_clients,
    parse_server_info,
    parse_windows,
    session_of,
    shape_of,
)
from watcher.capture.tracker import ClientInfo, SessionInfo, WindowInfo
from watcher.errors import ProtocolError, ProtocolMismatch, TmuxError

__all__ = ["ControlClient", "open_control_client"]


class _Pending:
    __slots__ = ("done", "error", "mark", "reply")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.reply: Reply | None = None
        self.error: TmuxError | None = None
        self.mark = 0


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
        link: Link,
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

    # -- commands --

    async def command(self, *args: str) -> Reply:
        """Run one tmux command (arguments quoted safely) and return its successful reply.

        Raises :class:`TmuxError` with tmux's message when the command fails, or when the
        connection ends before the reply arrives.
        """
        return await self.command_line(line_of(args))

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
        reply = await self.command_line(f"display-message -p '{INFO_FORMAT}'")
        return parse_server_info(reply.lines)

    async def list_sessions_marked(self) -> tuple[list[SessionInfo], int]:
        """Every session on the server, and the notification mark of the listing."""
        reply, mark = await self._request(f'list-sessions -F "{SESSION_FORMAT}"')
        return [session_of(line) for line in reply.lines], mark

    async def list_clients(self) -> list[ClientInfo]:
        """Every client attached to the server (control clients included, flagged)."""
        return (await self.list_clients_marked())[0]

    async def list_clients_marked(self) -> tuple[list[ClientInfo], int]:
        """Every client on the server, and the notification mark of the listing."""
        reply, mark = await self._request(f"list-clients -F '{CLIENT_FORMAT}'")
        return parse_clients(reply.lines), mark

    async def list_windows_marked(
        self, window_id: str | None = None
    ) -> tuple[list[WindowInfo], int]:
        """Window links (all, or of ``window_id``), and the notification mark of the listing."""
        # Double quotes: the pane paths' substitutions need tmux's escapes (see SHAPE_FORMAT).
        line = f'list-windows -a -F "{WINDOW_FORMAT}"'
        if window_id is not None:
            check_id(window_id, "@")
            line += f" -f '#{{==:#{{window_id}},{window_id}}}'"
        reply, mark = await self._request(line)
        return parse_windows(reply.lines), mark

    async def list_session_ids_marked(self) -> tuple[list[str], int]:
        """Only the session ids (cheap on a big server), and the notification mark."""
        # One line for all sessions (a #{S:} loop) rather than one line per session: on a
        # big server this is called for every %sessions-changed.
        reply, mark = await self._request("display-message -p '#{S:#{session_id} }'")
        return (reply.lines[0].split() if reply.lines else []), mark

    async def session_marked(self, session_id: str) -> tuple[SessionInfo | None, int]:
        """One session's details by id (None when it is gone), and the notification mark."""
        check_id(session_id, "$")
        reply, mark = await self._exchange(
            f"display-message -t '{session_id}' -p \"{SESSION_FORMAT}\""
        )
        if not reply.ok:
            return None, mark  # can't find session: it ended already (display-message
            # may also run without its target: the id check below catches that)
        if len(reply.lines) != 1:
            raise ProtocolError(
                f"unexpected display-message reply: {reply.lines!r}",
                hint="check `tmux -V` (3.2 or newer is supported)",
            )
        info = session_of(reply.lines[0])
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
        check_id(window_id, "@")
        fmt = SEP.join(
            [
                "#{window_linked_sessions}",
                "#{window_id}",
                "#{window_name}",
                SHAPE_FORMAT,
                SESSION_FORMAT,
            ]
        )
        reply, mark = await self._exchange(f"display-message -t '{window_id}' -p \"{fmt}\"")
        parts = 3 + SHAPE_FIELDS
        fields = reply.lines[0].split(SEP, parts) if len(reply.lines) == 1 else []
        if not reply.ok or len(fields) != parts + 1 or fields[1] != window_id:
            # display-message runs even when its target is missing (with empty or other
            # values): the window is gone, no link is left.
            return [], None, mark
        if fields[0] != "1":
            links, mark = await self.list_windows_marked(window_id)
            return links, None, mark
        session = session_of(fields[parts])
        link = WindowInfo(
            session_id=session.session_id,
            window_id=window_id,
            name=fields[2],
            shape=shape_of(window_id, fields[2], fields[3:parts]),
        )
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
                if message.reason and not benign_exit(message.reason):
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
    link = await open_link(socket_path, argv, tmux=tmux, native=native)
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
