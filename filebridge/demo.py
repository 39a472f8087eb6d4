"""The embedded default, end to end: local folders, SQLite, the built-in partner simulator.

``filebridge demo`` builds a throw-away workspace with two partners (one XML, one CSV
with ``;``), submits realistic orders, drops one broken file, and runs the bridge and
the simulated partners until every order has settled, so a newcomer sees the whole
product, including how it refuses bad input, in a few seconds.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from filebridge.bridge import Bridge
from filebridge.model import Order, OrderState
from filebridge.partner_sim import SimulatedPartner
from filebridge.transports.factory import open_transport

SETTLED = {OrderState.COMPLETED, OrderState.NOT_COMPLETED, OrderState.REJECTED,
           OrderState.SEND_FAILED}

DEMO_CONFIG = """\
# A filebridge configuration for two partners whose drop folders are local.
[journal]
url = "sqlite:///filebridge.db"

[defaults]
format = "xml"
settle_time = "1s"
poll_interval = "5s"
ack_timeout = "15m"
result_timeout = "48h"

[partners.{xml_partner}]
transport = "local"
root = "./drop/{xml_partner}"

[partners.{csv_partner}]
transport = "local"
root = "./drop/{csv_partner}"
format = "csv"
csv_delimiter = ";"

[escalation]
levels = [ {{ after = "0m", notify = ["log:alerts"] }} ]
"""

SITES = [
    ("Bakeriet på Hjørnet AS", "Storgata 12", "0155", "Oslo", "59.9139", "10.7522"),
    ("Fjordhotellet", "Bryggen 4", "5003", "Bergen", "60.3975", "5.3242"),
    ("Nidaros Bygg AS", "Kjøpmannsgata 30", "7013", "Trondheim", "63.4305", "10.3951"),
    ("Stavanger Skole", "Kongsgata 20", "4005", "Stavanger", "58.9700", "5.7331"),
    ("Tromsø Marina", "Strandvegen 1", "9008", "Tromsø", "69.6492", "18.9553"),
    ("Drammen Verksted", "Tollbugata 7", "3044", "Drammen", "59.7439", "10.2045"),
]
CONTAINERS = [
    ("empty", "660L", "MIXED", "20 03 01", False),
    ("deliver", "BOX-8M3", "WOOD", "17 02 01", False),
    ("swap", "ROLL-20M3", "CONCRETE", "17 01 01", False),
    ("retrieve", "660L", "PAPER", "20 01 01", False),
    ("empty", "BOX-8M3", "PAINT", "08 01 11*", True),
    ("empty", "660L", "GLASS", "20 01 02", False),
]


def demo_orders(now: datetime) -> list[Order]:
    """Six realistic orders, one of each kind of work, across Norway."""
    orders = []
    for number, (site, work) in enumerate(zip(SITES, CONTAINERS, strict=True), start=1):
        name, street, postal, city, lat, lon = site
        action, type_code, fraction, ewc, hazardous = work
        order_id = f"DEMO-{now:%m%d}-{number:03d}"
        container: dict[str, Any] = {
            "type_code": type_code, "quantity": 1,
            "fraction": {"code": fraction, "ewc_code": ewc, "hazardous": hazardous}}
        if action != "deliver":
            container["container_id"] = f"CNT-{4700 + number}"
        start = (now + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
        orders.append(Order.model_validate({
            "message_id": f"{order_id}-1", "order_id": order_id, "sequence": 1,
            "created_at": now.replace(microsecond=0), "action": action,
            "customer": {"customer_id": f"CUST-{100 + number}", "name": name},
            "site": {"site_id": f"SITE-{number}", "street": street, "postal_code": postal,
                     "city": city, "country_code": "NO", "latitude": Decimal(lat),
                     "longitude": Decimal(lon)},
            "container": container,
            "window": {"earliest": start, "latest": start + timedelta(hours=8)},
            "contact": {"name": "Ola Nordmann", "phone": "+47 400 00 000"},
            "notes": "Ring the bell at the back door." if number % 2 else None,
        }))
    return orders


def write_demo_workspace(root: Path, xml_partner: str = "nordic-hauling",
                         csv_partner: str = "fjord-waste") -> Path:
    """Write the demo's config into ``root``; returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "filebridge.toml"
    config.write_text(DEMO_CONFIG.format(xml_partner=xml_partner, csv_partner=csv_partner),
                      encoding="utf-8")
    return config


def run_demo(workdir: Path | None = None, timeout: float = 60.0) -> tuple[Bridge, list[str]]:
    """Run the whole exchange until every order settles; returns the bridge (still open,
    for printing) and the order ids. Raises TimeoutError if the run does not settle."""
    root = workdir or Path(tempfile.mkdtemp(prefix="filebridge-demo-"))
    bridge = Bridge.from_config(write_demo_workspace(root))
    partners = list(bridge.config.partners.values())
    orders = demo_orders(datetime.now(UTC))
    # one rejection is certain, so every demo shows how a refusal looks
    simulators = [SimulatedPartner(open_transport(p, bridge.config), p, reject_share=0.0,
                                   not_completed_share=0.25,
                                   reject_ids=frozenset({orders[2].order_id}))
                  for p in partners]
    for index, order in enumerate(orders):
        bridge.submit(order, partner=partners[index % len(partners)].name)
    bridge.run_once()  # creates the folders and starts watching them
    simulators[0].drop_bad_file()
    deadline = time.monotonic() + timeout
    while True:
        bridge.run_once()
        for simulator in simulators:
            simulator.step()
        states = {bridge.get(o.order_id).state for o in orders}
        error_files = list((root / "drop" / partners[0].name).glob("from_partner/error/*.xml"))
        if states <= SETTLED and error_files:
            bridge.run_once()
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo did not settle within {timeout:.0f}s: {sorted(states)}")
        time.sleep(0.2)
    for simulator in simulators:
        simulator.transport.close()
    return bridge, [o.order_id for o in orders]
