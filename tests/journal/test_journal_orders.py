"""The Journal contract for orders, claims, transactions and migrations.

Every test runs on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from filebridge.errors import ConcurrentUpdate, OrderNotFound
from filebridge.journal import Journal
from filebridge.journal.schema import LATEST_VERSION
from filebridge.model import OrderRow, OrderState
from tests.factories import T0, make_order
from tests.journal.conftest import JournalDatabase, order_row

OSLO = timezone(timedelta(hours=1))
LEASE = timedelta(minutes=5)


def every_field_set(order_id: str) -> OrderRow:
    """A row with no field left at its default, times given in a non-UTC zone."""
    at = datetime(2026, 11, 28, 11, 0, 0, 123456, tzinfo=OSLO)
    return OrderRow(
        order_id=order_id,
        partner="retura",
        state=OrderState.ACKNOWLEDGED,
        order=make_order(order_id, sequence=3, message_id=f"MSG-{order_id}-3"),
        created_at=at,
        updated_at=at + timedelta(hours=1),
        attempts=2,
        next_attempt_at=at + timedelta(minutes=1),
        file_name=f"ORDER_{order_id}_3.xml",
        file_content=b"<OrderInstruction>\x00\xff\xfe binary-safe</OrderInstruction>",
        file_path=f"to_partner/orders/ORDER_{order_id}_3.xml",
        sent_at=at + timedelta(minutes=2),
        picked_up_at=at + timedelta(minutes=3),
        acknowledged_at=at + timedelta(minutes=4),
        finished_at=at + timedelta(days=1),
        ack_due_at=at + timedelta(minutes=17),
        result_due_at=at + timedelta(hours=48),
        ack_message_id="ACK-1",
        result_message_id="RES-1",
        last_error="connection reset by peer",
        resend_by="kari",
        resend_reason="partner lost the file",
        claimed_by="host:1:abc",
        claim_expires_at=at + timedelta(minutes=5),
        upload_token="9f2c1a",
        staged_at=at + timedelta(minutes=1),
    )


class TestOrders:
    def test_insert_is_idempotent(self, journal: Journal) -> None:
        # given an order in the journal
        first = order_row("ORD-1")
        assert journal.insert_order(first) is True
        # when the same id is inserted again with other content
        again = order_row("ORD-1", partner="other", state=OrderState.SENT)
        inserted = journal.insert_order(again)
        # then nothing changed
        assert inserted is False
        assert journal.get_order("ORD-1") == first

    def test_every_field_round_trips_with_bytes_and_utc_times(self, journal: Journal) -> None:
        row = every_field_set("ORD-2")
        assert all(getattr(row, name) is not None for name in OrderRow.model_fields)
        journal.insert_order(order_row("ORD-2"))

        journal.save_order(row)
        stored = journal.get_order("ORD-2")

        assert stored == row
        assert stored is not None and stored.file_content == row.file_content
        for name in ("created_at", "sent_at", "claim_expires_at", "result_due_at"):
            value = getattr(stored, name)
            assert value.utcoffset() == timedelta(0), name
        assert stored.created_at == datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)

    def test_naive_times_are_read_as_utc(self, journal: Journal) -> None:
        journal.insert_order(order_row("ORD-N", next_attempt_at=datetime(2026, 11, 28, 12, 0)))
        stored = journal.get_order("ORD-N")
        assert stored is not None
        assert stored.next_attempt_at == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def test_a_partial_save_writes_only_the_named_fields(self, journal: Journal) -> None:
        # given a stored order, and a copy of it with two fields changed in memory
        journal.insert_order(order_row("ORD-1"))
        stored = journal.get_order("ORD-1")
        assert stored is not None
        changed = stored.model_copy(update={"state": OrderState.SENT, "attempts": 7,
                                            "last_error": "not meant to be written"})
        # when only state and attempts are saved
        journal.save_order(changed, fields=["state", "attempts"])
        # then those two are written, the rest stays as stored, and the version moved on
        again = journal.get_order("ORD-1")
        assert again is not None
        assert (again.state, again.attempts, again.last_error) == (OrderState.SENT, 7, None)
        assert again.order == stored.order
        assert again.version == stored.version + 1 == changed.version

    def test_a_partial_save_over_a_stale_version_is_refused(self, journal: Journal) -> None:
        journal.insert_order(order_row("ORD-1"))
        seen = journal.get_order("ORD-1")
        assert seen is not None
        journal.save_order(seen.model_copy(), fields=["attempts"])
        with pytest.raises(ConcurrentUpdate):
            journal.save_order(seen.model_copy(update={"attempts": 1}), fields=["attempts"])
        with pytest.raises(OrderNotFound):
            journal.save_order(order_row("NOPE"), fields=["attempts"])

    def test_unknown_orders(self, journal: Journal) -> None:
        assert journal.get_order("NOPE") is None
        with pytest.raises(OrderNotFound):
            journal.save_order(order_row("NOPE"))

    def test_orders_in_states_and_find_orders(self, journal: Journal) -> None:
        journal.insert_order(order_row("A", state=OrderState.SENT, created=timedelta(hours=2)))
        journal.insert_order(order_row("B", state=OrderState.QUEUED))
        journal.insert_order(order_row("C", state=OrderState.SENT, created=timedelta(hours=1)))
        journal.insert_order(order_row("D", partner="depot", state=OrderState.SENT))

        in_states = journal.orders_in_states([OrderState.SENT, OrderState.QUEUED], "retura")
        assert [r.order_id for r in in_states] == ["B", "C", "A"]
        assert journal.orders_in_states([]) == []
        sent = journal.find_orders(state=OrderState.SENT)
        assert [r.order_id for r in sent] == ["D", "C", "A"]
        recent = journal.find_orders(partner="retura", since=T0 + timedelta(hours=1))
        assert [r.order_id for r in recent] == ["C", "A"]
        assert [r.order_id for r in journal.find_orders(limit=2)] == ["B", "D"]

    def test_count_by_state(self, journal: Journal) -> None:
        journal.insert_order(order_row("A", state=OrderState.SENT))
        journal.insert_order(order_row("B", state=OrderState.SENT))
        journal.insert_order(order_row("C", state=OrderState.COMPLETED))
        journal.insert_order(order_row("D", partner="depot"))

        assert journal.count_by_state() == {
            "retura": {"sent": 2, "completed": 1},
            "depot": {"queued": 1},
        }

    def test_overdue_orders(self, journal: Journal) -> None:
        now = T0 + timedelta(hours=1)
        due, later = now - timedelta(minutes=1), now + timedelta(minutes=1)
        rows = [
            order_row("SENT-LATE", state=OrderState.SENT, ack_due_at=due),
            order_row("SENT-NOW", state=OrderState.SENT, ack_due_at=now),
            order_row("SENT-OK", state=OrderState.SENT, ack_due_at=later),
            order_row("PICKED-LATE", state=OrderState.PICKED_UP, ack_due_at=due),
            order_row("ACK-LATE", state=OrderState.ACKNOWLEDGED, result_due_at=due,
                      ack_due_at=due),
            order_row("ACK-OK", state=OrderState.ACKNOWLEDGED, result_due_at=later,
                      ack_due_at=due),
            order_row("DONE", state=OrderState.COMPLETED, ack_due_at=due, result_due_at=due),
            order_row("QUEUED", state=OrderState.QUEUED, ack_due_at=due),
        ]
        for row in rows:
            journal.insert_order(row)

        overdue = {row.order_id for row in journal.overdue_orders(now)}

        assert overdue == {"SENT-LATE", "SENT-NOW", "PICKED-LATE", "ACK-LATE"}
        # the same orders, cheaply, with partner and state
        assert journal.overdue_order_ids(now) == [
            (row.order_id, row.partner, row.state) for row in journal.overdue_orders(now)]


class TestClaims:
    def test_claims_due_queued_orders_of_one_partner_oldest_first(self, journal: Journal) -> None:
        now = T0 + timedelta(minutes=10)
        journal.insert_order(order_row("LATE", created=timedelta(minutes=2),
                                       next_attempt_at=now - timedelta(seconds=1)))
        journal.insert_order(order_row("EARLY", created=timedelta(minutes=1)))
        journal.insert_order(order_row("WAITING", next_attempt_at=now + timedelta(seconds=1)))
        journal.insert_order(order_row("SENT", state=OrderState.SENT))
        journal.insert_order(order_row("OTHER", partner="depot"))
        journal.insert_order(order_row("NEWEST", created=timedelta(minutes=3)))

        claimed = journal.claim_due_orders("retura", now, 2, "daemon-a", now + LEASE)

        assert [row.order_id for row in claimed] == ["EARLY", "LATE"]
        assert {row.claimed_by for row in claimed} == {"daemon-a"}
        assert {row.claim_expires_at for row in claimed} == {now + LEASE}
        stored = journal.get_order("EARLY")
        assert stored is not None and stored.claimed_by == "daemon-a"

    def test_claims_answered_orders_whose_delivery_was_never_journalled(
        self, journal: Journal
    ) -> None:
        # given staged orders: one answered without its "sent" journalled, one still
        # queued, one journalled normally, one given up, and one answered but still
        # claimed by a daemon whose lease has not run out
        staged = {"staged_at": T0, "file_name": "ORDER_X_1.xml", "upload_token": "t"}
        journal.insert_order(order_row("ANSWERED", state=OrderState.ACKNOWLEDGED, **staged))
        journal.insert_order(order_row("QUEUED", **staged))
        journal.insert_order(order_row("RECORDED", state=OrderState.ACKNOWLEDGED,
                                       sent_at=T0, **staged))
        journal.insert_order(order_row("GIVEN-UP", state=OrderState.SEND_FAILED, **staged))
        journal.insert_order(order_row("HELD", state=OrderState.COMPLETED, claimed_by="d-x",
                                       claim_expires_at=T0 + LEASE, **staged))
        journal.insert_order(order_row("OTHER", partner="depot",
                                       state=OrderState.ACKNOWLEDGED, **staged))
        # when a daemon looks for unjournalled deliveries and journals what it got
        now = journal.claim_unrecorded_deliveries("retura", T0, 10, "daemon-a", T0 + LEASE)
        for row in now:
            journal.save_order(row.model_copy(update={"sent_at": T0, "claimed_by": None}),
                               fields=["sent_at", "claimed_by"])
        # and another looks again once the other daemon's lease has run out
        later = journal.claim_unrecorded_deliveries("retura", T0 + LEASE, 10, "daemon-b",
                                                    T0 + 2 * LEASE)
        # then each gets only the answered ones nobody holds, each once
        assert [row.order_id for row in now] == ["ANSWERED"]
        assert now[0].claimed_by == "daemon-a"
        assert [row.order_id for row in later] == ["HELD"]

    def test_renewing_can_record_the_files_as_staged_for_the_orders_still_held(
        self, journal: Journal
    ) -> None:
        # given one order claimed by daemon a, and one that daemon b took over from it
        journal.insert_order(order_row("MINE", created=timedelta(seconds=1)))
        journal.insert_order(order_row("TAKEN"))
        journal.claim_due_orders("retura", T0, 1, "daemon-b", T0 + LEASE)  # TAKEN
        journal.claim_due_orders("retura", T0, 1, "daemon-a", T0 + LEASE)  # MINE
        # when daemon a renews both, saying their files are staged
        staged_at = T0 + timedelta(seconds=30)
        renewed = journal.renew_claims(["MINE", "TAKEN"], "daemon-a", T0 + 2 * LEASE,
                                       staged_at=staged_at)
        # then only the order it holds is renewed and marked staged, under a new version
        assert set(renewed) == {"MINE"}
        mine, taken = journal.get_order("MINE"), journal.get_order("TAKEN")
        assert mine is not None and taken is not None
        assert (mine.staged_at, mine.claim_expires_at) == (staged_at, T0 + 2 * LEASE)
        assert renewed["MINE"] == mine.version
        assert (taken.staged_at, taken.claimed_by) == (None, "daemon-b")

    def test_a_live_claim_is_respected_and_an_expired_one_taken_over(
        self, database: JournalDatabase
    ) -> None:
        first, second = database.open(), database.open()
        first.insert_order(order_row("ORD-1"))
        assert len(first.claim_due_orders("retura", T0, 10, "daemon-a", T0 + LEASE)) == 1

        during_lease = second.claim_due_orders(
            "retura", T0 + LEASE - timedelta(seconds=1), 10, "daemon-b", T0 + 2 * LEASE
        )
        after_lease = second.claim_due_orders("retura", T0 + LEASE, 10, "daemon-b", T0 + 2 * LEASE)

        assert during_lease == []
        assert [row.claimed_by for row in after_lease] == ["daemon-b"]

    def test_release_only_drops_the_claimants_own_claim(self, journal: Journal) -> None:
        journal.insert_order(order_row("ORD-1"))
        journal.claim_due_orders("retura", T0, 10, "daemon-a", T0 + LEASE)

        journal.release_claim("ORD-1", "daemon-b")
        assert journal.claim_due_orders("retura", T0, 10, "daemon-b", T0 + LEASE) == []
        journal.release_claim("ORD-1", "daemon-a")
        retaken = journal.claim_due_orders("retura", T0, 10, "daemon-b", T0 + LEASE)
        assert [row.order_id for row in retaken] == ["ORD-1"]

    def test_concurrent_claims_from_two_journals_never_share_an_order(
        self, database: JournalDatabase
    ) -> None:
        # given 60 due orders and two daemons (two journals), each with four threads
        journals = [database.open(), database.open()]
        with journals[0].transaction():
            for n in range(60):
                journals[0].insert_order(order_row(f"ORD-{n:03}", created=timedelta(seconds=n)))
        claims: dict[str, list[str]] = {}
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def claim_until_empty(journal: Journal, claimant: str) -> None:
            try:
                start.wait()
                mine: list[str] = []
                while batch := journal.claim_due_orders("retura", T0, 3, claimant, T0 + LEASE):
                    mine.extend(row.order_id for row in batch)
                claims[claimant] = mine
            except BaseException as exc:  # reported below, on the test's thread
                errors.append(exc)

        threads = [
            threading.Thread(target=claim_until_empty, args=(journals[n % 2], f"claimant-{n}"))
            for n in range(8)
        ]
        # when they all claim at once
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        # then every order went to exactly one claimant
        assert errors == []
        taken = [order_id for mine in claims.values() for order_id in mine]
        assert sorted(taken) == [f"ORD-{n:03}" for n in range(60)]
        for claimant, mine in claims.items():
            for order_id in mine:
                row = journals[1].get_order(order_id)
                assert row is not None and row.claimed_by == claimant


class TestTransactions:
    def test_an_exception_rolls_everything_back(self, journal: Journal) -> None:
        with pytest.raises(RuntimeError), journal.transaction():
            journal.insert_order(order_row("ORD-1"))
            with journal.transaction():  # a nested block joins the outer one
                journal.insert_order(order_row("ORD-2"))
            raise RuntimeError("crash before commit")

        assert journal.get_order("ORD-1") is None
        assert journal.get_order("ORD-2") is None
        assert journal.insert_order(order_row("ORD-1")) is True  # still usable

    def test_writes_are_seen_by_others_only_after_the_outer_commit(
        self, database: JournalDatabase
    ) -> None:
        writer, reader = database.open(), database.open()
        with writer.transaction():
            writer.insert_order(order_row("ORD-1"))
            with writer.transaction():
                writer.insert_order(order_row("ORD-2"))
            assert reader.get_order("ORD-2") is None  # the inner block did not commit
            assert writer.get_order("ORD-2") is not None  # but the writer sees its own work
        assert reader.get_order("ORD-1") is not None
        assert reader.get_order("ORD-2") is not None

        writer.insert_order(order_row("ORD-3"))  # outside a transaction: commits alone
        assert reader.get_order("ORD-3") is not None


class TestMigrations:
    def test_migrations_are_recorded_once(self, database: JournalDatabase) -> None:
        journal = database.open()
        assert journal.schema_version() == LATEST_VERSION
        recorded = database.rows("SELECT version, applied_at FROM schema_version ORDER BY 1")
        journal.insert_order(order_row("ORD-1"))
        journal.close()

        reopened = database.open()

        assert reopened.schema_version() == LATEST_VERSION
        assert database.rows("SELECT version, applied_at FROM schema_version ORDER BY 1") == (
            recorded
        )
        assert [version for version, _ in recorded] == list(range(1, LATEST_VERSION + 1))
        assert reopened.get_order("ORD-1") is not None

    def test_close_twice_is_harmless(self, database: JournalDatabase) -> None:
        journal = database.open()
        journal.close()
        journal.close()
