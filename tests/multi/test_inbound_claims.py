"""Inbound files are claimed before they are read: two daemons never ingest one twice."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filebridge.bridge import Bridge
from filebridge.model import Direction, ExchangeStatus, OrderState
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport
from tests.factories import T0, make_order
from tests.journal.conftest import JournalDatabase
from tests.multi.conftest import Bridges, bridge_config

LEASE = timedelta(minutes=5)
PATH, SIZE, MTIME = "from_partner/acks/ACK_1.xml", 512, 1764324000.25
FILE = (PATH, SIZE, MTIME)
OTHER = ("from_partner/acks/ACK_2.xml", 300, 1764324001.5)


def test_a_claimed_file_is_refused_to_others_until_released(database: JournalDatabase) -> None:
    # given two daemons, and the first one claimed a file
    first, second = database.open(), database.open()
    assert first.claim_inbound_files("hauler", [FILE], "daemon-a", T0, T0 + LEASE) == {FILE}

    # then the second gets only the files nobody holds, the first may claim it again
    assert second.claim_inbound_files("hauler", [FILE, OTHER], "daemon-b", T0,
                                      T0 + LEASE) == {OTHER}
    assert first.claim_inbound_files("hauler", [FILE], "daemon-a", T0, T0 + LEASE) == {FILE}
    # and the same name with another size or mtime is another file; another partner's
    # file of the same path too
    changed = (PATH, SIZE + 1, MTIME)
    assert second.claim_inbound_files("hauler", [changed], "daemon-b", T0,
                                      T0 + LEASE) == {changed}
    assert second.claim_inbound_files("depot", [FILE], "daemon-b", T0, T0 + LEASE) == {FILE}

    # when the second releases its claims, the first's still stand
    second.release_inbound_files("hauler", "daemon-b")
    assert second.claim_inbound_files("hauler", [FILE], "daemon-b", T0, T0 + LEASE) == set()
    # and when the first releases, the second gets it
    first.release_inbound_files("hauler", "daemon-a")
    assert second.claim_inbound_files("hauler", [FILE], "daemon-b", T0, T0 + LEASE) == {FILE}
    assert second.claims_held(T0) == {"daemon-b": (0, 2)}  # its hauler and depot files


def test_the_claim_of_a_dead_daemon_is_taken_over_after_its_lease(
    database: JournalDatabase,
) -> None:
    first, second = database.open(), database.open()
    assert first.claim_inbound_files("hauler", [FILE], "daemon-a", T0, T0 + LEASE) == {FILE}
    # the first daemon dies; just before the lease ends the claim still holds
    almost = T0 + LEASE - timedelta(seconds=1)
    assert second.claim_inbound_files("hauler", [FILE], "daemon-b", almost,
                                      almost + LEASE) == set()
    assert second.claim_inbound_files("hauler", [FILE], "daemon-b", T0 + LEASE,
                                      T0 + 2 * LEASE) == {FILE}
    # and the dead daemon, were it to wake up, finds the file taken
    assert first.claim_inbound_files("hauler", [FILE], "daemon-a", T0 + LEASE,
                                     T0 + 2 * LEASE) == set()


def test_two_daemons_on_one_folder_ingest_every_ack_once(
    tmp_path: Path, pg_url: str, bridges: Bridges
) -> None:
    # given 120 orders sent and acknowledged by the partner into one shared acks folder
    config = bridge_config(tmp_path, pg_url, {"hauler": {}})
    backend = bridges.open(config)
    count = 120
    for number in range(count):
        backend.submit(make_order(f"ORD-{number:04d}"), partner="hauler")
    while backend.run_once().sent:
        pass
    policy = config.partners["hauler"]
    partner = SimulatedPartner(open_transport(policy, config), policy, reject_share=0.0)
    assert partner.step() == count
    acks_dir = tmp_path / "drop" / "hauler" / policy.acks_dir
    assert len(os.listdir(acks_dir)) == count

    # when two daemons work through the folder at the same moment
    daemons = [bridges.open(config), bridges.open(config)]
    start = threading.Barrier(len(daemons))
    failures: list[BaseException] = []
    received = {daemon.claimant: 0 for daemon in daemons}

    def work(daemon: Bridge) -> None:
        try:
            start.wait()
            while os.listdir(acks_dir):
                received[daemon.claimant] += daemon.run_once().received
        except BaseException as exc:  # reported on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(daemon,)) for daemon in daemons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then every ack was ingested exactly once, and archived under its own name
    assert failures == []
    inbound = [r for r in backend.exchanges(last=10 * count) if r.direction is Direction.IN]
    assert len(inbound) == count
    assert {r.status for r in inbound} == {ExchangeStatus.OK}
    assert len({r.order_id for r in inbound}) == count
    archived = sorted(os.listdir(tmp_path / "drop" / "hauler" / policy.archive_dir))
    assert len(archived) == count and all("~" not in name for name in archived)
    assert backend.status()["partners"]["hauler"] == {OrderState.ACKNOWLEDGED.value: count}
    # both took part, each file counted by one of them, and no claim is left behind
    assert sum(received.values()) == count and all(received.values()), received
    assert backend.journal.claims_held(datetime(2000, 1, 1, tzinfo=UTC)) == {}
