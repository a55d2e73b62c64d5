"""Each process's Prometheus metrics, served on a port of its own
(`LEDGERFLOW_METRICS_PORT`, on `LEDGERFLOW_METRICS_HOST`), never on the API's public one.

Every process serves its own series (the API its requests, a workflow's worker its
outbound calls) and the Python runtime's. The platform's state read from the database
(lag, backlog, parked items) is served by the projections worker alone
(`platform_status_metrics`), so the database is asked once per scrape, not once per
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.registry import CollectorRegistry

from adapters.status_metrics import PlatformStatus, PlatformStatusCollector, read_platform_status
from ledgerflow.bootstrap import Platform
from ledgerflow.settings import Settings
from ledgerflow.workflows import WORKFLOWS

log = logging.getLogger(__name__)

STATUS_READ_TIMEOUT_SECONDS = 10.0


def serve_metrics(settings: Settings, process: str) -> int | None:
    """Serve this process's metrics from a thread of their own, when the settings ask;
    answers the port (the one picked, for port 0)."""
    if settings.metrics_port is None:
        return None
    server, _ = start_http_server(settings.metrics_port, settings.metrics_host)
    port = int(server.server_port)
    log.info(
        "metrics served",
        extra={"served_by": process, "url": f"http://{settings.metrics_host}:{port}/metrics"},
    )
    return port


@contextlib.contextmanager
def platform_status_metrics(
    platform: Platform, registry: CollectorRegistry = REGISTRY
) -> Iterator[None]:
    """While open (in the process's event loop), the platform's state is among the
    metrics, read with this process's pool and clock when scraped."""
    if platform.settings.metrics_port is None:
        yield
        return
    loop = asyncio.get_running_loop()
    parked = [rows for workflow in WORKFLOWS for rows in workflow.parked]
    heartbeat = timedelta(seconds=platform.settings.process_heartbeat_seconds)

    def read() -> PlatformStatus:
        # Called by the metrics server's thread: the queries run on the loop, its pool.
        reading = read_platform_status(platform.pool, platform.clock.now(), parked, heartbeat)
        future = asyncio.run_coroutine_threadsafe(reading, loop)
        try:
            return future.result(STATUS_READ_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    collector = PlatformStatusCollector(read)
    registry.register(collector)
    try:
        yield
    finally:
        registry.unregister(collector)
