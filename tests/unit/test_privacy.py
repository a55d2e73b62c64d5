"""`scrub`: no e-mail address or phone number embedded in a text survives it, whatever
surrounds it; the text around it, our ids and short numbers stay readable."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from adapters.outbound_http import MAX_DETAIL, error_text
from domain.privacy import scrub

# Any text around, including the characters an address or a number is made of.
around = st.text(
    st.sampled_from("ab Z09+-.()@%_'<>:;,\n\u00e9…") | st.characters(codec="utf-8"), max_size=30
)
country = st.integers(1, 999).map(str)
e164 = st.builds(
    lambda cc, rest: f"+{cc}{rest}",
    country,
    st.text("0123456789", min_size=7, max_size=12),
).filter(lambda number: 9 <= len(number) <= 16)


@st.composite
def formatted(draw: st.DrawFn) -> str:
    """An E.164 number as people write it: grouped, with one separator between groups,
    the country code maybe in parentheses, maybe `00` for `+`."""
    number = draw(e164)
    cc, digits = number[1 : 1 + draw(st.integers(1, 3))], number[4:]
    sep = draw(st.sampled_from([" ", "-", ".", "\u00a0"]))
    groups: list[str] = []
    while digits:
        size = draw(st.integers(2, 4))
        groups.append(digits[:size])
        digits = digits[size:]
    prefix = draw(st.sampled_from([f"+{cc}", f"00{cc}", f"(+{cc})"]))
    return sep.join([prefix + number[1 + len(cc) : 4], *groups])


@given(before=around, address=st.emails(), after=around)
@example(before="", address="*@a.co", after="")
@example(before="x", address="12345678@a.co", after="x")
def test_an_email_address_never_survives(before: str, address: str, after: str) -> None:
    scrubbed = scrub(before + address + after)
    assert address not in scrubbed
    assert scrub(scrubbed) == scrubbed


@given(before=around, number=e164, after=around)
@example(before="(", number="+254712345678", after=")")
@example(before="100", number="+4520123456", after="99")
def test_a_phone_number_never_survives(before: str, number: str, after: str) -> None:
    scrubbed = scrub(before + number + after)
    assert number not in scrubbed and number[1:] not in scrubbed
    assert scrub(scrubbed) == scrubbed


@given(before=around, number=formatted(), after=around)
def test_a_phone_number_in_an_international_form_never_survives(
    before: str, number: str, after: str
) -> None:
    # `00` right after a digit is the middle of a number, not the start of one.
    assume(not (number.startswith("00") and before[-1:].isdigit()))
    scrubbed = scrub(before + number + after)
    compact = "".join(c for c in number if c.isdigit()).removeprefix("00")
    assert number not in scrubbed and compact not in scrubbed


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "550 5.1.1 <astrid.berg@example.com>: Recipient address rejected",
            "550 5.1.1 <…@example.com>: Recipient address rejected",
        ),
        ("/v1/mail?to=astrid%40example.com&x=1", "/v1/mail?to=…@example.com&x=1"),
        ("call +254712345678 (3 attempts)", "call +254*******78 (3 attempts)"),
        ("call +254 712 345 678.", "call +254*******78."),
        ("+44 (0)20 7946 0958", "+440********58"),
        ("(+45) 20 12 34 56", "+452*****56"),
        ("0045 2012 3456", "+452*****56"),
        ("card 4111111111111111", "card 4111**********11"),
    ],
)
def test_what_is_hidden_and_what_is_kept(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "application 12345678-1234-4234-8234-123456789012 is unknown",
        "at 2026-12-03T17:14:16.123456+00:00, +1 day, 3 of 10, EUR 129.90",
        "Message-ID <reimbursement-42-approved@ledgerflow>",
        "service unavailable (injected fault)",
    ],
)
def test_ids_times_amounts_and_our_message_ids_stay(text: str) -> None:
    assert scrub(text) == text


def test_a_json_error_keeps_the_fields_that_explain_it_and_no_others() -> None:
    body = {
        "code": "applicant_known",
        "message": "Astrid (astrid.berg@example.com, +46701234567) is already known",
        "first_name": "Astrid",
        "last_name": "Berg",
        "email": "astrid.berg@example.com",
    }
    text = error_text(httpx.Response(400, json=body))
    assert text == "applicant_known: Astrid (…@example.com, +467******67) is already known"
    assert "Berg" not in text and "astrid.berg" not in text


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"error": "the application ID is already used"}, "the application ID is already used"),
        (
            {"error": {"code": "card_declined", "message": "declined", "name": "N"}},
            "card_declined: declined",
        ),
        ({"detail": [{"msg": "not an email", "input": "x@example.com"}]}, "not an email"),
        (
            {"first_name": "Astrid", "last_name": "Berg"},
            "no explanation (fields: first_name, last_name)",
        ),
        (["a@example.com is taken"], "…@example.com is taken"),
    ],
)
def test_json_errors_of_several_shapes(body: object, text: str) -> None:
    assert error_text(httpx.Response(400, json=body)) == text


def test_a_text_answer_is_scrubbed_before_it_is_cut() -> None:
    address = "astrid.berg@example.com"
    for padding in range(MAX_DETAIL - 30, MAX_DETAIL + 5):
        text = error_text(
            httpx.Response(503, text="x " * (padding // 2) + address + " " + "y" * 300)
        )
        assert len(text) <= MAX_DETAIL and "astrid" not in text and "\n" not in text
