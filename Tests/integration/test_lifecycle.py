"""Mount / unmount / SIGTERM, each on its own small mount."""

from __future__ import annotations

import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import checks as C
import voxfs_proc as P


@pytest.fixture
def small_config(volumes, tmp_path):
    vol = volumes["cv/u8"]
    cfg = P.write_config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url})
    return cfg, vol


def _assert_cleanly_gone(mp):
    assert not P.is_mounted(mp), f"{mp} still in /proc/mounts"
    try:
        os.listdir(mp)  # ENOTCONN if the FUSE connection was left dangling
    except OSError as e:
        pytest.fail(f"listdir({mp}) after unmount: {e!r}")


def _check_answers(mp, vol):
    p = C.slice_path(mp / "v", vol, 0, 3, "npy")
    assert np.array_equal(np.load(p), vol.written[0][:, :, 3, 0].T)


def test_mount_answers_on_return_and_unmount(voxfs_bin, small_config, tmp_path):
    cfg, vol = small_config
    mp = tmp_path / "mnt"
    mp.mkdir()
    r = P.run_voxfs("mount", cfg, mp, "--cache-dir", tmp_path / "cache", "--cache-size", "32MiB",
                    "--log-file", tmp_path / "log", timeout=120)
    try:
        assert r.returncode == 0, r.stderr
        # no waiting: exit 0 means the mount already answers
        assert P.is_mounted(mp)
        assert os.listdir(mp) == ["v"]
        _check_answers(mp, vol)
        pids = P.pids_for_mountpoint(mp)
        u = P.run_voxfs("unmount", mp, timeout=60)
        assert u.returncode == 0, u.stderr
        _assert_cleanly_gone(mp)
        assert P.wait_until(lambda: not any(P._alive(pid) for pid in pids), 20), "daemon still running"
    finally:
        P.force_unmount(mp)


def test_sigterm_foreground(voxfs_bin, small_config, tmp_path):
    cfg, vol = small_config
    mp = tmp_path / "mnt"
    mp.mkdir()
    proc = subprocess.Popen(
        [str(voxfs_bin), "mount", str(cfg), str(mp), "--foreground", "--cache-dir", str(tmp_path / "cache"),
         "--cache-size", "32MiB"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ok = P.wait_until(lambda: P.is_mounted(mp) or proc.poll() is not None, 60)
        assert ok and proc.poll() is None, f"foreground voxfs did not mount: rc={proc.poll()}"
        assert P.wait_until(lambda: os.listdir(mp) == ["v"], 30)
        _check_answers(mp, vol)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("voxfs --foreground did not exit within 30 s of SIGTERM")
        assert proc.returncode == 0, f"exit status {proc.returncode} after SIGTERM; stderr: {proc.stderr.read()}"
        _assert_cleanly_gone(mp)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for s in (proc.stdout, proc.stderr):
            s.close()
        P.force_unmount(mp)


def test_sigterm_daemon(voxfs_bin, small_config, tmp_path):
    cfg, vol = small_config
    mp = tmp_path / "mnt"
    m = P.VoxfsMount(cfg, mp, "--cache-dir", tmp_path / "cache", log_file=tmp_path / "log").open()
    try:
        _check_answers(mp, vol)
        pids = P.pids_for_mountpoint(mp)
        assert pids, "no process with the mountpoint on its command line (the daemon)"
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        assert P.wait_until(lambda: not P.is_mounted(mp), 30), "still mounted 30 s after SIGTERM"
        assert P.wait_until(lambda: not any(P._alive(pid) for pid in pids), 30), "daemon still alive"
        _assert_cleanly_gone(mp)
    finally:
        m.close()


def _threads_and_fuse_fds(pid: int) -> tuple:
    tids = set(os.listdir(f"/proc/{pid}/task"))
    fds = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds += os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/fuse"
        except OSError:
            pass  # closed meanwhile
    return tids, fds


def test_request_threads_are_kept_and_share_one_device(voxfs_bin, small_config, tmp_path):
    """libfuse's worker threads stay between requests and read the one /dev/fuse fd; a thread
    started (and a /dev/fuse opened) per request costs more than small requests themselves."""
    cfg, vol = small_config
    mp = tmp_path / "mnt"
    with P.VoxfsMount(cfg, mp, "--cache-dir", tmp_path / "cache", log_file=tmp_path / "log") as m:
        pid = P.pids_for_mountpoint(mp)[0]
        scale = C.slice_path(mp / "v", vol, 0, 0, "npy").parent
        files = [p for p in sorted(scale.iterdir()) if p.is_file()]

        def open_all(_):
            for path in files:  # attributes cached after the first pass: an open and a release each
                with open(path, "rb") as f:
                    f.read(1)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(open_all, range(2)))  # every thread the daemon needs is started by now
        before, fuse_fds = _threads_and_fuse_fds(pid)
        assert fuse_fds == 1, f"{fuse_fds} /dev/fuse descriptors"
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(open_all, range(3)))
        after, fuse_fds = _threads_and_fuse_fds(pid)
        assert fuse_fds == 1, f"{fuse_fds} /dev/fuse descriptors"
        # A few more workers may start when the four readers peak together; a thread per
        # request would be hundreds.
        assert len(after - before) < 16, f"{len(after - before)} new threads for {3 * len(files)} opens on a warm mount"
