"""Hostile listings (issue 4): bad entries are skipped, a listing that does not parse,
is cut short, pages forever or redirects to another host fails that directory's
``ls`` with EIO, nothing shows outside the mount, and the daemon lives on.

The listings come from hostile_server.py (its docstring lists every bad entry and
directory); one daemon per listing format.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

import hostile_server as H
import tree_mounts as M
import voxfs_proc as P

KEY = "/h"


@pytest.fixture(autouse=True)
def _mount_logs():
    yield  # the report of the test is made before this teardown
    M.release_logs()


@pytest.fixture(scope="module")
def hostile():
    srv = H.HostileServer().start()
    yield srv
    srv.stop()


class HostileMount:
    def __init__(self, fmt, handle, base):
        self.fmt = fmt
        self.handle = handle
        self.mp = handle.mountpoint
        self.root = self.mp / KEY.lstrip("/")
        self.base = base  # the directory holding the mountpoint, cache and log
        self.before = _snapshot(base)  # before any listing


def _snapshot(base) -> set:
    """Every path under ``base`` except the mount, its cache and its log."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.endswith(("-mnt", "-cache"))]
        for n in dirnames + filenames:
            if not n.endswith(".log"):
                out.add(os.path.relpath(os.path.join(dirpath, n), base))
    return out


@pytest.fixture(scope="module", params=H.FORMATS)
def hostile_mount(request, voxfs_bin, hostile, tmp_path_factory):
    fmt = request.param
    base = tmp_path_factory.mktemp(f"hostile-{fmt}")
    with M.mounted(base, {KEY: hostile.source(fmt)}, env=hostile.env, name=fmt) as h:
        yield HostileMount(fmt, h, base)


def test_root_lists_its_directories(hostile_mount):
    names = M.list_in_child(hostile_mount.root)
    assert names == ("OK", sorted(H.DIRS[hostile_mount.fmt])), names
    assert sorted(os.listdir(hostile_mount.mp)) == [KEY.lstrip("/")]


def test_bad_entries_are_skipped(hostile_mount):
    """``good/`` offers ``.``, ``..``, ``a/b``, ``../escape.bin``, a NUL, a 300-byte name,
    marker and out-of-prefix keys next to ``fine.bin`` and ``ok-dir``: only those two show."""
    good = hostile_mount.root / "good"
    assert M.list_in_child(good) == ("OK", sorted(H.GOOD)), f"{hostile_mount.fmt}: good/"
    raw = M.raw_readdir(good)
    assert raw.count(".") <= 1 and raw.count("..") <= 1, raw
    assert sorted(n for n in raw if n not in (".", "..")) == sorted(H.GOOD), raw
    st = os.stat(good / "fine.bin")
    assert stat.S_ISREG(st.st_mode) and st.st_size == len(H.FINE)
    assert stat.S_ISDIR(os.stat(good / "ok-dir").st_mode)
    assert M.list_in_child(good / "ok-dir") == ("OK", [])
    for name in ("escape.bin", "..escape.bin", "evil.bin", "a", "b", "nul", "L" * 255):
        assert not os.path.lexists(good / name), name
        assert not os.path.lexists(hostile_mount.root / name), name


def test_bad_listings_give_eio(hostile_mount, hostile):
    """``malformed/``, ``truncated/``, ``redirect/`` (to 127.0.0.2) and ``loop/`` (endless
    continuation tokens), each where the format has it: ``ls`` fails with EIO."""
    wrong = []
    for what in H.DIRS[hostile_mount.fmt]:
        if what == "good":
            continue
        seen = len(hostile.other_host_requests())
        try:
            r = M.list_in_child(hostile_mount.root / what, timeout=60)
        except TimeoutError as e:
            r = ("TIMEOUT", str(e))
        if r != ("ERR", errno.EIO):
            wrong.append(f"ls {what}/ gave {r}, want ('ERR', {errno.EIO})")
        if what == "redirect" and hostile.other_host_requests()[seen:]:
            wrong.append(f"followed the redirect: {hostile.other_host_requests()[seen:]}")
    assert not wrong, f"{hostile_mount.fmt}:\n" + "\n".join(wrong)


def test_nothing_outside_the_mount(hostile_mount):
    assert _snapshot(hostile_mount.base) == hostile_mount.before
    assert sorted(os.listdir(hostile_mount.mp)) == [KEY.lstrip("/")]
    assert not os.path.lexists(hostile_mount.mp.parent / "escape.bin")
    assert not os.path.lexists(hostile_mount.mp / "escape.bin")


def test_daemon_still_serves(hostile_mount, hostile):
    """After everything above: the mount is alive and a good file reads right, twice."""
    assert P.is_mounted(hostile_mount.mp)
    p = hostile_mount.root / "good" / "fine.bin"
    for _ in range(2):
        assert p.read_bytes() == H.FINE
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 100_000) == H.FINE[100_000:104_096]
    finally:
        os.close(fd)
    M.stats(hostile_mount.mp)
    assert hostile.other_host_requests() == []
