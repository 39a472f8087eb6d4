"""The whole exchange over SFTP against a real OpenSSH server: the bridge on one SSH
connection, the simulated partner on its own, and the faults of real life."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import pytest
from click.testing import CliRunner

from filebridge.bridge import Bridge
from filebridge.cli.main import _register, cli
from filebridge.clock import ManualClock
from filebridge.config import BridgeConfig, config_from_dict
from filebridge.model import FINAL_STATES, OrderState
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import make_ack, make_order
from tests.servers.sshd import SshdServer

DONE = FINAL_STATES | {OrderState.REJECTED}


def sftp_config(server: SshdServer, root: Path, tmp_path: Path, **policy: Any) -> BridgeConfig:
    root.mkdir(parents=True, exist_ok=True)
    table = server.partner(root=str(root), **policy)
    return config_from_dict({
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.db'}"},
        "defaults": {"settle_time": "0s", "backoff_initial": "1s", "backoff_max": "5s",
                     "max_attempts": 5, "unreachable_after": "1m"},
        "partners": {"hauler": table},
    }, tmp_path / "filebridge.toml")


@pytest.fixture
def partner_root(sshd_server: SshdServer) -> Path:
    return sshd_server.root / f"e2e-{secrets.token_hex(4)}"


def clocked_bridge(server: SshdServer, root: Path, tmp_path: Path,
                   **policy: Any) -> tuple[Bridge, ManualClock]:
    """A bridge on ``server`` whose time moves only when the test says so."""
    clock = ManualClock()
    return Bridge(sftp_config(server, root, tmp_path, **policy), clock=clock), clock


def sent_ack(bridge: Bridge, order_id: str, tick: Callable[[], int]) -> bytes:
    """Submit an order, send it with one ``tick``, and return the partner's ack of it."""
    bridge.submit(make_order(order_id))
    assert tick() == 1
    row = bridge.journal.get_order(order_id)
    assert row is not None
    return make_ack(row.order).to_xml()


def run_until_settled(bridge: Bridge, partner: SimulatedPartner, order_ids: list[str],
                      clock: ManualClock | None = None, rounds: int = 60) -> None:
    for _ in range(rounds):
        bridge.run_once()
        partner.step()
        if clock is not None:
            clock.advance(seconds=2)
        if all(bridge.get(o).state in DONE for o in order_ids):
            bridge.run_once()
            return
    states = {o: bridge.get(o).state.value for o in order_ids}
    raise AssertionError(f"orders did not settle: {states}")


def test_orders_flow_over_sftp_with_a_partner_on_its_own_session(
        sshd_server: SshdServer, partner_root: Path, tmp_path: Path) -> None:
    config = sftp_config(sshd_server, partner_root, tmp_path, format="csv",
                         csv_delimiter=";")
    bridge = Bridge(config)
    partner = SimulatedPartner(open_transport(config.partners["hauler"], config),
                               config.partners["hauler"], reject_share=0.0,
                               reject_ids=frozenset({"ORD-3"}))
    order_ids = [f"ORD-{n}" for n in range(1, 9)]
    for order_id in order_ids:
        bridge.submit(make_order(order_id))
    run_until_settled(bridge, partner, order_ids)
    states = {bridge.get(o).state for o in order_ids}
    assert OrderState.REJECTED in states and OrderState.COMPLETED in states
    inbound = [r for r in bridge.exchanges(last=100) if r.direction == "in"]
    assert {r.status for r in inbound} == {"ok"}
    assert len(inbound) == len(order_ids) + (len(order_ids) - 1)  # acks + results
    archived = sorted(p.name for p in (partner_root / "from_partner/archive").iterdir())
    assert len(archived) == len(inbound)
    partner.transport.close()
    bridge.close()


def test_a_server_down_delays_but_never_loses_orders(
        sshd_factory: Callable[[], SshdServer], tmp_path: Path) -> None:
    server = sshd_factory()
    config = sftp_config(server, server.root / "partner", tmp_path)
    clock = ManualClock()
    bridge = Bridge(config, clock=clock)
    bridge.run_once()
    # given the server goes down while orders are queued
    server.stop()
    for number in range(5):
        bridge.submit(make_order(f"ORD-{number}"))
    for _ in range(3):
        bridge.run_once()
        clock.advance(minutes=1)
    # then nothing was sent, no attempt was used, and the outage is an alert
    assert bridge.status()["partners"]["hauler"] == {"queued": 5}
    assert all(bridge.journal.get_order(f"ORD-{n}").attempts == 0  # type: ignore[union-attr]
               for n in range(5))
    assert [a.kind.value for a in bridge.alert_list()] == ["partner_unreachable"]
    # when it comes back, everything goes out once and the alert resolves
    server.start()
    for _ in range(5):
        clock.advance(minutes=3)
        bridge.run_once()
    assert bridge.status()["partners"]["hauler"] == {"sent": 5}
    names = sorted(p.name for p in (server.root / "partner/to_partner/orders").iterdir())
    assert names == [f"ORDER_ORD-{n}_1.xml" for n in range(5)]
    assert bridge.alert_list() == []
    bridge.close()


def test_a_rotated_host_key_stops_everything_and_check_says_why(
        sshd_factory: Callable[[], SshdServer], tmp_path: Path) -> None:
    server = sshd_factory()
    config = sftp_config(server, server.root / "partner", tmp_path)
    clock = ManualClock()
    bridge = Bridge(config, clock=clock)
    bridge.run_once()
    server.rotate_host_key()
    bridge.submit(make_order("ORD-1"))
    bridge.run_once()
    # then nothing is sent, and the alert says what happened, at once
    assert not any((server.root / "partner/to_partner/orders").iterdir())
    (alert,) = bridge.alert_list()
    assert alert.kind.value == "host_key_mismatch"
    assert "known_hosts" in alert.message and alert.last_error
    assert "fingerprint" in alert.last_error.lower() or "SHA256" in alert.last_error
    bridge.close()
    # and `filebridge check` fails with a line naming the mismatch
    config_path = tmp_path / "check.toml"
    table = server.partner(root=str(server.root / "partner"))
    lines = [f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
             for key, value in table.items()]
    config_path.write_text("[partners.hauler]\n" + "\n".join(lines) + "\n")
    _register()
    result = CliRunner().invoke(cli, ["--config", str(config_path), "check"])
    assert result.exit_code == 1
    assert "host key" in result.output.lower()



def test_an_idle_partner_is_polled_at_its_interval(
        sshd_server: SshdServer, partner_root: Path, tmp_path: Path) -> None:
    # given a partner polled every 30 s with nothing awaited from it
    bridge, clock = clocked_bridge(sshd_server, partner_root, tmp_path, poll_interval="30s")
    bridge.engine.tick()  # first contact: folders made, first poll done
    # when a file arrives, then it waits for the next regular poll
    acks = partner_root / "from_partner/acks"
    (acks / "ACK_stray.xml").write_bytes(make_ack(make_order("NOBODY")).to_xml())
    clock.advance(seconds=20)
    bridge.engine.tick()
    assert (acks / "ACK_stray.xml").exists()
    clock.advance(seconds=11)
    bridge.engine.tick()
    assert not (acks / "ACK_stray.xml").exists()  # read at 30 s, refused as unmatched
    bridge.close()


def test_a_partner_is_polled_soon_after_an_order_was_sent_to_it(
        sshd_server: SshdServer, partner_root: Path, tmp_path: Path) -> None:
    # given a partner polled every 30 s, just polled
    bridge, clock = clocked_bridge(sshd_server, partner_root, tmp_path, poll_interval="30s")
    bridge.engine.tick()
    # when an order goes out, and the partner acknowledges it at once
    clock.advance(seconds=1)
    ack = sent_ack(bridge, "ORD-1", lambda: bridge.engine.tick().sent)
    (partner_root / "from_partner/acks/ACK_1.xml").write_bytes(ack)
    # then the acknowledgement is read within seconds, not at the next 30 s poll
    clock.advance(seconds=6)
    bridge.engine.tick()
    assert bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED
    bridge.close()


def test_an_ack_uploaded_slowly_in_place_is_read_only_once_complete(
        sshd_server: SshdServer, partner_root: Path, tmp_path: Path) -> None:
    # given a sent order, and a partner that writes its ack in place (no temp name),
    # a few hundred bytes at a time, over its own SFTP session
    bridge, clock = clocked_bridge(sshd_server, partner_root, tmp_path, settle_time="10s")
    data = sent_ack(bridge, "ORD-1", lambda: bridge.run_once().sent)
    with paramiko.SSHClient() as partner:
        partner.load_host_keys(str(sshd_server.known_hosts))
        partner.connect(sshd_server.host, sshd_server.port, username=sshd_server.user,
                        key_filename=str(sshd_server.user_key), allow_agent=False,
                        look_for_keys=False)
        with partner.open_sftp() as client, client.open(
                str(partner_root / "from_partner/acks/ACK_1.xml"), "wb") as handle:
            for start in range(0, len(data), 100):
                handle.write(data[start:start + 100])
                handle.flush()
                # when the bridge polls while the upload goes on, however long it waits
                clock.advance(seconds=30)
                bridge.run_once()
                # then the half-written file is neither read nor refused
                assert [r for r in bridge.exchanges() if r.direction == "in"] == []
    # and once the file stops changing for settle_time, it is read whole and applied
    for _ in range(3):
        clock.advance(seconds=11)
        bridge.run_once()
    inbound = [r for r in bridge.exchanges() if r.direction == "in"]
    assert [(r.status, r.size) for r in inbound] == [("ok", len(data))]
    assert bridge.get("ORD-1").state is OrderState.ACKNOWLEDGED
    bridge.close()


@pytest.mark.slow
def test_a_folder_of_ten_thousand_acks_is_ingested_completely(
        sshd_server: SshdServer, partner_root: Path, tmp_path: Path) -> None:
    # given 10,000 orders sent over SFTP in one burst
    count = 10_000
    bridge = Bridge(sftp_config(sshd_server, partner_root, tmp_path))
    bridge.submit_many([make_order(f"BIG-{n:05d}") for n in range(count)], partner="hauler")
    sent = 0
    for _ in range(count // 100):
        sent += bridge.run_once().sent
        if sent == count:
            break
    assert sent == count
    # and the partner answering every one of them at once, into one folder
    acks = partner_root / "from_partner/acks"
    for order_id in (f"BIG-{n:05d}" for n in range(count)):
        order = bridge.journal.get_order(order_id)
        assert order is not None
        (acks / f"ACK_{order_id}.xml").write_bytes(make_ack(order.order).to_xml())
    # when the bridge polls the folder
    received = 0
    for _ in range(count // 100):
        received += bridge.run_once().received
        if received >= count:
            break
    # then every ack was read once, applied, journalled and archived, none left behind
    assert received == count
    assert list(acks.iterdir()) == []
    assert len(list((partner_root / "from_partner/archive").iterdir())) == count
    assert bridge.status()["partners"]["hauler"] == {OrderState.ACKNOWLEDGED.value: count}
    inbound = [r for r in bridge.exchanges(last=3 * count) if r.direction == "in"]
    assert len(inbound) == count and {r.status for r in inbound} == {"ok"}
    assert len({r.order_id for r in inbound}) == count
    bridge.close()
