"""The words of a notice: subject, what failed, where, what to do, and the two commands."""

from __future__ import annotations

import pytest

from filebridge.config import PartnerConfig
from filebridge.model import AlertKind as Kind
from filebridge.model import OrderState
from filebridge.model.records import ALERT_JSON_KEYS
from filebridge.notify import notice_for, partner_where
from tests.notify.samples import make_alert, make_notice, make_order_row, sftp_partner


def test_subject_names_kind_partner_and_order() -> None:
    notice = make_notice(Kind.ACK_OVERDUE)

    assert notice.subject == "[filebridge] ack_overdue retura ORD-1001"


def test_subject_leaves_out_the_order_when_the_alert_has_none() -> None:
    notice = make_notice(Kind.PARTNER_UNREACHABLE, order_id=None)

    assert notice.subject == "[filebridge] partner_unreachable retura"


def test_an_order_alert_points_at_show_and_at_ack_with_its_id() -> None:
    notice = make_notice(Kind.SEND_FAILED, id=77)

    assert notice.see_command == "filebridge show ORD-1001"
    assert notice.ack_command == "filebridge alerts ack 77"


def test_a_partner_alert_points_at_the_partners_last_exchanges() -> None:
    notice = make_notice(Kind.QUARANTINED_FILE, order_id=None)

    assert notice.see_command == "filebridge log --partner retura --last 20"


def test_a_partner_name_with_shell_characters_is_quoted_in_commands() -> None:
    alert = make_alert(Kind.PARTNER_UNREACHABLE, partner="north depot", order_id=None)

    notice = notice_for(alert, 1, "partner north depot: local folder /srv/drop")

    assert notice.see_command == "filebridge log --partner 'north depot' --last 20"


def test_ack_overdue_names_the_file_its_send_time_and_what_to_do() -> None:
    notice = make_notice(Kind.ACK_OVERDUE)

    assert "ORDER_ORD-1001_1.xml" in notice.what
    assert "2026-11-28 10:00 UTC" in notice.what
    steps = "\n".join(notice.advice)
    assert "picks up files from in/orders" in steps  # the partner's own orders_dir
    assert "`filebridge show ORD-1001`" in steps
    assert '`filebridge resend ORD-1001 --reason "..."`' in steps


def test_ack_overdue_names_the_partners_own_timeout() -> None:
    notice = make_notice(Kind.ACK_OVERDUE)  # built with the partner's config

    assert notice.what.endswith("within 15m.")


def test_ack_overdue_of_a_picked_up_file_asks_whether_the_partner_processed_it() -> None:
    row = make_order_row(state=OrderState.PICKED_UP, picked_up_at=make_alert().opened_at)

    notice = notice_for(make_alert(Kind.ACK_OVERDUE), 1, "partner retura", order=row)

    assert "took the file from to_partner/orders at 2026-11-28 10:15 UTC" in notice.advice[0]


def test_result_overdue_says_when_the_order_was_acknowledged() -> None:
    alert = make_alert(Kind.RESULT_OVERDUE)
    row = make_order_row(acknowledged_at=make_alert().opened_at)

    notice = notice_for(alert, 2, "partner retura", order=row)

    assert "acknowledged at 2026-11-28 10:15 UTC" in notice.what
    assert "from_partner/results" in " ".join(notice.advice)  # the default results_dir


def test_send_failed_counts_the_attempts_that_failed() -> None:
    alert = make_alert(Kind.SEND_FAILED)

    notice = notice_for(alert, 1, "partner retura", order=make_order_row(attempts=5))

    assert "all 5 attempts" in notice.what
    assert "`filebridge check retura`" in " ".join(notice.advice)


def test_host_key_mismatch_warns_never_to_add_keys_blindly() -> None:
    notice = make_notice(Kind.HOST_KEY_MISMATCH, order_id=None)

    assert "known_hosts" in notice.what
    assert any("fingerprint" in step for step in notice.advice)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_says_what_failed_for_whom_and_what_to_do(kind: Kind) -> None:
    notice = make_notice(kind)

    assert "retura" in notice.what
    assert notice.what.endswith(".")
    assert len(notice.advice) >= 2
    assert notice.since == notice.alert.opened_at


def test_last_error_falls_back_to_the_alerts_then_the_orders() -> None:
    alert = make_alert(Kind.SEND_FAILED, last_error="permission denied")
    row = make_order_row(last_error="older error")

    from_alert = notice_for(alert, 1, "partner retura", order=row)
    from_order = notice_for(alert.model_copy(update={"last_error": None}), 1, "x", order=row)
    given = notice_for(alert, 1, "x", "disk full", order=row)

    assert (from_alert.last_error, from_order.last_error, given.last_error) == (
        "permission denied", "older error", "disk full",
    )


def test_where_names_the_sftp_server_and_the_folder_the_alert_is_about() -> None:
    partner = sftp_partner()

    assert partner_where(partner, Kind.ACK_OVERDUE) == (
        "partner retura: sftp increo@sftp.example.com:2222, /upload/in/orders"
    )
    assert partner_where(partner, Kind.QUARANTINED_FILE) == (
        "partner retura: sftp increo@sftp.example.com:2222, /upload/from_partner/error"
    )
    assert partner_where(partner, Kind.PARTNER_UNREACHABLE) == (
        "partner retura: sftp increo@sftp.example.com:2222, /upload"
    )


def test_where_for_a_local_partner_uses_the_resolved_root() -> None:
    partner = PartnerConfig(name="depot", transport="local", root="./drop/depot")

    where = partner_where(partner, Kind.RESULT_OVERDUE, root="/srv/drop/depot")

    assert where == "partner depot: local folder /srv/drop/depot/from_partner/results"


def test_text_body_has_every_fact_and_both_commands_on_their_own_lines() -> None:
    notice = make_notice(Kind.ACK_OVERDUE, level=2, count=3)

    lines = notice.as_text().splitlines()

    assert lines[0] == notice.what
    where = "partner retura: sftp increo@sftp.example.com:2222, /upload/in/orders"
    assert f"Where:       {where}" in lines
    assert "Since:       2026-11-28T10:15:00+00:00" in lines
    assert "Occurrences: 3" in lines
    error_at = lines.index("Last error (as received, quoted):")
    assert lines[error_at + 1] == "> sftp.example.com:2222: connection reset by peer"
    assert "See more:    filebridge show ORD-1001" in lines
    assert "Acknowledge: filebridge alerts ack 12" in lines
    assert any(line.startswith("Alert:") and "escalation level 2" in line for line in lines)


def test_json_body_holds_the_alert_contract_fields_plus_level_and_the_facts() -> None:
    notice = make_notice(Kind.ACK_OVERDUE, level=2)

    body = notice.as_json()

    assert set(ALERT_JSON_KEYS) <= set(body)
    assert body["level"] == 2
    assert body["kind"] == "ack_overdue"
    assert body["opened_at"] == "2026-11-28T10:15:00Z"
    assert body["since"] == "2026-11-28T10:15:00+00:00"
    for key in ("subject", "what", "where", "last_error", "see_command", "ack_command"):
        assert body[key] == getattr(notice, key)
    assert body["advice"] == list(notice.advice)


INCIDENT = {"order_id": None, "orders": 1000,
            "order_ids": tuple(f"ORD-{n:04d}" for n in range(100))}


@pytest.mark.parametrize("kind", [Kind.ACK_OVERDUE, Kind.RESULT_OVERDUE, Kind.SEND_FAILED,
                                  Kind.PARTNER_NOT_CONFIGURED])
def test_an_incident_of_many_orders_says_how_many_and_names_the_first_few(kind: Kind) -> None:
    notice = make_notice(kind, **INCIDENT)

    assert notice.subject == f"[filebridge] {kind.value} retura ORD-0000 +999 more"
    assert "1000 orders (ORD-0000, ORD-0001, ORD-0002, ...)" in notice.what
    body = notice.as_text()
    assert "Orders:      1000 orders: ORD-0000, ORD-0001, ORD-0002, ORD-0003, ORD-0004 " \
           "and 995 more" in body
    assert "See more:    filebridge alerts show 12" in body
    payload = notice.as_json()
    assert (payload["orders"], len(payload["order_ids"]), payload["order_id"]) == (
        1000, 100, None)


def test_every_kind_has_its_words() -> None:
    for kind in Kind:
        notice = make_notice(kind, order_id=None)
        assert notice.what and notice.advice
