"""A built-in partner: picks up instruction files and answers like a haulier would.

``filebridge demo`` and the tests use it to play the other side of the exchange
through the same folders (and the same Transport port) a real partner would use:
it removes instruction files from orders_dir, writes acknowledgements (a share of
them rejected with a reason) and, on a later step, results (completed with
weighings, sometimes not completed with a deviation), always by temp name then
rename, as the partner guide asks. Decisions are derived from the order id and a
seed, so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from filebridge.config import PartnerPolicy
from filebridge.errors import DocumentError, RemoteFileMissing
from filebridge.formats.base import Codec, codec_for
from filebridge.model import Acknowledgement, Order, OrderResult
from filebridge.transports.base import Transport, is_ignored_name

PICKED_UP_DIR = "partner_side/picked_up"

REJECT_REASONS = [
    ("NO-CAPACITY", "No truck with a crane is free in the requested window."),
    ("SITE-UNKNOWN", "The site address is outside our service area."),
]
DEVIATIONS = [
    ("BLOCKED", "Container blocked by a parked car; driver could not reach it."),
    ("OVERFILLED", "Container overfilled, lid could not close; not emptied for safety."),
]


@dataclass
class SimulatedPartner:
    """Plays a partner on a Transport rooted at the partner's folders."""

    transport: Transport
    policy: PartnerPolicy
    reject_share: float = 0.2
    not_completed_share: float = 0.2
    seed: int = 7
    answer_format: str | None = None  # default: the format of the instruction file
    reject_ids: frozenset[str] = frozenset()  # orders always rejected (a demo shows one)
    _awaiting_result: list[tuple[Order, str]] = field(default_factory=list)
    orders_seen: int = 0

    def step(self) -> int:
        """Answer what is waiting: results for last step's acks, then acks for new files.

        Results come one step after their ack, as they would in real life."""
        answered = self._send_results()
        for remote in self.transport.list(self.policy.orders_dir):
            if is_ignored_name(remote.name):
                continue
            try:
                data = self.transport.read(remote.path, 10_000_000)
                self.transport.move(remote.path, PICKED_UP_DIR)
            except RemoteFileMissing:
                continue
            received = "csv" if remote.name.endswith(".csv") else "xml"
            codec = codec_for(self.answer_format or received, self.policy.csv_delimiter)
            try:
                documents = codec_for(received, self.policy.csv_delimiter).decode(data)
                orders = [d for d in documents if isinstance(d, Order)]
            except DocumentError:
                continue  # a real partner would phone us; the simulator ignores it
            for order in orders:
                self.orders_seen += 1
                answered += self._acknowledge(order, codec)
        return answered

    def drop_bad_file(self, name: str = "ACK_broken.xml") -> str:
        """Write a malformed acknowledgement, to show how refused files are handled."""
        payload = b"<?xml version='1.0' encoding='UTF-8'?>\n<Acknowledgement version='1.0'>"
        return self.transport.put_atomic(self.policy.acks_dir, name, payload)

    # -- answers -----------------------------------------------------------------
    def _decide(self, order: Order, salt: str) -> float:
        digest = hashlib.sha256(f"{self.seed}:{salt}:{order.order_id}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32

    def _acknowledge(self, order: Order, codec: Codec) -> int:
        now = datetime.now(UTC).replace(microsecond=0)
        rejected = (order.order_id in self.reject_ids
                    or self._decide(order, "reject") < self.reject_share)
        reason = REJECT_REASONS[int(self._decide(order, "why") * len(REJECT_REASONS))]
        ack = Acknowledgement(
            message_id=f"ACK-{secrets.token_hex(8)}",
            ref_message_id=order.message_id,
            order_id=order.order_id,
            status="rejected" if rejected else "accepted",
            reason_code=reason[0] if rejected else None,
            reason_text=reason[1] if rejected else None,
            partner_reference=None if rejected else f"SIM-{order.order_id[-6:]}",
            planned_date=None if rejected else order.window.earliest.date(),
            created_at=now,
        )
        self._put(self.policy.acks_dir, f"ACK_{order.order_id}_{ack.message_id[-4:]}."
                  f"{codec.extension}",
                  codec.encode([ack]))
        if not rejected:
            self._awaiting_result.append((order, codec.extension))
        return 1

    def _send_results(self) -> int:
        pending, self._awaiting_result = self._awaiting_result, []
        for order, extension in pending:
            codec = codec_for(extension, self.policy.csv_delimiter)
            result = self._result_for(order)
            self._put(self.policy.results_dir,
                      f"RESULT_{order.order_id}_{result.message_id[-4:]}.{extension}",
                      codec.encode([result]))
        return len(pending)

    def _result_for(self, order: Order) -> OrderResult:
        now = datetime.now(UTC).replace(microsecond=0)
        done = self._decide(order, "done") >= self.not_completed_share
        rng = random.Random(f"{self.seed}:{order.order_id}")
        if done:
            kg = Decimal(rng.randint(40_000, 900_000)) / 1000 * order.container.quantity
            return OrderResult(
                message_id=f"RES-{secrets.token_hex(8)}", order_id=order.order_id,
                partner_reference=f"SIM-{order.order_id[-6:]}", outcome="completed",
                completed_at=now,
                weighings=[{"fraction_code": order.container.fraction.code, "kg": kg}],
                container_ids=[order.container.container_id or f"NEW-{rng.randint(1000, 9999)}"],
            )
        code, text = DEVIATIONS[int(self._decide(order, "dev") * len(DEVIATIONS))]
        return OrderResult(
            message_id=f"RES-{secrets.token_hex(8)}", order_id=order.order_id,
            outcome="not_completed", completed_at=now, deviation_code=code,
            deviation_text=text,
        )

    def _put(self, folder: str, name: str, data: bytes) -> None:
        self.transport.put_atomic(folder, name, data)
