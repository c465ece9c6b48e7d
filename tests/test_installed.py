"""The installed-state cache (mstk.installed): answers equal importlib.metadata's, and any
change to the installation is seen on the next start."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from mstk import installed


def metadata_entry_points() -> set[tuple[str, str, str | None, str | None]]:
    return {(ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
            for ep in importlib.metadata.entry_points(group="mstk")}


def snapshot_entry_points(snap: installed.Snapshot) -> set[tuple[str, str, str | None, str | None]]:
    return {(ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
            for ep in snap.entry_points}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MSTK_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("mstk_installed_probe", None)


def add_distribution(root: Path, name: str, version: str, entry: str) -> Path:
    dist_info = root / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist_info / "entry_points.txt").write_text(f"[mstk]\n{entry}\n")
    return dist_info


def test_a_cached_answer_equals_importlib_metadata(cache_dir: Path) -> None:
    first = installed.snapshot()
    files = list(cache_dir.glob("installed-*.json"))
    assert len(files) == 1
    second = installed.snapshot()  # now from the file
    assert second == first
    assert snapshot_entry_points(second) == metadata_entry_points()
    try:
        expected_version = importlib.metadata.version("mstk")
    except importlib.metadata.PackageNotFoundError:
        expected_version = "0.0.0+unknown"
    assert second.mstk_version == expected_version


def test_installing_and_editing_a_plugin_is_seen(cache_dir: Path, site: Path) -> None:
    before = snapshot_entry_points(installed.snapshot())
    dist_info = add_distribution(site, "mstk_probe", "1.0", "probe = mstk_installed_probe")
    after = snapshot_entry_points(installed.snapshot())
    assert after - before == {("probe", "mstk_installed_probe", "mstk_probe", "1.0")}
    # Re-declared in place: the folder's time may not change, the file's does.
    entry_points = dist_info / "entry_points.txt"
    entry_points.write_text("[mstk]\nprobe = mstk_installed_probe:plugin\n")
    stat = entry_points.stat()
    os.utime(entry_points, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = snapshot_entry_points(installed.snapshot())
    assert ("probe", "mstk_installed_probe:plugin", "mstk_probe", "1.0") in edited
    assert edited == metadata_entry_points()


def test_a_damaged_cache_is_ignored_and_rewritten(cache_dir: Path) -> None:
    good = installed.snapshot()
    (path,) = cache_dir.glob("installed-*.json")
    for damage in (b"", b"{not json", b'{"format": "mstk-installed/1"}', b"[1, 2]"):
        path.write_bytes(damage)
        assert installed.snapshot() == good
        assert path.read_bytes() != damage


def test_an_unencodable_search_path_only_skips_the_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A folder name that is not UTF-8 reaches sys.path as a lone surrogate, which JSON
    # cannot hold: the command must still run, just without writing the cache.
    monkeypatch.setattr(sys, "path", [*sys.path, "/nonexistent/\udcff"])
    assert snapshot_entry_points(installed.snapshot()) == metadata_entry_points()
    assert not list(cache_dir.glob("installed-*.json"))


def test_an_empty_cache_dir_disables_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert snapshot_entry_points(installed.snapshot()) == metadata_entry_points()
    assert not (tmp_path / "xdg").exists()


def test_entry_points_load_like_importlib_metadata(site: Path) -> None:
    (site / "mstk_installed_probe.py").write_text("class Outer:\n    class Inner:\n        value = 42\n")
    for value in ("mstk_installed_probe", "mstk_installed_probe:Outer", "mstk_installed_probe:Outer.Inner",
                  "mstk_installed_probe : Outer.Inner [extra1, extra2]"):
        ours = installed.EntryPoint("probe", value, None).load()
        theirs = importlib.metadata.EntryPoint("probe", value, "mstk").load()
        assert ours is theirs, value
