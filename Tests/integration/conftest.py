"""Session fixtures for the voxfs integration tests.

* ``nginx_server``  nginx on a free 127.0.0.1 port serving ``.root``
                    (``/gz/`` gzip_static, ``/broken/`` answers 500 except info)
* ``volumes``       every volume of volumes.VOLUMES written into that root
* ``references``    each volume/scale read back over HTTP by cloud-volume or
                    tensorstore (the expected data)
* ``voxfs_bin``     the binary ($VOXFS_BIN or <repo>/.build/debug/voxfs)
* ``voxfs_mount``   one daemonized mount of every volume for the session
* ``tree_source``, ``big_file``, ``dav_server``, ``s3_server``, ``gcs_server``
                    the remote-file-tree servers and files (tree_servers.py)

Run: /tmp/venv-probe/bin/python -m pytest Tests/integration -x -q
(as root or with FUSE permissions; needs nginx, fusermount3, curl and the
packages of requirements.txt). VOXFS_BIN overrides the binary.
Set VOXFS_ALLOW_MISSING=1 to skip (instead of fail) the tests that need the
binary when it has not been built.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import voxfs_proc  # noqa: E402
import volumes as V  # noqa: E402
from nginx_server import NginxServer  # noqa: E402
from tree_servers import (  # noqa: E402,F401  (fixtures)
    big_file, dav_server, flat_source, gcs_server, gcs_small_pages, s3_server, tree_source)

STRICT_KEY = "/strict/missing-u8"  # missing/u8 again, with fill_missing: false

_active_mounts: list = []


# ---------------------------------------------------------------- infrastructure

@pytest.fixture(scope="session")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("voxfs-it")


@pytest.fixture(scope="session")
def nginx_server(work_dir):
    srv = NginxServer(work_dir / "www", work_dir / "nginx").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def volumes(nginx_server) -> dict:
    return V.write_all(nginx_server.root, nginx_server.url)


class References:
    """Whole scales read over HTTP by the reference reader, cached per session."""

    def __init__(self, vols: dict):
        self.vols = vols
        self._cache: dict = {}

    def __call__(self, name: str, mip: int):
        k = (name, mip)
        if k not in self._cache:
            self._cache[k] = V.read_reference(self.vols[name], mip)
        return self._cache[k]


@pytest.fixture(scope="session")
def references(volumes) -> References:
    return References(volumes)


@pytest.fixture(scope="session")
def voxfs_bin() -> Path:
    b = voxfs_proc.voxfs_bin()
    if not (b.is_file() and os.access(b, os.X_OK)):
        msg = f"voxfs binary not found at {b} (swift build, or set VOXFS_BIN)"
        if os.environ.get("VOXFS_ALLOW_MISSING"):
            pytest.skip(msg)
        pytest.fail(msg)
    return b


def mount_table(volumes: dict) -> dict:
    """Mount key -> source (short form for most, long form for a few)."""
    table = {}
    for name, vol in volumes.items():
        src = "precomputed://" + vol.url
        if name == "ts/u16":
            table["/" + name] = {"source": src, "fill_missing": True}
        elif name == "cv/u8":
            table["/" + name] = {"source": src}
        else:
            table["/" + name] = src
    table[STRICT_KEY] = {"source": "precomputed://" + volumes["missing/u8"].url, "fill_missing": False}
    return table


class Mounted:
    def __init__(self, mp: Path, handle: voxfs_proc.VoxfsMount, vols: dict):
        self.mp = mp
        self.handle = handle
        self.vols = vols

    def layer(self, name_or_key: str) -> Path:
        return self.mp / name_or_key.lstrip("/")


@pytest.fixture(scope="session")
def voxfs_mount(voxfs_bin, volumes, work_dir):
    cfg = voxfs_proc.write_config(
        work_dir / "voxfs.yaml", mount_table(volumes),
        cache={"dir": str(work_dir / "cache"), "size": "1GiB"})
    mp = work_dir / "mnt"
    handle = voxfs_proc.VoxfsMount(cfg, mp, log_file=work_dir / "voxfs.log").open()
    _active_mounts.append(handle)
    try:
        yield Mounted(mp, handle, volumes)
    finally:
        _active_mounts.remove(handle)
        handle.close()


# ---------------------------------------------------------------- reporting

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _active_mounts:
        for m in _active_mounts:
            tail = m.log_tail(30)
            if tail:
                rep.sections.append(("voxfs log", tail))
