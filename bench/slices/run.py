#!/usr/bin/env python3
"""Slice-read benchmark: voxfs (cold and warm) vs cloud-volume vs tensorstore.

Writes one jpeg uint8 precomputed volume (default 2048x2048x64, chunks
256x256x16, mip 0 only) with tensorstore, serves it with nginx on 127.0.0.1,
then, --repeat times:

  voxfs-cold   fresh cache dir + fresh mount; read every z*.png of the scale fully
  voxfs-warm   the same mount again (voxfs caches and the kernel page cache warm)
  cloudvolume  CloudVolume('precomputed://http://...')[whole volume]
  tensorstore  neuroglancer_precomputed over the http kvstore, .read() whole volume

and prints the median Mvoxel/s of each reader, voxfs/peer ratios, and a
markdown table for bench/slices/README.md.

Run with the Python that has the test deps, e.g.
  /tmp/venv-probe/bin/python bench/slices/run.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
sys.path.insert(0, str(REPO / "bench"))

from nginx_server import NginxServer  # noqa: E402
import voxfs_proc as P  # noqa: E402
from common import (compare_slice, default_voxfs, drop_page_cache, read_all, read_tensorstore,  # noqa: E402
                    selected_readers, triple, voxfs_stats)

READERS = ("voxfs-cold", "voxfs-warm", "voxfs-disk", "cloudvolume", "tensorstore")


# ---------------------------------------------------------------- the volume

def em_like(shape_xyz, z0: int, seed: int = 7) -> np.ndarray:
    """Smooth blobs + membranes-ish ridges + noise, uint8, (X, Y, Z, 1)."""
    X, Y, Z = shape_xyz
    rng = np.random.default_rng(seed + z0)
    x = np.arange(X, dtype=np.float32)[:, None, None]
    y = np.arange(Y, dtype=np.float32)[None, :, None]
    z = np.arange(z0, z0 + Z, dtype=np.float32)[None, None, :]
    f = 0.55 + 0.2 * np.sin(x / 41.0 + z / 9.0) * np.cos(y / 37.0) + 0.15 * np.sin((x - y) / 23.0 + z / 13.0)
    f = f - 0.35 * (np.abs(np.sin(x / 61.0 + np.cos(y / 53.0) + z / 17.0)) < 0.06)
    f = f + 0.04 * rng.standard_normal(size=(X, Y, Z), dtype=np.float32)
    return np.clip(f * 255, 0, 255).astype(np.uint8)[..., None]


def write_volume(path: Path, size, chunk, quality: int) -> dict:
    import tensorstore as ts

    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
        "scale_metadata": {"size": list(size), "voxel_offset": [0, 0, 0], "chunk_size": list(chunk),
                           "resolution": [8, 8, 40], "encoding": "jpeg", "jpeg_quality": quality},
        "create": True, "delete_existing": True,
    }).result()
    X, Y, Z = size
    for z0 in range(0, Z, chunk[2]):  # one chunk-aligned slab at a time
        z1 = min(Z, z0 + chunk[2])
        store[:, :, z0:z1, :].write(em_like((X, Y, z1 - z0), z0)).result()
    return json.loads((path / "info").read_text())


# ---------------------------------------------------------------- readers

def open_cloudvolume(url: str):
    from cloudvolume import CloudVolume

    return CloudVolume("precomputed://" + url, mip=0, progress=False, cache=False, parallel=1)


def read_cloudvolume(url: str) -> np.ndarray:
    """The whole of mip 0 with CloudVolume's cache off."""
    vol = open_cloudvolume(url)
    return np.asarray(vol[vol.bounds.to_slices()])


def read_cloudvolume_slices(vol) -> int:
    """Every z-slice of an ``open_cloudvolume()`` volume, ``vol[:, :, z]`` one after another (cache off,
    so each slice fetches and decodes its chunks again); the number of voxels read."""
    return sum(vol[:, :, z].size for z in range(vol.bounds.minpt.z, vol.bounds.maxpt.z))


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=triple, default=(2048, 2048, 64), help="X,Y,Z (default 2048,2048,64)")
    ap.add_argument("--chunk", type=triple, default=(256, 256, 16), help="X,Y,Z (default 256,256,16)")
    ap.add_argument("--quality", type=int, default=85, help="jpeg quality")
    ap.add_argument("--voxfs", type=Path, default=default_voxfs(),
                    help="binary (default $VOXFS_BIN, else .build/release/voxfs, else .build/debug/voxfs)")
    ap.add_argument("--readers", default=",".join(READERS), help="comma list of " + ",".join(READERS))
    ap.add_argument("--jobs", type=int, default=1, help="threads reading PNGs from the mount (default 1)")
    ap.add_argument("--cache-size", default="4GiB", help="voxfs cache size")
    ap.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    ap.add_argument("--json", type=Path, help="also write raw timings here")
    ap.add_argument("--no-verify", action="store_true", help="skip the one-slice correctness check")
    args = ap.parse_args()

    readers = selected_readers(ap, args, READERS)
    use_voxfs = any(r.startswith("voxfs") for r in readers)

    # import the peers up front so their import time is not timed
    import cloudvolume  # noqa: F401
    import tensorstore  # noqa: F401

    work = args.workdir or Path(tempfile.mkdtemp(prefix="voxfs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    X, Y, Z = args.size
    nvox = X * Y * Z
    times: dict[str, list[float]] = {r: [] for r in readers}
    notes: list[str] = []
    srv = NginxServer(work / "www", work / "nginx")
    try:
        t = time.perf_counter()
        info = write_volume(work / "www" / "em", args.size, args.chunk, args.quality)
        key = info["scales"][0]["key"]
        nchunks = sum(1 for _ in (work / "www" / "em" / key).iterdir())
        disk = sum(p.stat().st_size for p in (work / "www" / "em" / key).iterdir())
        print(f"# volume {X}x{Y}x{Z} uint8 jpeg q{args.quality}, chunks {'x'.join(map(str, args.chunk))}: "
              f"{nchunks} chunks, {disk / 1e6:.1f} MB on disk, written in {time.perf_counter() - t:.1f}s",
              file=sys.stderr)
        srv.start()
        url = f"{srv.url}/em"
        print(f"# nginx {srv.url}; voxfs {args.voxfs}", file=sys.stderr)

        for rep in range(args.repeat):
            if use_voxfs:
                cache = work / f"cache-{rep}"
                shutil.rmtree(cache, ignore_errors=True)
                cfg = P.write_config(work / "bench.yaml", {"/em": "precomputed://" + url},
                                     cache={"dir": str(cache), "size": args.cache_size})
                mp = work / "mnt"
                t0 = time.perf_counter()
                with P.VoxfsMount(cfg, mp, log_file=work / "voxfs.log", binary=args.voxfs) as m:
                    t_mount = time.perf_counter() - t0
                    scale_dir = m.mountpoint / "em" / key
                    for reader in ("voxfs-cold", "voxfs-warm"):
                        t0 = time.perf_counter()
                        _, nbytes = read_all(scale_dir, "png", args.jobs)
                        dt = time.perf_counter() - t0
                        if reader in times:
                            times[reader].append(dt)
                        extra = f"; mount took {t_mount:.2f}s" if reader == "voxfs-cold" else ""
                        print(f"[{rep + 1}/{args.repeat}] {reader:12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s  "
                              f"({nbytes / 1e6:.0f} MB of PNG{extra})", file=sys.stderr)
                    if rep == 0 and not args.no_verify:
                        ref = read_tensorstore(url)
                        z = Z // 2
                        notes.append(f"check z={z}: " + (compare_slice(scale_dir, "png", z, ref[:, :, z, 0].T)
                                                          or "ok (identical to tensorstore)"))
                        del ref
                if "voxfs-disk" in times:
                    # A new process on the same cache directory, page cache dropped: every
                    # chunk comes from the disk tier (stats.json proves no network bytes).
                    dropped = drop_page_cache()
                    with P.VoxfsMount(cfg, mp, log_file=work / "voxfs.log", binary=args.voxfs) as m:
                        scale_dir = m.mountpoint / "em" / key
                        t0 = time.perf_counter()
                        _, nbytes = read_all(scale_dir, "png", args.jobs)
                        dt = time.perf_counter() - t0
                        stats = voxfs_stats(m.mountpoint)
                    times["voxfs-disk"].append(dt)
                    fetched = stats["network"]["bytes_fetched"]
                    print(f"[{rep + 1}/{args.repeat}] {'voxfs-disk':12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s  "
                          f"({nbytes / 1e6:.0f} MB of PNG; disk hits {stats['disk']['counters']['hits']}, "
                          f"network bytes {fetched}; page cache {'dropped' if dropped else 'NOT dropped'})",
                          file=sys.stderr)
                    if rep == 0:
                        notes.append(f"voxfs-disk: network bytes during the pass: {fetched}; "
                                     f"page cache {'dropped' if dropped else 'not dropped (not root)'} before it")
                shutil.rmtree(cache, ignore_errors=True)
            for reader, fn in (("cloudvolume", read_cloudvolume), ("tensorstore", read_tensorstore)):
                if reader not in times:
                    continue
                t0 = time.perf_counter()
                arr = fn(url)
                dt = time.perf_counter() - t0
                assert arr.shape[:3] == (X, Y, Z), arr.shape
                del arr
                times[reader].append(dt)
                print(f"[{rep + 1}/{args.repeat}] {reader:12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s",
                      file=sys.stderr)
    finally:
        srv.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    med = {r: statistics.median(v) for r, v in times.items() if v}
    rate = {r: nvox / s / 1e6 for r, s in med.items()}
    print()
    print(f"Volume {X}x{Y}x{Z} uint8 jpeg (q{args.quality}), chunks {'x'.join(map(str, args.chunk))}, "
          f"served by nginx on 127.0.0.1; median of {args.repeat}; {os.cpu_count()} CPUs, "
          f"{platform.machine()}; voxfs `{os.path.relpath(args.voxfs, REPO) if args.voxfs.is_relative_to(REPO) else args.voxfs}`"
          f"{f', {args.jobs} reader threads' if args.jobs > 1 else ''}.")
    print()
    print("| reader | median s | Mvoxel/s | runs (s) |")
    print("|---|---:|---:|---|")
    for r in readers:
        if r in med:
            print(f"| {r} | {med[r]:.3f} | {rate[r]:.1f} | {', '.join(f'{v:.3f}' for v in times[r])} |")
    ratios = [(v, p) for v in ("voxfs-cold", "voxfs-warm", "voxfs-disk") for p in ("cloudvolume", "tensorstore")
              if v in rate and p in rate]
    if ratios:
        print()
        print("| ratio (throughput) | value |")
        print("|---|---:|")
        for v, p in ratios:
            print(f"| {v} / {p} | {rate[v] / rate[p]:.2f}x |")
    for n in notes:
        print(f"\n{n}")
    if args.json:
        args.json.write_text(json.dumps({"size": [X, Y, Z], "chunk": list(args.chunk), "times": times,
                                         "median_s": med, "mvox_per_s": rate}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
