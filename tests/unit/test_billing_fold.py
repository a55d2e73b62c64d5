"""The billing read models' fold and the `Invoice` aggregate follow one set of rules: for
any sequence of commands, folding the invoice's events gives the aggregate's state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.billing.invoice import Invoice
from projections.billing.fold import BillingBatch
from tests.invoice_histories import ACTIONS, T0, Step, apply_step, new_invoice

steps = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 11)), max_size=25)


def invoice_after(history: list[Step], *, paid: bool = False) -> Invoice:
    invoice = new_invoice(7, paid=paid)
    for minute, step in enumerate(history, start=1):
        apply_step(invoice, step, T0 + timedelta(minutes=minute))
    return invoice


def aggregate_row(invoice: Invoice) -> dict[str, Any]:
    return {
        "status": invoice.status.value,
        "cycle": invoice.cycle,
        "attempts": invoice.last_attempt,
        "run_id": invoice.run_id,
        "reason": invoice.reason,
        "last_error": invoice.last_error,
        "next_charge_at": invoice.next_charge_at,
        "version": invoice.version,
    }


def aggregate_attempts(invoice: Invoice) -> list[tuple[Any, ...]]:
    return [
        (a["attempt"], a["cycle"], a["key"], a["at"], a["outcome"], a["detail"])
        for a in invoice.attempts
    ]


def folded(events: list[Any]) -> BillingBatch:
    batch = BillingBatch()
    for event in events:
        batch.add(event)
    return batch


@settings(max_examples=300)
@given(history=steps, paid=st.booleans())
def test_folding_the_events_gives_the_aggregates_state(history: list[Step], paid: bool) -> None:
    invoice = invoice_after(history, paid=paid)
    events = list(invoice.collect_events())
    batch = folded(events)

    row = batch.new_invoices[invoice.id]
    assert {key: row[key] for key in aggregate_row(invoice)} == aggregate_row(invoice)
    assert row["updated_at"] == events[-1].timestamp
    attempts = [
        (r["attempt"], r["cycle"], r["key"], r["started_at"], r["outcome"], r["detail"])
        for _, r in sorted(batch.new_attempts.items())
    ]
    assert attempts == aggregate_attempts(invoice)
    assert not batch.invoice_updates and not batch.attempt_updates
    assert not batch.settled_by_operator  # nothing stored before: all settled in memory


@given(before=steps, after=steps)
def test_a_batch_of_a_stored_invoice_changes_what_the_aggregate_changed(
    before: list[Step], after: list[Step]
) -> None:
    """Events of an invoice stored before the batch: the batch's invoice changes are the
    aggregate's, and its attempts' changes settle what the aggregate settled."""
    invoice = invoice_after(before)
    stored_attempts = {a["attempt"]: dict(a) for a in invoice.attempts}
    invoice.collect_events()
    for minute, step in enumerate(after, start=len(before) + 1):
        apply_step(invoice, step, T0 + timedelta(minutes=minute))
    batch = folded(list(invoice.collect_events()))
    if not batch.invoice_updates:
        return  # every command of the batch was refused
    changes = batch.invoice_updates[invoice.id]
    expected = aggregate_row(invoice)
    assert {key: expected[key] for key in changes if key in expected} == {
        key: changes[key] for key in changes if key in expected
    }
    for entry in invoice.attempts:
        number = entry["attempt"]
        new = batch.new_attempts.get((invoice.id, number))
        if new is not None:
            assert (new["outcome"], new["detail"]) == (entry["outcome"], entry["detail"])
            continue
        stored = stored_attempts[number]
        update = batch.attempt_updates.get((invoice.id, number))
        if update is not None:
            assert (update["outcome"], update["detail"]) == (entry["outcome"], entry["detail"])
        elif (stored["outcome"], stored["detail"]) != (entry["outcome"], entry["detail"]):
            # Changed by nothing but an operator's decision, left to the database.
            assert invoice.id in batch.settled_by_operator
            assert stored["outcome"] in (None, "unknown")
            assert (entry["outcome"], entry["detail"]) == ("not_charged", "resolved by an operator")
