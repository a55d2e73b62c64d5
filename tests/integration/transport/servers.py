"""Servers for the HTTP client's tests, on real sockets: a raw one whose handler decides
every byte, a TLS one that requires a client certificate, and a forward/CONNECT proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.integration.transport.certificates import Certificates

ROUND_TRIP_SECONDS = 0.02

# -- a raw server ----------------------------------------------------------------------------


class Recording:
    """A reader that reads whole requests (head and Content-Length body) and notes heads."""

    def __init__(self, reader: asyncio.StreamReader, heads: list[bytes]) -> None:
        self.reader = reader
        self.heads = heads

    async def request(self) -> bytes:
        """The next request's body; raises `IncompleteReadError` at the end of the
        connection."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return await self.reader.readexactly(content_length(head))


Handler = Callable[[Recording, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, host: str = "127.0.0.1"
) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server on a free port running `handler` per connection; yields its URL and the
    requests' heads as they arrive (one list entry per request)."""
    heads: list[bytes] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(Recording(reader, heads), writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://{host}:{port}", heads


async def answer_each(
    reader: Recording, writer: asyncio.StreamWriter, release: asyncio.Event | None = None
) -> None:
    """Keep-alive: answer every request on the connection with its own body (once
    `release` is set, if given)."""
    while True:
        try:
            body = await reader.request()
        except asyncio.IncompleteReadError:
            return
        if release is not None:
            await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


def counted(handler: Handler, connections: list[None]) -> Handler:
    """`handler`, noting each connection it serves in `connections`."""

    async def serve(reader: Recording, writer: asyncio.StreamWriter) -> None:
        connections.append(None)
        await handler(reader, writer)

    return serve


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


# -- a TLS server that requires a client certificate -----------------------------------------


class MutualTlsServer:
    """HTTPS on 127.0.0.1, in threads (blocking sockets, as OpenSSL-based servers behave):
    it requires a certificate signed by the test CA and answers 200 with the client's name
    (and `answer`'s fields, such as the message id a provider answers with).
    A refused handshake sends its TLS alert and reads what the client sent meanwhile, so
    the client sees the alert rather than a reset."""

    def __init__(
        self,
        certificates: Certificates,
        *,
        maximum_version: ssl.TLSVersion | None = None,
        answer: Mapping[str, str] | None = None,
    ) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.server_cert, certificates.server_key)
        context.load_verify_locations(certificates.ca)
        context.verify_mode = ssl.CERT_REQUIRED
        if maximum_version is not None:
            context.maximum_version = maximum_version
        self.answered: list[str] = []  # the client name of each request answered
        self.refused = 0  # handshakes refused
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                tls = context.wrap_socket(
                    self.request, server_side=True, do_handshake_on_connect=False
                )
                try:
                    _handshake_across_a_network(tls)
                except (ssl.SSLError, OSError):
                    server.refused += 1
                    _read_out(socket.socket(fileno=tls.detach()))
                    self.handshake_refused = True
                    return
                self.handshake_refused = False
                self.request = self.connection = tls
                super().setup()

            def handle(self) -> None:
                if not self.handshake_refused:
                    super().handle()

            def finish(self) -> None:
                if not self.handshake_refused:
                    super().finish()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                peer = self.connection.getpeercert()
                name = dict(field[0] for field in peer["subject"])["commonName"] if peer else ""
                server.answered.append(name)
                body = json.dumps({"client": name, **(answer or {})}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serves until the block ends; yields the URL."""
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{self.port}"
        finally:
            self._http.shutdown()
            self._http.server_close()
            thread.join(5)


def _handshake_across_a_network(tls: ssl.SSLSocket) -> None:
    """The server's handshake, each wait for the client a round trip longer, as across a
    network rather than on one machine: a TLS 1.3 client has written its request when the
    server's verdict on its certificate arrives."""
    tls.setblocking(False)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            time.sleep(ROUND_TRIP_SECONDS)
            select.select([tls], [], [], 2)
        except ssl.SSLWantWriteError:
            select.select([], [tls], [], 2)
    tls.setblocking(True)


def _read_out(sock: socket.socket) -> None:
    """Close our side, then read what the client sent until it closes too: closing with
    unread bytes would reset the connection and could discard the alert sent before."""
    sock.settimeout(2)
    with contextlib.suppress(OSError), sock:
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass


# -- a proxy -----------------------------------------------------------------------------------


class Proxy:
    """An HTTP proxy on 127.0.0.1: tunnels `CONNECT host:port`, forwards absolute-form
    requests (one upstream connection per request); notes each in `seen`."""

    def __init__(self) -> None:
        self.seen: list[str] = []  # "CONNECT 127.0.0.1:8443", "POST http://127.0.0.1:80/x"
        self.url = ""

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            yield self.url

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
                self.seen.append(f"{method} {target}")
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                body = await reader.readexactly(content_length(head))
                await self._forward(target, head + body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _forward(self, target: str, request: bytes, writer: asyncio.StreamWriter) -> None:
        """Sends the request as it came (origin servers accept absolute-form) and relays
        the answer, read until the upstream closes."""
        authority = target.split("://", 1)[1].split("/", 1)[0]
        host, port = authority.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        try:
            upstream_writer.write(request)
            upstream_writer.write_eof()  # one request: the upstream answers, then closes
            writer.write(await upstream_reader.read())
            await writer.drain()
        finally:
            upstream_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
