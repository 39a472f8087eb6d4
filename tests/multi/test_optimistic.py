"""Optimistic concurrency: a row changed by another daemon is never silently overwritten."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from filebridge.config import config_from_dict
from filebridge.errors import ConcurrentUpdate
from filebridge.model import ExchangeStatus, OrderState
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.memory import MemoryStore, MemoryTransport
from tests.factories import T0, make_order
from tests.journal.conftest import JournalDatabase, order_row
from tests.multi.conftest import Bridges

LEASE = timedelta(minutes=5)


def test_a_stale_save_raises_and_the_first_write_stays(database: JournalDatabase) -> None:
    # given one order and two daemons that both read it
    first, second = database.open(), database.open()
    first.insert_order(order_row("ORD-1", state=OrderState.SENT))
    seen_by_first = first.get_order("ORD-1")
    seen_by_second = second.get_order("ORD-1")
    assert seen_by_first is not None and seen_by_second is not None

    # when the first records the ack, and the second its (older) view of a pickup
    first.save_order(seen_by_first.model_copy(update={"state": OrderState.ACKNOWLEDGED}))
    with pytest.raises(ConcurrentUpdate) as raised:
        second.save_order(seen_by_second.model_copy(update={"state": OrderState.PICKED_UP}))

    # then the second is told, and the ack is still what the journal holds
    assert raised.value.order_id == "ORD-1"
    stored = second.get_order("ORD-1")
    assert stored is not None and stored.state is OrderState.ACKNOWLEDGED
    # and after reading again the second can write over what is there now
    second.save_order(stored.model_copy(update={"last_error": "noted"}))
    again = first.get_order("ORD-1")
    assert again is not None and again.state is OrderState.ACKNOWLEDGED
    assert again.last_error == "noted" and again.version == 2


def test_a_saved_row_can_be_saved_again(database: JournalDatabase) -> None:
    journal = database.open()
    journal.insert_order(order_row("ORD-1"))
    row = journal.get_order("ORD-1")
    assert row is not None and row.version == 0

    journal.save_order(row)
    journal.save_order(row)  # the version travelled with the row

    stored = journal.get_order("ORD-1")
    assert row.version == 2 and stored is not None and stored.version == 2


def test_a_claim_fences_off_saves_of_rows_read_before_it(database: JournalDatabase) -> None:
    # given a daemon that read a queued order, then another daemon claimed it
    reader, claimer = database.open(), database.open()
    reader.insert_order(order_row("ORD-1"))
    before = reader.get_order("ORD-1")
    assert before is not None
    [claimed] = claimer.claim_due_orders("retura", T0, 10, "daemon-b", T0 + LEASE)

    # when the reader saves its old view, it would wipe the claim: refused
    with pytest.raises(ConcurrentUpdate):
        reader.save_order(before.model_copy(update={"last_error": "stale"}))

    # then the claim stands, and its holder can save its row
    claimer.save_order(claimed.model_copy(update={"state": OrderState.SENT}))
    stored = reader.get_order("ORD-1")
    assert stored is not None and stored.claimed_by == "daemon-b"
    assert stored.state is OrderState.SENT

    # and releasing a claim is a write too: a row read before it is stale afterwards
    held = reader.get_order("ORD-1")
    assert held is not None
    claimer.release_claim("ORD-1", "daemon-b")
    with pytest.raises(ConcurrentUpdate):
        reader.save_order(held)


def test_an_ack_ingested_by_another_daemon_before_sent_is_recorded_wins(
    tmp_path: Path, pg_url: str, bridges: Bridges
) -> None:
    """Daemon A publishes a file; before A journals "sent", the partner answers and
    daemon B ingests the ack. A must not turn the order back to ``sent``."""
    store = f"mem-{uuid.uuid4().hex}"
    config = config_from_dict({
        "journal": {"url": pg_url},
        "defaults": {"settle_time": "0s"},
        "partners": {"hauler": {"transport": "memory", "root": store}},
    }, tmp_path / "filebridge.toml")
    sender, receiver = bridges.open(config), bridges.open(config)
    policy = config.partners["hauler"]
    partner_side = MemoryTransport.shared(store)
    partner = SimulatedPartner(partner_side, policy, reject_share=0.0)
    sender.submit(make_order("ORD-1"), partner="hauler")
    answered: list[int] = []

    def partner_answers_at_once(path: str, renamed: bool) -> None:
        # the memory store calls watchers on the writer's thread: this runs inside A's
        # dispatch, right after its rename into orders_dir and before A journals it
        if not answered:
            answered.append(partner.step())
            receiver.run_once()

    partner_side.watch([policy.orders_dir], partner_answers_at_once)
    try:
        sender.run_once()
    finally:
        MemoryStore.forget(store)

    assert answered == [1]
    view = sender.get("ORD-1")
    assert view.state is OrderState.ACKNOWLEDGED
    # the delivery is in the timeline (at the time it was journalled) without the state
    # change that would have turned the ack back
    assert [(e.event, e.state) for e in view.timeline] == [
        ("submitted", OrderState.QUEUED), ("exchange", OrderState.ACKNOWLEDGED),
        ("exchange", None)]
    row = sender.journal.get_order("ORD-1")
    assert row is not None and row.sent_at is not None and row.claimed_by is None
    records = sender.exchanges(order_id="ORD-1")
    assert sorted((r.direction.value, r.document.value, r.status) for r in records) == [
        ("in", "ack", ExchangeStatus.OK), ("out", "order", ExchangeStatus.OK)]


def test_a_renewal_extends_only_the_claims_still_held(database: JournalDatabase) -> None:
    # given a daemon holding two orders, one of which went to another daemon since
    first, second = database.open(), database.open()
    first.insert_order(order_row("ORD-1"))
    first.insert_order(order_row("ORD-2", created=timedelta(seconds=1)))
    assert len(first.claim_due_orders("retura", T0, 10, "daemon-a", T0 + LEASE)) == 2
    first.release_claim("ORD-2", "daemon-a")
    assert [r.order_id for r in second.claim_due_orders("retura", T0, 10, "daemon-b",
                                                        T0 + LEASE)] == ["ORD-2"]
    before = first.get_order("ORD-1")

    # when the first renews its claims
    renewed = first.renew_claims(["ORD-1", "ORD-2"], "daemon-a", T0 + 2 * LEASE)

    # then only its own is renewed, with the new version it has now
    stored = first.get_order("ORD-1")
    assert stored is not None and before is not None
    assert renewed == {"ORD-1": stored.version} and stored.version == before.version + 1
    assert stored.claim_expires_at == T0 + 2 * LEASE
    taken = first.get_order("ORD-2")
    assert taken is not None and (taken.claimed_by, taken.claim_expires_at) == (
        "daemon-b", T0 + LEASE)
