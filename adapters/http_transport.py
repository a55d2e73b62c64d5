"""An httpx transport for HTTP/1.1 on asyncio protocols, parsed by httptools.

The adapters make plain calls: a small request with its body in memory, a small answer,
over keep-alive connections to one party, a thousand times a second or more, with a cap
on the calls in flight. Two costs dominated under aiohttp (through `httpx_aiohttp`):

- its layers (request and response objects, stream readers, timers, header multidicts)
  took about a quarter of a billing worker's CPU. Here a call is one `write` and
  httptools' C parser fed from `data_received`.
- a freed connection stood idle until the event loop got round to the task waiting for
  it, several milliseconds on a busy loop, on every call. Here calls beyond the cap wait
  in a queue as bytes, and a connection that has just read an answer writes the next
  waiting request itself, in the same callback: a capped connection is never idle while
  a call waits.

Errors say whether the request can have gone out (the rules of `adapters.outbound_http`):

- no free connection in time -> `httpx.PoolTimeout`; could not connect -> `ConnectError`;
  connecting timed out -> `ConnectTimeout`: the request was never sent;
- no whole answer in time after sending -> `ReadTimeout`;
- the connection closed, reset or spoke nonsense before the whole answer ->
  `RemoteProtocolError` or `ReadError`: the request may have had its effect.

An idle connection is reused only while it is open; one the party closed meanwhile is
dropped. A connection whose call did not end cleanly (a timeout, a cancelled caller, a
malformed answer) is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast

import httptools
import httpx

Origin = tuple[bytes, str, int]  # scheme, host, port
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_SKIPPED = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})
_BODYLESS_METHODS = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS"})


class _Answer:
    """One response as it is parsed."""

    __slots__ = ("body", "headers", "keep_alive", "reads_to_close", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.reads_to_close = False  # no length, not chunked: the body ends with the connection
        self.keep_alive = False  # read as the answer completes (the parser then resets)


class _Call:
    """One request on its way: queued, then sent on a connection, then answered."""

    __slots__ = ("connection", "future", "head_only", "message", "origin", "started", "timeouts")

    def __init__(
        self,
        origin: Origin,
        message: bytes,
        head_only: bool,
        timeouts: dict[str, float | None],
        future: asyncio.Future[_Answer],
    ) -> None:
        self.origin = origin
        self.message = message
        self.head_only = head_only  # a HEAD answer has headers only
        self.timeouts = timeouts
        self.future = future
        self.started = False  # left the queue: connecting or sent
        self.connection: _Connection | None = None  # set once sent


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one call at a time; tells its pool when a call ends."""

    def __init__(self, pool: Http1Transport, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._call: _Call | None = None
        self._answer: _Answer | None = None
        self._timer: asyncio.TimerHandle | None = None

    def send(self, call: _Call) -> None:
        assert self.transport is not None and self._call is None
        call.connection = self
        self._call, self._answer = call, _Answer()
        self.transport.write(call.message)
        read_timeout = call.timeouts.get("read")
        if read_timeout is not None:
            self._timer = asyncio.get_running_loop().call_later(read_timeout, self._time_out)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _end(self, answer: _Answer | None, error: Exception | None) -> None:
        """The call ends: answer or fail its caller, then hand the connection back."""
        call, self._call, self._answer = self._call, None, None
        if call is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reusable = error is None and answer is not None and answer.keep_alive
        if not reusable or call.head_only:
            self.close()
        if not call.future.done():
            if error is not None:
                call.future.set_exception(error)
            else:
                call.future.set_result(cast(_Answer, answer))
        self.pool._ended(self)

    def _time_out(self) -> None:
        self._timer = None
        self._end(None, httpx.ReadTimeout("no answer in time after sending the request"))

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's is not an `asyncio.Transport` subclass, but has `write`).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._call is None:  # nothing was asked: a party that speaks out of turn
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._end(None, httpx.RemoteProtocolError(f"malformed answer: {error}"))

    def eof_received(self) -> bool:
        self.closed = True
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self._answer
        if self._call is None:
            self.pool._lost(self)
        elif answer is not None and answer.reads_to_close and exc is None:
            self._end(answer, None)
        elif exc is not None:
            self._end(None, httpx.ReadError(f"connection lost after sending: {exc!r}"))
        else:
            self._end(
                None, httpx.RemoteProtocolError("the party closed the connection without an answer")
            )

    # httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._answer is not None
        self._answer.headers.append((name, value))

    def on_headers_complete(self) -> None:
        answer, call = self._answer, self._call
        assert answer is not None and call is not None
        answer.status = self._parser.get_status_code()
        if call.head_only:
            self._end(answer, None)
            return
        names = {name.lower() for name, _ in answer.headers}
        answer.reads_to_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and answer.status not in (204, 304)
        )

    def on_body(self, body: bytes) -> None:
        if self._answer is not None:
            self._answer.body.append(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        if answer is not None:
            answer.keep_alive = self._parser.should_keep_alive()
            self._end(answer, None)


class Http1Transport(httpx.AsyncBaseTransport):
    """Keep-alive connections, at most `max_connections` calls in flight, the rest queued
    in order (see the module's docstring)."""

    def __init__(self, *, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max = max_connections
        self._busy = 0  # connections with a call in flight, or connecting for one
        self._queue: deque[_Call] = deque()
        self._idle: dict[Origin, list[_Connection]] = {}
        self._ssl = ssl_context
        self._connecting: set[asyncio.Task[None]] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        origin: Origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        body = await request.aread()
        loop = asyncio.get_running_loop()
        call = _Call(
            origin,
            _serialize(request, body),
            request.method == "HEAD",
            request.extensions.get("timeout", {}),
            loop.create_future(),
        )
        self._queue.append(call)
        self._dispatch()
        pool_timer = None
        if not call.started and (wait := call.timeouts.get("pool")) is not None:
            pool_timer = loop.call_later(wait, self._pool_timed_out, call)
        try:
            answer = await call.future
        except httpx.TransportError as error:
            error.request = request
            raise
        except asyncio.CancelledError:
            if call.connection is not None:  # sent: a late answer must not reach another call
                call.connection.close()
            raise
        finally:
            if pool_timer is not None:
                pool_timer.cancel()
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(b"".join(answer.body)),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        for task in self._connecting:
            task.cancel()
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    # Dispatching --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued calls while fewer than `max_connections` are in flight."""
        while self._busy < self._max and self._queue:
            call = self._queue.popleft()
            if call.future.done():  # its caller gave up while it waited
                continue
            call.started = True
            self._busy += 1
            connection = self._idle_connection(call.origin)
            if connection is not None:
                connection.send(call)
            else:
                task = asyncio.get_running_loop().create_task(self._connect_and_send(call))
                self._connecting.add(task)
                task.add_done_callback(self._connecting.discard)

    def _ended(self, connection: _Connection) -> None:
        """A call on `connection` ended: the next waiting call for its party goes out on it
        at once; otherwise it waits idle (if still open) and its slot is free."""
        if not connection.closed:
            while self._queue and self._queue[0].origin == connection.origin:
                call = self._queue.popleft()
                if not call.future.done():
                    call.started = True
                    connection.send(call)
                    return
            self._idle.setdefault(connection.origin, []).append(connection)
        self._busy -= 1
        self._dispatch()

    def _lost(self, connection: _Connection) -> None:
        """An idle connection closed: forget it."""
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed
            if not connection.closed:
                return connection
        return None

    def _pool_timed_out(self, call: _Call) -> None:
        if not call.started and not call.future.done():
            call.future.set_exception(httpx.PoolTimeout("no free connection in time"))

    async def _connect_and_send(self, call: _Call) -> None:
        scheme, host, port = call.origin
        tls = (self._ssl or ssl.create_default_context()) if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(call.timeouts.get("connect")):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(self, call.origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except (TimeoutError, OSError) as error:  # ssl.SSLError is an OSError
            if not call.future.done():
                call.future.set_exception(
                    httpx.ConnectTimeout(f"connecting to {host}:{port} timed out")
                    if isinstance(error, TimeoutError)
                    else httpx.ConnectError(f"cannot connect to {host}:{port}: {error}")
                )
            self._busy -= 1
            self._dispatch()
            return
        except asyncio.CancelledError:  # the transport is closing
            if not call.future.done():
                call.future.set_exception(httpx.ConnectError("the transport closed"))
            self._busy -= 1
            raise
        connection = cast(_Connection, protocol)
        if call.future.done():  # its caller gave up while it connected
            self._ended(connection)
        else:
            connection.send(call)


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    """The request as bytes: its own headers, a length for the body, keep-alive."""
    url = request.url
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), url.raw_path)]
    lines.extend(
        b"%s: %s" % (name, value)
        for name, value in request.headers.raw
        if name.lower() not in _SKIPPED
    )
    if body or request.method.encode() not in _BODYLESS_METHODS:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"\r\n")
    return b"\r\n".join(lines) + body
