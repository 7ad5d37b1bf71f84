"""Helpers shared by the benchmarks under bench/."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def default_voxfs() -> Path:
    """$VOXFS_BIN, else the release build, else the debug build."""
    if os.environ.get("VOXFS_BIN"):
        return Path(os.environ["VOXFS_BIN"])
    release = REPO / ".build/release/voxfs"
    return release if release.exists() else REPO / ".build/debug/voxfs"


def triple(s: str) -> tuple:
    t = tuple(int(v) for v in s.split(","))
    if len(t) != 3:
        raise argparse.ArgumentTypeError("want X,Y,Z")
    return t


def read_tensorstore(url: str) -> np.ndarray:
    """The whole scale 0 of a precomputed volume over HTTP, with tensorstore's cache off."""
    import tensorstore as ts

    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "http", "base_url": url + "/"},
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }, read=True).result()
    return store.read().result()


def drop_page_cache() -> bool:
    """Empties the kernel page cache (root only), so disk-cache reads really read the disk."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def selected_readers(ap: argparse.ArgumentParser, args: argparse.Namespace, known: tuple) -> list[str]:
    """The readers named by --readers, checked; and that the voxfs binary exists if one is voxfs."""
    readers = [r for r in args.readers.split(",") if r]
    for r in readers:
        if r not in known:
            ap.error(f"unknown reader {r}")
    if any(r.startswith("voxfs") for r in readers) and not args.voxfs.exists():
        ap.error(f"voxfs binary not found: {args.voxfs} (swift build -c release, or --voxfs)")
    return readers
