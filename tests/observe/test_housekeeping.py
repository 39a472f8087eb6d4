"""Archive pruning removes only what is older than archive_keep, on every transport that
can delete, and reports what it could not do instead of stopping."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filebridge.config import PartnerConfig, config_from_dict
from filebridge.errors import RemoteFileMissing, TransportError
from filebridge.observe.housekeeping import prune_archive
from filebridge.transports.local import LocalTransport
from filebridge.transports.memory import MemoryStore, MemoryTransport

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ARCHIVE = "from_partner/archive"


def partner(keep: str | None = "30d") -> PartnerConfig:
    table: dict[str, object] = {"transport": "memory", "root": "x"}
    if keep is not None:
        table["archive_keep"] = keep
    return config_from_dict({"partners": {"hauler": table}}).partners["hauler"]


def days_ago(days: float) -> float:
    return (NOW - timedelta(days=days)).timestamp()


def memory_archive(**ages: float) -> MemoryStore:
    store = MemoryStore()
    for name, age in ages.items():
        store.write(f"{ARCHIVE}/{name}", b"<doc/>", mtime=days_ago(age))
    store.write("from_partner/error/old-refused.xml", b"x", mtime=days_ago(400))
    return store


def test_only_files_older_than_archive_keep_go() -> None:
    # given an archive with files of 10, 29, 31 and 200 days
    store = memory_archive(**{"a.xml": 10, "b.xml": 29, "c.xml": 31, "d.xml": 200})
    # when pruned with archive_keep = 30d
    result = prune_archive(partner("30d"), MemoryTransport(store), NOW)
    # then the two older ones are gone, oldest first in the report, the rest kept
    assert result.ok and result.removed == ["d.xml", "c.xml"] and result.kept == 2
    assert store.names(ARCHIVE) == ["a.xml", "b.xml"]
    # and the error folder is never touched
    assert store.names("from_partner/error") == ["old-refused.xml"]


def test_a_dry_run_lists_the_same_files_and_removes_none() -> None:
    store = memory_archive(**{"a.xml": 10, "c.xml": 31})
    result = prune_archive(partner("30d"), MemoryTransport(store), NOW, dry_run=True)
    assert result.removed == ["c.xml"] and result.kept == 1
    assert store.names(ARCHIVE) == ["a.xml", "c.xml"]


def test_without_archive_keep_everything_is_kept() -> None:
    store = memory_archive(**{"d.xml": 2000})
    result = prune_archive(partner(None), MemoryTransport(store), NOW)
    assert result.ok and result.removed == [] and result.before is None
    assert store.names(ARCHIVE) == ["d.xml"]


def test_a_file_that_cannot_be_removed_is_reported_and_the_rest_go() -> None:
    store = memory_archive(**{"c.xml": 31, "d.xml": 200})
    transport = MemoryTransport(store)
    transport.fail_next("remove", TransportError("permission denied on d.xml"))
    result = prune_archive(partner("30d"), transport, NOW)
    assert not result.ok and result.removed == ["c.xml"]
    assert result.failed == ["d.xml: permission denied on d.xml"]
    assert store.names(ARCHIVE) == ["d.xml"]


def test_an_unreachable_partner_is_reported_not_raised() -> None:
    store = memory_archive(**{"c.xml": 31})
    store.unreachable = True
    result = prune_archive(partner("30d"), MemoryTransport(store), NOW)
    assert result.error == "partner unreachable (simulated)" and result.removed == []


def test_a_missing_archive_folder_is_an_empty_one() -> None:
    result = prune_archive(partner("30d"), MemoryTransport(MemoryStore()), NOW)
    assert result.ok and result.removed == [] and result.kept == 0


def test_the_local_transport_removes_old_files_and_never_follows_a_link(tmp_path: Path) -> None:
    # given a local archive with an old file, a new one, and an old link to a file
    # outside the partner's root (partners can plant links in their chroot)
    archive = tmp_path / "root" / ARCHIVE
    archive.mkdir(parents=True)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    for name, age in (("old.xml", 100), ("new.xml", 1)):
        (archive / name).write_text("<doc/>")
        os.utime(archive / name, (days_ago(age), days_ago(age)))
    (archive / "link.xml").symlink_to(outside)
    os.utime(archive / "link.xml", (days_ago(100), days_ago(100)), follow_symlinks=False)
    transport = LocalTransport(tmp_path / "root")
    # when pruned
    result = prune_archive(partner("30d"), transport, NOW)
    # then the old file is gone, the new one stays, and the link's target is untouched
    assert "old.xml" in result.removed and result.ok
    assert (archive / "new.xml").exists() and not (archive / "old.xml").exists()
    assert outside.read_text() == "keep me"


@pytest.mark.parametrize("make", ["memory", "local"])
def test_remove_refuses_a_missing_file_and_a_folder(make: str, tmp_path: Path) -> None:
    if make == "memory":
        store = MemoryStore()
        store.write(f"{ARCHIVE}/sub/file.xml", b"x")
        transport: MemoryTransport | LocalTransport = MemoryTransport(store)
    else:
        (tmp_path / ARCHIVE / "sub").mkdir(parents=True)
        transport = LocalTransport(tmp_path)
    with pytest.raises(RemoteFileMissing):
        transport.remove(f"{ARCHIVE}/nothing.xml")
    with pytest.raises(TransportError, match="folder"):
        transport.remove(f"{ARCHIVE}/sub")
