"""The work engine on a real PostgreSQL, with a fake SMS provider (a port we own)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from domain.access import Actor
from domain.outbound import ProviderUnavailable
from domain.sms.commands import SendSms
from domain.sms.ports import OutboundSms
from ledgerflow.bootstrap import platform_session
from ledgerflow.ports import Ports, SmsPorts
from ledgerflow.settings import Settings
from ledgerflow.workflows.sms import SmsWorkflow

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")


class FlakyProvider:
    """Fails the first `failures` calls of each SMS, then accepts it."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    async def send(self, sms: OutboundSms) -> str:
        self.calls[sms.idempotency_key] = self.calls.get(sms.idempotency_key, 0) + 1
        if self.calls[sms.idempotency_key] <= self.failures:
            raise ProviderUnavailable("503 from the fake")
        return f"SM-{sms.idempotency_key[:8]}"


def test_retries_are_rescheduled_at_once_not_left_to_the_lease(fresh_database_url: str) -> None:
    """With a 60 s lease, only a rescheduled row can be retried within the test's time."""
    settings = Settings(
        database_url=fresh_database_url,
        work_lease_seconds=60,
        retry_base_seconds=0.01,
        retry_cap_seconds=0.05,
        retry_budget_seconds=30,
    )
    provider = FlakyProvider(failures=2)

    async def scenario() -> tuple[str, int, list[str]]:
        ports = Ports(sms=SmsPorts(provider=provider))
        async with platform_session(settings, ports=ports) as p:
            sms = p.get(SmsWorkflow)
            stop = asyncio.Event()
            worker = asyncio.create_task(sms.run_worker(stop))
            accepted, _ = await sms.service.send(
                SendSms(message_id=str(uuid.uuid4()), phone_number="+254712345678", text="hi"),
                ACTOR,
            )
            try:
                async with asyncio.timeout(30):
                    while True:
                        if (await sms.service.get(accepted.id)).status == "sent":
                            break
                        await asyncio.sleep(0.02)
            finally:
                stop.set()
                await worker
            final = await sms.service.get(accepted.id)
            history = [entry.type for entry in await sms.service.history(accepted.id)]
            return str(final.status), final.attempts, history

    status, attempts, history = asyncio.run(scenario())
    assert (status, attempts) == ("sent", 3)
    assert history == ["SmsRequested", "SmsSendAttemptFailed", "SmsSendAttemptFailed", "SmsSent"]
    with psycopg.connect(fresh_database_url) as conn:  # the finished row is gone
        assert conn.execute("SELECT count(*) FROM ledgerflow_work").fetchone() == (0,)
