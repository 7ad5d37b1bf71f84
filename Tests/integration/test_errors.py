"""Failures: bad configs refuse to mount; server errors read as EIO, never zeros."""

from __future__ import annotations

import errno
import shutil

import pytest

import checks as C
import voxfs_proc as P
from nginx_server import NginxServer, free_port

# ---------------------------------------------------------------- bad configs


def _bad_configs(good_url: str, tmp) -> dict:
    """name -> (config text, mountpoint or None for a fresh one, substrings of which one must appear)."""
    src = "precomputed://" + good_url
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}/a"
    cache = f'cache:\n  dir: "{tmp}/cache"\n  size: 1GiB\n'
    return {
        "unknown_top_key": (f'mounts:\n  "/a": "{src}"\nbogus_top: 1\n', None, ["bogus_top"]),
        "unknown_mount_key": (f'mounts:\n  "/a":\n    source: "{src}"\n    colour: red\n', None, ["colour"]),
        "unknown_cache_key": (f'mounts:\n  "/a": "{src}"\ncache:\n  dir: "{tmp}/c"\n  sizee: 1GiB\n', None,
                              ["sizee"]),
        "relative_mount_key": (f'mounts:\n  "vol/rel": "{src}"\n' + cache, None, ["vol/rel"]),
        "bad_scheme": (f'mounts:\n  "/bad/scheme": "zarr://{good_url}"\n', None, ["zarr://", "/bad/scheme"]),
        "unreachable_info": (f'mounts:\n  "/dead": "precomputed://{dead}"\n', None, [f"127.0.0.1:{dead_port}"]),
        "info_404": (f'mounts:\n  "/nope": "precomputed://{good_url}-does-not-exist"\n', None,
                     [f"{good_url}-does-not-exist"]),
        "bad_cache_size": (f'mounts:\n  "/a": "{src}"\ncache:\n  dir: "{tmp}/c"\n  size: lots\n', None,
                           ["size", "lots"]),
        "bad_fill_missing": (f'mounts:\n  "/a":\n    source: "{src}"\n    fill_missing: maybe\n', None,
                             ["fill_missing", "maybe"]),
        "missing_source": (f'mounts:\n  "/nosrc":\n    fill_missing: true\n', None, ["source", "/nosrc"]),
        "nonexistent_mountpoint": (f'mounts:\n  "/a": "{src}"\n', tmp / "no" / "such" / "mountpoint",
                                   [str(tmp / "no" / "such" / "mountpoint")]),
    }


BAD = list(_bad_configs("http://x", __import__("pathlib").Path("/t")).keys())


@pytest.mark.parametrize("case", BAD)
def test_bad_config_refuses_to_mount(case, voxfs_bin, volumes, tmp_path):
    text, mp, wanted = _bad_configs(volumes["cv/u8"].url, tmp_path)[case]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    if mp is None:
        mp = tmp_path / "mnt"
        mp.mkdir()
    try:
        r = P.run_voxfs("mount", cfg, mp, timeout=60)
        assert r.returncode != 0, f"{case}: voxfs mount exited 0\n{text}"
        msg = r.stderr.strip()
        assert any(w in msg for w in wanted), f"{case}: stderr {msg!r} names none of {wanted}"
        assert len(msg.splitlines()) == 1, f"{case}: stderr is not one line: {msg!r}"
        assert not P.is_mounted(mp)
    finally:
        P.force_unmount(mp)


def test_missing_config_file(voxfs_bin, tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "nonexistent.yaml"
    r = P.run_voxfs("mount", cfg, mp, timeout=60)
    assert r.returncode != 0
    assert str(cfg) in r.stderr or cfg.name in r.stderr, r.stderr
    assert not P.is_mounted(mp)


# ---------------------------------------------------------------- EIO


@pytest.mark.parametrize("ext", ["png", "tif", "npy"])
def test_server_500_gives_eio(ext, voxfs_mount):
    vol = voxfs_mount.vols["broken/u8"]
    p = C.slice_path(voxfs_mount.layer("broken/u8"), vol, 0, 17, ext)
    assert P.read_in_child(p, timeout=90) == ("ERR", errno.EIO)


def test_server_500_volume_npy_gives_eio(voxfs_mount):
    vol = voxfs_mount.vols["broken/u8"]
    p = voxfs_mount.layer("broken/u8") / vol.scale(0)["key"] / "volume.npy"
    # a range well inside the data (the header is < 4 KiB)
    assert P.read_in_child(p, offset=300 * 200 * 7, length=4096, timeout=90) == ("ERR", errno.EIO)


def test_server_stopped_gives_eio(voxfs_bin, volumes, tmp_path):
    """Own nginx serving a copy of cv/u8: mount, stop nginx, read -> EIO."""
    src = volumes["cv/u8"]
    srv = NginxServer(tmp_path / "www", tmp_path / "nginx").start()
    try:
        shutil.copytree(src.path, srv.root / "v")
        cfg = P.write_config(tmp_path / "c.yaml", {"/v": f"precomputed://{srv.url}/v"},
                             cache={"dir": str(tmp_path / "cache"), "size": "64MiB"})
        with P.VoxfsMount(cfg, tmp_path / "mnt", log_file=tmp_path / "voxfs.log") as m:
            layer = m.mountpoint / "v"
            assert (layer / "info").read_bytes()
            p0 = C.slice_path(layer, src, 0, 0, "npy")
            assert P.read_in_child(p0, timeout=60)[0] == "OK"
            srv.stop()
            for mip, z, ext in ((0, 39, "png"), (1, 20, "npy"), (0, 39, "tif")):
                p = C.slice_path(layer, src, mip, z, ext)
                assert P.read_in_child(p, timeout=90) == ("ERR", errno.EIO), f"{p}\n{m.log_tail()}"
    finally:
        srv.stop()
