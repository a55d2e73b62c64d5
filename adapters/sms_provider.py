"""`SmsProvider` over HTTP, against the contract of `adapters.simulators.sms_provider`.

Errors are classified by whether the request can have had its effect (`domain.outbound`):
refused before sending -> `ProviderUnavailable`; lost after sending -> `OutcomeUnknown`.
The idempotency key is always sent, so a retry after `OutcomeUnknown` is safe with a
provider that honours it. Phone numbers are masked in logs and error details.
"""

from __future__ import annotations

import logging

import httpx

from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.privacy import mask_phone_number
from domain.sms_provider import OutboundSms

logger = logging.getLogger(__name__)

# 4xx that mean "not now" rather than "never": refusing them for good would lose the SMS.
TRANSIENT_4XX = frozenset({408, 425, 429})
# The request certainly did not go out.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAX_DETAIL = 200


class HttpSmsProvider:
    """Sends one SMS per call with `POST {base_url}/v1/messages`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/messages"

    async def send(self, sms: OutboundSms) -> str:
        masked = mask_phone_number(sms.phone_number)
        try:
            response = await self._client.post(
                self._url,
                json={"to": sms.phone_number, "text": sms.text},
                headers={"Idempotency-Key": sms.idempotency_key},
            )
        except NOT_SENT as error:
            raise ProviderUnavailable(f"SMS provider unreachable: {_describe(error)}") from error
        except httpx.TransportError as error:
            logger.warning(
                "SMS to %s (key %s): outcome unknown: %s",
                masked,
                sms.idempotency_key,
                _describe(error),
            )
            raise OutcomeUnknown(
                f"no answer from the SMS provider after sending: {_describe(error)}"
            ) from error

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
        error_text = _error_text(response, sms.phone_number, masked)
        if status >= 500 or status in TRANSIENT_4XX:
            raise ProviderUnavailable(f"SMS provider answered {status}: {error_text}")
        if 400 <= status < 500:
            logger.info("SMS to %s refused (%s): %s", masked, status, error_text)
            raise ProviderRejected(f"SMS provider refused the message ({status}): {error_text}")
        raise OutcomeUnknown(f"SMS provider answered an unexpected {status}: {error_text}")


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _error_text(response: httpx.Response, number: str, masked: str) -> str:
    """The provider's own words, short and with the phone number masked."""
    try:
        body = response.json()
        text = str(body.get("error") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        text = response.text
    return text.replace(number, masked)[:MAX_DETAIL]
