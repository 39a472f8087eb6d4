"""``/metrics`` and ``/healthz`` over real HTTP after real exchanges on the memory transport."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from filebridge.errors import FileBridgeError
from filebridge.observe.health import HealthCheck
from filebridge.observe.metrics import BridgeMetrics
from filebridge.observe.server import ObserveApp, ObserveServer
from filebridge.transports.memory import MemoryStore
from tests.engine.conftest import World, build_world
from tests.factories import make_ack, make_order
from tests.support import free_port


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    yield w
    w.bridge.close()
    MemoryStore.forget()


@pytest.fixture
def served(world: World) -> Iterator[tuple[World, BridgeMetrics, ObserveServer]]:
    metrics = BridgeMetrics(world.bridge)
    server = ObserveServer(ObserveApp(metrics, HealthCheck(world.bridge)), "127.0.0.1",
                           free_port())
    with server:
        yield world, metrics, server


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(server: ObserveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, body = get(f"{server.url}/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_metrics_count_files_orders_alerts_and_ack_latency(
        served: tuple[World, BridgeMetrics, ObserveServer]) -> None:
    world, metrics, server = served
    # given two orders sent, one acknowledged 90 seconds later, and a refused file
    world.bridge.submit(make_order("ORD-1"))
    world.bridge.submit(make_order("ORD-2"))
    metrics.on_tick(world.bridge.run_once())
    world.clock.advance(seconds=90)
    world.drop_document(make_ack(world.sent_order("ORD-1")))
    world.drop("from_partner/results", "junk.xml", b"<junk/>")
    world.clock.advance(seconds=3)  # past settle_time
    metrics.on_tick(world.bridge.run_once())
    # when Prometheus scrapes
    found = samples(server)
    # then files are counted by partner, document and status
    assert found[("filebridge_files_sent_total",
                  labels(partner="hauler", document="order", status="ok"))] == 2
    assert found[("filebridge_files_received_total",
                  labels(partner="hauler", document="ack", status="ok"))] == 1
    assert found[("filebridge_files_received_total",
                  labels(partner="hauler", document="unknown", status="quarantined"))] == 1
    # and the ack latency is the time from sending to the acknowledgement
    assert found[("filebridge_ack_latency_seconds_count",
                  labels(partner="hauler", status="accepted"))] == 1
    assert found[("filebridge_ack_latency_seconds_sum",
                  labels(partner="hauler", status="accepted"))] == pytest.approx(93)
    # and the gauges read the journal: orders per state, every state present
    assert found[("filebridge_orders", labels(partner="hauler", state="acknowledged"))] == 1
    assert found[("filebridge_orders", labels(partner="hauler", state="sent"))] == 1
    assert found[("filebridge_orders", labels(partner="hauler", state="completed"))] == 0
    assert found[("filebridge_alerts_open", labels(partner="hauler"))] == 1
    assert found[("filebridge_alerts_unacknowledged", labels(partner="hauler"))] == 1
    assert found[("filebridge_partner_reachable", labels(partner="hauler"))] == 1
    assert found[("filebridge_ticks_total", labels())] == 2
    assert found[("filebridge_last_tick_timestamp_seconds", labels())] == (
        world.clock.now().timestamp())


def test_acknowledging_an_alert_shows_in_the_next_scrape(
        served: tuple[World, BridgeMetrics, ObserveServer]) -> None:
    world, _, server = served
    world.bridge.run_once()
    world.drop("from_partner/acks", "junk.xml", b"<junk/>")
    world.bridge.run_once()
    alert = world.bridge.alert_list()[0]
    world.bridge.acknowledge_alert(alert.id, by="kari")
    found = samples(server)
    assert found[("filebridge_alerts_open", labels(partner="hauler"))] == 1
    assert found[("filebridge_alerts_unacknowledged", labels(partner="hauler"))] == 0


def test_healthz_fails_while_a_partner_is_unreachable_past_its_threshold(
        served: tuple[World, BridgeMetrics, ObserveServer]) -> None:
    world, _, server = served
    # given a healthy daemon
    world.bridge.run_once()
    assert get(f"{server.url}/healthz") == (200, "ok\n")
    # when the partner stops answering, a short outage is still healthy
    world.store.unreachable = True
    world.bridge.run_once()
    world.clock.advance(minutes=9)
    assert get(f"{server.url}/healthz")[0] == 200
    # but past unreachable_after (10m) it is not, and the body says who and why
    world.clock.advance(minutes=1)
    status, body = get(f"{server.url}/healthz")
    assert status == 503
    assert "partner hauler unreachable since 2026-11-28 10:00:00Z" in body
    assert "partner unreachable (simulated)" in body
    assert samples(server)[("filebridge_partner_reachable", labels(partner="hauler"))] == 0
    # and once the partner answers again, healthy again
    world.store.unreachable = False
    world.bridge.run_once()
    assert get(f"{server.url}/healthz") == (200, "ok\n")


def test_healthz_fails_when_the_journal_refuses_writes(
        served: tuple[World, BridgeMetrics, ObserveServer]) -> None:
    world, _, server = served
    world.bridge.run_once()
    world.bridge.journal.close()
    status, body = get(f"{server.url}/healthz")
    assert status == 503
    assert body.startswith("journal not writable:") and "closed" in body
    # the counters are still served
    assert get(f"{server.url}/metrics")[0] == 200


def test_other_paths_are_not_found(served: tuple[World, BridgeMetrics, ObserveServer]) -> None:
    _, _, server = served
    assert get(f"{server.url}/secrets")[0] == 404
    status, body = get(f"{server.url}/")
    assert status == 200 and "/healthz" in body


def test_a_port_in_use_is_a_clear_error(world: World) -> None:
    metrics = BridgeMetrics(world.bridge)
    app = ObserveApp(metrics, HealthCheck(world.bridge))
    with ObserveServer(app, "127.0.0.1", free_port()) as first:
        taken = first.port
        with pytest.raises(FileBridgeError, match=f"cannot serve metrics on 127.0.0.1:{taken}"):
            ObserveServer(app, "127.0.0.1", taken)
