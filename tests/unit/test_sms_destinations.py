"""Which countries a client may text (domain/sms/destinations.py), checked once by the SMS
service for every way in, and read from `LEDGERFLOW_SMS_ALLOWED_COUNTRIES`."""

from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate

from domain.access import Actor
from domain.clock import ManualClock
from domain.sms.commands import SendSms
from domain.sms.destinations import AllowedCountries, country_of
from domain.sms.errors import DestinationCountryNotAllowed
from ledgerflow.settings import AbuseLimits
from processes.sms.application import SmsApplication, SmsService

KENYA, TANZANIA, UGANDA = "+254712345678", "+255712345678", "+256712345678"
CLIENT_A = Actor("client", "client-a")
RULES = AllowedCountries.of({"client-a": ["KE", "tz"], "*": ["KE"]})


def test_numbers_resolve_to_their_country() -> None:
    assert [country_of(n) for n in (KENYA, TANZANIA, UGANDA)] == ["KE", "TZ", "UG"]
    assert country_of("+14165550123") == "CA"  # +1 is shared: resolved per number
    assert country_of("+80012345678") == "001"  # non-geographic


@pytest.mark.parametrize(
    ("client", "number", "allowed"),
    [
        ("client-a", KENYA, True),
        ("client-a", TANZANIA, True),
        ("client-a", UGANDA, False),
        ("client-b", KENYA, True),  # not listed: the "*" rule
        ("client-b", TANZANIA, False),
        (None, TANZANIA, False),  # a sender that names no client: the "*" rule too
    ],
)
def test_a_listed_client_has_its_countries_and_the_others_the_default(
    client: str | None, number: str, allowed: bool
) -> None:
    if allowed:
        RULES.check(client, number)
    else:
        with pytest.raises(DestinationCountryNotAllowed):
            RULES.check(client, number)


def test_without_rules_every_country_is_allowed_and_without_a_default_every_other_client() -> None:
    AllowedCountries.of(None).check("client-a", UGANDA)
    AllowedCountries.of({"client-a": ["KE"]}).check("client-b", UGANDA)
    with pytest.raises(DestinationCountryNotAllowed):
        AllowedCountries.of({"*": []}).check("client-b", KENYA)


def test_the_refusal_names_the_country_and_the_client_never_the_number() -> None:
    with pytest.raises(DestinationCountryNotAllowed) as refused:
        RULES.check("client-a", UGANDA)

    assert refused.value.code == "destination_country_not_allowed"
    assert "UG" in str(refused.value) and "client-a" in str(refused.value)
    assert UGANDA not in str(refused.value) and UGANDA[4:] not in str(refused.value)


async def test_the_service_refuses_before_recording_anything() -> None:
    application = SmsApplication()

    async def save(*aggregates: Aggregate) -> None:
        application.save(*aggregates)

    service = SmsService(application, save, ManualClock(), RULES)
    command = SendSms(message_id="m-1", phone_number=UGANDA, text="hi")

    with pytest.raises(DestinationCountryNotAllowed):
        await service.send(command, CLIENT_A)
    assert application.recorder.max_notification_id() in (None, 0)

    sms, created = await service.send(command.model_copy(update={"phone_number": KENYA}), CLIENT_A)
    assert created and sms.phone_number == KENYA


def test_the_rules_are_read_as_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LEDGERFLOW_SMS_ALLOWED_COUNTRIES", '{"client-a": ["ke", "TZ"], "*": ["KE"]}'
    )
    limits = AbuseLimits()
    assert limits.sms_allowed_countries == {"client-a": ["KE", "TZ"], "*": ["KE"]}
    assert AllowedCountries.of(limits.sms_allowed_countries) == RULES


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEDGERFLOW_SMS_ALLOWED_COUNTRIES", '{"client-a": ["Kenya"]}'),
        ("LEDGERFLOW_RATE_LIMIT_SMS", "a lot"),
        ("LEDGERFLOW_RATE_LIMIT_ORDERS", "100/fortnight"),
    ],
)
def test_settings_that_do_not_parse_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable.removeprefix("LEDGERFLOW_").lower()):
        AbuseLimits()
