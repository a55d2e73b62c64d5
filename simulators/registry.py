"""Every simulator by name, and how to run one (blocking, or in a thread for tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from fastapi import FastAPI

from simulators import bank_partner as bank_partner
from simulators import exchange as exchange
from simulators import mailbox as mailbox
from simulators import payment_provider as payment_provider
from simulators import payment_rail as payment_rail
from simulators import sms_provider

SIMULATORS: dict[str, Callable[[], FastAPI]] = {
    sms_provider.NAME: sms_provider.create_app,
    exchange.NAME: exchange.create_app,
    payment_provider.NAME: payment_provider.create_app,
    bank_partner.NAME: bank_partner.create_app,
    payment_rail.NAME: payment_rail.create_app,
    mailbox.NAME: mailbox.create_app,
}

HttpImpl = Literal["h11", "httptools"]


def server_config(
    app: FastAPI, host: str, port: int, *, http: HttpImpl = "httptools"
) -> uvicorn.Config:
    """One uvicorn configuration for every simulator.

    Both h11 and httptools support dropping a connection (tested); the short graceful
    shutdown stops a server that still holds a "timeout" request.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http,
        log_level="warning",
        access_log=False,
        # Called directly, never through a proxy: no layer reading forwarding headers on
        # every request.
        proxy_headers=False,
        timeout_graceful_shutdown=2,
    )


def serve(name: str, host: str, port: int) -> None:
    """Run the simulator `name` until interrupted."""
    try:
        factory = SIMULATORS[name]
    except KeyError:
        raise ValueError(f"unknown simulator {name!r}; known: {', '.join(SIMULATORS)}") from None
    uvicorn.Server(server_config(factory(), host, port)).run()


@contextmanager
def running(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, http: HttpImpl = "httptools"
) -> Iterator[str]:
    """Serve `app` on a real port in a background thread; yields its base URL.

    Port 0 picks a free port (the socket is bound here, so there is no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, host, bound_port, http=http))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"simulator:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
