"""Prometheus metrics of a running bridge (the optional ``metrics`` extra).

Counters and the latency histogram follow the bridge's events as they happen; the
gauges are read from the journal and the partner links when Prometheus scrapes, so
they are never stale and cost nothing between scrapes.

    filebridge_files_sent_total{partner,document,status}       outbound exchange records
    filebridge_files_received_total{partner,document,status}   inbound exchange records
    filebridge_ack_latency_seconds{partner,status}              sent -> acknowledgement
    filebridge_orders{partner,state}                            orders per state (0 too)
    filebridge_alerts_open{partner}                             unresolved alerts
    filebridge_alerts_unacknowledged{partner}                   ... nobody has taken yet
    filebridge_partner_reachable{partner}                       1, or 0 while unreachable
    filebridge_ticks_total, filebridge_last_tick_timestamp_seconds

The file counters count exchange records, one per document moved: a CSV batch of 20
orders counts 20, as in ``filebridge log``. The ack latency is observed for accepted
and rejected acknowledgements alike (``status``): both say the partner has read the
order. Only the partners this daemon serves are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from filebridge.engine.events import OrderEvent
from filebridge.engine.runner import TickReport
from filebridge.model import Direction, ExchangeRecord, OrderState

if TYPE_CHECKING:
    from filebridge.bridge import Bridge
    from filebridge.engine.link import PartnerLink

log = logging.getLogger("filebridge.observe")

# From seconds (a partner system that polls all the time) to a day (a partner that
# reads its folder each morning); the default ack_timeout of 15m sits in the middle.
ACK_LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400,
                       43200, 86400)
ACK_STATUS = {"acknowledged": "accepted", "rejected": "rejected"}


class JournalCollector(Collector):
    """The gauges, read at scrape time (on the HTTP server's thread)."""

    def __init__(self, bridge: Bridge, links: list[PartnerLink]) -> None:
        self.bridge = bridge
        self.links = links

    def describe(self) -> Iterable[Metric]:
        return []  # the names are fixed; no need to query the journal on registration

    def collect(self) -> Iterable[Metric]:
        reachable = GaugeMetricFamily(
            "filebridge_partner_reachable",
            "1 when the last operation on the partner's folders worked, 0 while unreachable",
            labels=["partner"])
        for link in self.links:
            reachable.add_metric([link.name], 0.0 if link.unreachable_since else 1.0)
        yield reachable
        try:
            counts = self.bridge.journal.count_by_state()
            alerts = self.bridge.journal.alerts()
        except Exception as exc:
            log.warning("metrics: cannot read the journal: %s", exc)
            return
        orders = GaugeMetricFamily("filebridge_orders", "Orders per partner and state",
                                   labels=["partner", "state"])
        open_alerts = GaugeMetricFamily("filebridge_alerts_open",
                                        "Unresolved alerts (acknowledged ones included)",
                                        labels=["partner"])
        unacknowledged = GaugeMetricFamily("filebridge_alerts_unacknowledged",
                                           "Unresolved alerts nobody has acknowledged",
                                           labels=["partner"])
        for link in self.links:
            partner_counts = counts.get(link.name, {})
            for state in OrderState:
                orders.add_metric([link.name, state.value],
                                  float(partner_counts.get(state.value, 0)))
            mine = [alert for alert in alerts if alert.partner == link.name]
            open_alerts.add_metric([link.name], float(len(mine)))
            unacknowledged.add_metric(
                [link.name], float(sum(1 for alert in mine if not alert.acknowledged_at)))
        yield orders
        yield open_alerts
        yield unacknowledged


class BridgeMetrics:
    """Subscribes to a bridge's events and holds its registry.

    Build it on the thread that runs the engine, before serving: it takes the partner
    links from ``bridge.engine``."""

    def __init__(self, bridge: Bridge, registry: CollectorRegistry | None = None) -> None:
        self.bridge = bridge
        self.registry = registry or CollectorRegistry()
        labels = ("partner", "document", "status")
        self.files_sent = Counter(
            "filebridge_files_sent", "Outbound exchange records (one per order document)",
            labels, registry=self.registry)
        self.files_received = Counter(
            "filebridge_files_received", "Inbound exchange records (one per document)",
            labels, registry=self.registry)
        self.ack_latency = Histogram(
            "filebridge_ack_latency_seconds",
            "Seconds from sending an order file to applying the partner's acknowledgement",
            ("partner", "status"), buckets=ACK_LATENCY_BUCKETS, registry=self.registry)
        self.ticks = Counter("filebridge_ticks", "Engine ticks completed",
                             registry=self.registry)
        self.last_tick = Gauge("filebridge_last_tick_timestamp_seconds",
                               "When the last engine tick completed (Unix time)",
                               registry=self.registry)
        self.registry.register(JournalCollector(bridge, list(bridge.engine.links)))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        bridge.on("exchange", self.on_exchange)
        for event in ACK_STATUS:
            bridge.on(event, self.on_acknowledgement)

    def on_exchange(self, record: ExchangeRecord) -> None:
        counter = self.files_sent if record.direction is Direction.OUT else self.files_received
        counter.labels(record.partner, record.document.value, record.status.value).inc()

    def on_acknowledgement(self, event: OrderEvent) -> None:
        row = self.bridge.journal.get_order(event.order_id)
        if row is None or row.sent_at is None:
            return
        latency = (self.bridge.clock.now() - row.sent_at).total_seconds()
        if latency >= 0:
            self.ack_latency.labels(event.partner, ACK_STATUS[event.event]).observe(latency)

    def on_tick(self, report: TickReport) -> None:
        self.ticks.inc()
        self.last_tick.set(self.bridge.clock.now().timestamp())
