"""Extreme and malformed values against every create endpoint, on a real PostgreSQL with
the read models running: huge integers, long and odd unicode strings, `1e309`, NaN,
negative zero, deep JSON. Every answer is a 2xx or a 4xx (never a 5xx), the lists still
read, and every follower reaches the head of its log with nothing set aside: what the
edge accepts, every table can hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.migrations import migrate
from domain.access import Role
from domain.reimbursements.reference import reference_id
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.databases import empty_database
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

DANISH_ACCOUNT = reference_id("account", "nordic-m-1-acct")  # demo banks: DKK
DANISH_MEMBER = reference_id("member", "nordic-m-1")
NORDIC = reference_id("bank", "nordic-coop")
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is: what `json.dumps` would not write (`1e309`, `-0`)."""

    text: str


def encode(value: object) -> str:
    """JSON text of `value`, with `Raw` tokens as they are; surrogates escaped."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)  # NaN and Infinity as Python's json writes (and reads) them


RAW_TOKENS = st.sampled_from(
    [
        "1e309",
        "-1e309",
        "NaN",
        "Infinity",
        "-Infinity",
        "-0",
        "-0.0",
        "-0.00",
        "1e-400",
        "9" * 400,
        "-" + "9" * 400,
        "0." + "0" * 300 + "1",
        "123456789012345678901234567890.123",
    ]
).map(Raw)
# A text a client could mean, with what no table can hold inside it.
INJECTED = st.tuples(
    st.sampled_from(["\x00", "\ud800", "\udc00", "\x00\x00", "\u0000\ud83d"]),
    st.sampled_from(["Hello", "US037833100", "Okafor"]),
).map(lambda parts: parts[1][:6] + parts[0] + parts[1][6:])
ODD_TEXT = (
    INJECTED
    | st.text(
        # Every category, surrogates and controls included, NUL among them.
        alphabet=st.characters(codec=None, categories=None),
        max_size=300,
    )
    | st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "\udfff\ud800",
            "\u202e\u0000\ufeff",
            "\U0001d54f" * 2000,
            "é" * 5000,
            "a" * 20000,
            "0",
            "-0.00",
            "1e309",
            "NaN",
            "12.5",
            "36",
            "US0378331005",
            "+254712345678",
        ]
    )
)
SCALARS = (
    st.integers(min_value=-(2**200), max_value=2**200)
    | st.sampled_from([0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**20])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | ODD_TEXT
    | RAW_TOKENS
)


def deep(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


EXTREME = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
) | st.integers(min_value=100, max_value=5000).map(deep)


def money(valid_currency: str) -> st.SearchStrategy[object]:
    """A money object with extreme parts, or anything extreme in its place."""
    return (
        st.fixed_dictionaries(
            {
                "amount": st.just("12.50") | EXTREME,
                "currency": st.just(valid_currency)
                | st.sampled_from(["ZZZ", "XAU", "KWD"])
                | EXTREME,
            }
        )
        | EXTREME
    )


def body(valid: dict[str, Any], **overrides: st.SearchStrategy[object]) -> st.SearchStrategy[str]:
    """JSON bodies: one field extreme and the others valid (what reaches the tables), or
    each field valid or extreme, or a whole body that is extreme."""

    def one_field(name: str) -> st.SearchStrategy[dict[str, Any]]:
        return overrides.get(name, EXTREME).map(lambda value: {**valid, name: value})

    fields = {name: st.just(value) | overrides.get(name, EXTREME) for name, value in valid.items()}
    return (
        st.sampled_from(sorted(valid)).flatmap(one_field).map(encode)
        | st.fixed_dictionaries(fields).map(encode)
        | EXTREME.map(encode)
    )


VALID: dict[str, dict[str, Any]] = {
    "/sms": {
        "message_id": "valid-1",  # the generated bodies may use it with another text
        "phone_number": "+254712345678",
        "text": "Your payment was received.",
        "correlation_id": "c-1",
    },
    "/orders": {
        "type": "limit",
        "side": "buy",
        "instrument": "US0378331005",
        "limit_price": "189.25",
        "quantity": 10,
    },
    "/applications": {
        "first_name": "Amina",
        "last_name": "Okafor",
        "amount": {"amount": "15000.00", "currency": "EUR"},
        "term_months": 36,
        "email": "amina.okafor@example.com",
    },
    "/reimbursements": {
        "bank_account_id": str(DANISH_ACCOUNT),
        "amount": {"amount": "129.90", "currency": "DKK"},
        "description": "Train tickets",
    },
    # Outside the months the platform bills (a 422 naming the rule): runs are not the point.
    "/billing/runs": {"period": "2026-11"},
}
TEXTS = ODD_TEXT | EXTREME
CREATES = {
    "/sms": body(VALID["/sms"], message_id=TEXTS, text=TEXTS, correlation_id=TEXTS),
    "/orders": body(VALID["/orders"], instrument=TEXTS),
    "/applications": body(
        VALID["/applications"], first_name=TEXTS, last_name=TEXTS, amount=money("EUR")
    ),
    "/reimbursements": body(VALID["/reimbursements"], amount=money("DKK"), description=TEXTS),
    "/billing/runs": body(VALID["/billing/runs"], period=TEXTS),
}
CALLERS: dict[str, dict[str, str]] = {}  # filled by the `api` fixture
LISTS = ["/sms", "/orders", "/applications", "/billing/runs", f"/banks/{NORDIC}/reimbursements"]


@pytest.fixture(scope="module")
def own_database_url(server_url: str) -> Iterator[str]:
    """A database of this module's own: every follower on it is one this module runs."""
    with empty_database(server_url) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def api(own_database_url: str, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    """The API with the read models and the relay running, the demo banks loaded."""
    platform_settings = Settings(database_url=own_database_url, **issuer.trusted)

    async def seed() -> None:
        async with platform_session(platform_settings, only={"reimbursements"}) as opened:
            await opened.workflows["reimbursements"].seed("demo-banks")

    asyncio.run(seed())
    CALLERS.update(callers(issuer))
    with (
        running(create_app(platform_settings)) as url,
        issuer.client(url, timeout=30) as client,
        workers(platform_settings, "projections", "relay"),
    ):
        yield client


def callers(issuer: TokenIssuer) -> dict[str, dict[str, str]]:
    """Who may call each create: a client (every scope), the account's member, an operator."""
    client, member = (
        issuer.as_client("extremes"),
        issuer.headers(Role.MEMBER, member_id=DANISH_MEMBER),
    )
    return {
        "/sms": client,
        "/orders": client,
        "/applications": client,
        "/reimbursements": member,
        "/billing/runs": issuer.headers(Role.OPERATOR),
    }


def post(api: httpx.Client, path: str, text: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", **CALLERS[path]}
    answer = api.post(path, content=text.encode(), headers=headers)
    assert answer.status_code < 500, f"{path} answered {answer.status_code}: {answer.text[:300]}"
    return answer


@pytest.mark.parametrize("path", list(CREATES))
def test_every_answer_is_a_2xx_or_a_4xx(api: httpx.Client, path: str) -> None:
    statuses: set[int] = set()

    @EXAMPLES
    @given(CREATES[path])
    def send(text: str) -> None:
        statuses.add(post(api, path, text).status_code)

    send()
    assert 422 in statuses, statuses  # the generator did reach the validation


def test_the_lists_still_read_and_every_follower_reaches_the_head(api: httpx.Client) -> None:
    # The extremes that were accepted are in the logs (the tests above); these too.
    for path, valid in VALID.items():
        fresh = {**valid, "message_id": "valid-last"} if path == "/sms" else valid  # unused id
        assert post(api, path, json.dumps(fresh)).status_code < 300 or path == "/billing/runs"
    for path in LISTS:
        answer = api.get(path, params={"limit": 500})
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"

    def caught_up() -> list[dict[str, Any]] | None:
        followers: list[dict[str, Any]] = api.get("/status").json()["followers"]
        behind = [f for f in followers if f["behind"] or f["set_aside"]]
        return followers if followers and not behind else None

    followers = eventually(caught_up, timeout=60, what="every follower at the head of its log")
    assert {f["follower"] for f in followers} >= {"sms_view", "orders_view"}
