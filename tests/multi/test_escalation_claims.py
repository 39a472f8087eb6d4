"""Escalation with several daemons: each alert notifies once per level, and two daemons
opening the same alert at once make one alert."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from filebridge.bridge import Bridge
from filebridge.clock import ManualClock
from filebridge.model import AlertKind, NotificationStatus
from tests.factories import T0
from tests.journal.conftest import JournalDatabase
from tests.multi.conftest import Bridges, bridge_config
from tests.servers.http import WebhookServer

ALERTS = 6
ROUNDS = 4


def together(workers: list[Callable[[], object]]) -> list[BaseException]:
    """Run the callables on threads released at the same moment; their exceptions."""
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            start.wait()
            work()
        except BaseException as exc:  # reported on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_three_escalators_notify_each_level_of_each_alert_once(
    tmp_path: Path, pg_url: str, bridges: Bridges, webhook_server: WebhookServer
) -> None:
    # given three daemons on one journal, with two escalation levels to a webhook
    # that answers slowly (so the daemons overlap while a notification is in flight)
    webhook_server.delay = 0.02
    config = bridge_config(
        tmp_path, pg_url, {"hauler": {}},
        escalation={"levels": [
            {"after": "0m", "notify": [f"webhook:{webhook_server.url}/level1"]},
            {"after": "30m", "notify": [f"webhook:{webhook_server.url}/level2"]}]},
        notify={"webhook": {"timeout": "5s", "retries": 0}})
    clock = ManualClock(T0)
    daemons = [bridges.open(config, clock=clock) for _ in range(3)]
    for number in range(ALERTS):  # one incident per partner
        daemons[0].alerts.open(AlertKind.SEND_FAILED, f"hauler-{number}", f"ORD-{number}",
                               f"ORDER_ORD-{number}_1.xml could not be delivered")

    def escalate(daemon: Bridge) -> Callable[[], None]:
        def rounds() -> None:
            for _ in range(ROUNDS):
                daemon.engine.escalator.tick()
        return rounds

    # when all three escalate at once, now and again after level 2 is due
    assert together([escalate(daemon) for daemon in daemons]) == []
    clock.advance(timedelta(minutes=31))
    assert together([escalate(daemon) for daemon in daemons]) == []

    # then the webhook got exactly one call per alert and level
    calls = Counter((request.path, request.json["id"]) for request in webhook_server.requests)
    alert_ids = [alert.id for alert in daemons[0].alert_list()]
    assert len(alert_ids) == ALERTS
    assert calls == Counter({(f"/level{level}", alert_id): 1
                             for level in (1, 2) for alert_id in alert_ids})
    # and the journal agrees: one sent notification per level, each alert at level 2
    journal = daemons[0].journal
    sent = Counter((n.alert_id, n.level) for n in journal.notifications()
                   if n.status is NotificationStatus.SENT)
    assert sent == Counter({(alert_id, level): 1 for level in (1, 2) for alert_id in alert_ids})
    assert {alert.level for alert in daemons[0].alert_list()} == {2}
    # and no daemon still holds an alert
    assert PostgresRows(pg_url).claimed_alerts() == 0


class PostgresRows:
    """Reads past the journal, to see what the journal's API does not show."""

    def __init__(self, url: str) -> None:
        self.url = url

    def claimed_alerts(self) -> int:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            row = connection.execute(
                "SELECT COUNT(*) FROM alerts WHERE claimed_by IS NOT NULL").fetchone()
        return int(row[0]) if row else -1


def test_an_acknowledged_alert_is_not_claimed(database: JournalDatabase) -> None:
    journal = database.open()
    alert = journal.open_alert(AlertKind.ACK_OVERDUE, "hauler", ["ORD-1"], "late", T0).alert
    lease = T0 + timedelta(minutes=5)
    assert journal.claim_alert(alert.id, "daemon-a", T0, lease) is not None
    assert journal.claim_alert(alert.id, "daemon-b", T0, lease) is None
    journal.release_alert(alert.id, "daemon-a")
    journal.acknowledge_alert(alert.id, "kari", T0)
    # acknowledged: nobody escalates it any more
    assert journal.claim_alert(alert.id, "daemon-b", T0, lease) is None


def test_daemons_opening_the_same_alert_at_once_make_one(
    postgresql_database: JournalDatabase,
) -> None:
    # given six daemons that find the same order, and one more each, overdue at once
    journals = [postgresql_database.open() for _ in range(6)]
    opened: list[bool] = []

    def open_alert(index: int) -> Callable[[], None]:
        def work() -> None:
            opening = journals[index].open_alert(
                AlertKind.ACK_OVERDUE, "hauler", ["ORD-1", f"ORD-{index + 10}"],
                "no acknowledgement", T0)
            opened.append(opening.created)
        return work

    # when they all open it, none of them fails
    assert together([open_alert(index) for index in range(len(journals))]) == []

    # then there is one alert, opened once, holding every order once
    assert sorted(opened) == [False] * 5 + [True]
    [alert] = journals[0].alerts()
    assert alert.kind is AlertKind.ACK_OVERDUE and alert.orders == 7 and alert.count == 7
    assert sorted(alert.order_ids) == sorted(["ORD-1", *(f"ORD-{n + 10}" for n in range(6))])
