"""`SmsProvider` over HTTP, against the contract of `simulators.sms_provider`.

Errors are classified by whether the request can have had its effect (`domain.outbound`):
refused before sending -> `ProviderUnavailable`; lost after sending -> `OutcomeUnknown`.
The idempotency key is always sent, so a retry after `OutcomeUnknown` is safe with a
provider that honours it. Phone numbers are masked in logs and error details.
"""

from __future__ import annotations

import logging

import httpx

from adapters.outbound_http import error_text, send, status_error
from domain.outbound import OutcomeUnknown, ProviderRejected
from domain.privacy import mask_phone_number
from domain.sms.ports import OutboundSms

logger = logging.getLogger(__name__)


class HttpSmsProvider:
    """Sends one SMS per call with `POST {base_url}/v1/messages`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/messages"

    async def send(self, sms: OutboundSms) -> str:
        masked = mask_phone_number(sms.phone_number)
        try:
            response = await send(
                self._client,
                "POST",
                self._url,
                party="SMS provider",
                json={"to": sms.phone_number, "text": sms.text},
                headers={"Idempotency-Key": sms.idempotency_key},
            )
        except OutcomeUnknown as error:
            logger.warning(
                "SMS to %s (key %s): outcome unknown: %s", masked, sms.idempotency_key, error
            )
            raise

        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = response.json()["message_id"]
            except (ValueError, KeyError, TypeError) as error:
                # It said yes, so the SMS probably went out, but we cannot tell which one.
                raise OutcomeUnknown(
                    f"SMS provider answered {status} without a message id"
                ) from error
            if not isinstance(message_id, str) or not message_id:
                raise OutcomeUnknown(f"SMS provider answered {status} with a bad message id")
            return message_id
        # The provider may echo the number back: `error_text` masks it (and any other).
        detail = error_text(response)
        failure = status_error(status, detail, party="SMS provider", what="message")
        if isinstance(failure, ProviderRejected):
            logger.info("SMS to %s refused (%s): %s", masked, status, detail)
        raise failure
