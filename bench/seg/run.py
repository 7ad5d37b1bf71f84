#!/usr/bin/env python3
"""Sharded segmentation benchmark: voxfs (cold, disk cache) vs tensorstore.

Writes one sharded uint64 compressed_segmentation volume with tensorstore
(default 1024x1024x64, chunks 128x128x16, blocks 8x8x8, murmurhash3_x86_128,
gzip minishard indexes and data, shard_bits 2 / minishard_bits 2 -> 4 shards),
filled with blobs of large random uint64 ids separated by thin zero
"membranes", serves it with nginx on 127.0.0.1 and, --repeat times:

  voxfs-cold   fresh cache dir + fresh mount; read every z*.npy of scale 0 fully
  voxfs-disk   new mount on the same cache dir after `echo 3 > drop_caches`; read all again
  tensorstore  neuroglancer_precomputed over the http kvstore, no cache pool, .read() whole volume

Prints per-run lines on stderr and, on stdout, markdown tables: median seconds
and Mvoxel/s per reader, voxfs/tensorstore throughput ratios, and the HTTP
requests per chunk of the cold pass (stats.json ``network.requests`` during the
pass / chunks read; cross-checked with nginx's access log, which also gives
tensorstore's count).

Run with the Python that has the test deps, as root (drop_caches, FUSE):
  /tmp/venv-probe/bin/python bench/seg/run.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import math
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
from seg_volumes import _mix64 as mix64  # noqa: E402
from common import (AccessLog, compare_slice, default_voxfs, drop_page_cache, read_all, read_tensorstore,  # noqa: E402
                    selected_readers, triple, voxfs_stats)

READERS = ("voxfs-cold", "voxfs-disk", "tensorstore")
LAYER = "/seg/bench"


# ---------------------------------------------------------------- the volume


def seg_like(X: int, Y: int, z0: int, Z: int, seed: int = 3) -> np.ndarray:
    """Warped cells (~48x48x12 voxels) with large random uint64 ids (1 cell in 16
    gets a small id), ragged zero boundaries ~2 voxels thick; (X, Y, Z) uint64."""
    rng = np.random.default_rng(seed * 1000 + z0)
    x = np.arange(X, dtype=np.float32)[:, None, None]
    y = np.arange(Y, dtype=np.float32)[None, :, None]
    z = np.arange(z0, z0 + Z, dtype=np.float32)[None, None, :]
    # smooth warp plus ~1 voxel of jitter, so boundaries are ragged as in real segmentations
    xw = x + 14 * np.sin(y / 43.0 + z / 17.0) + 6 * np.sin(y / 11.0 + x / 71.0) \
        + rng.normal(0, 0.8, size=(X, Y, Z)).astype(np.float32)
    yw = y + 14 * np.cos(x / 37.0 - z / 23.0) + 6 * np.cos(x / 13.0 + y / 59.0) \
        + rng.normal(0, 0.8, size=(X, Y, Z)).astype(np.float32)
    zw = z + 3 * np.sin((x + y) / 50.0)
    fx, fy = xw / 48.0, yw / 48.0
    cx = np.floor(fx).astype(np.int64) + 1000
    cy = np.floor(fy).astype(np.int64) + 1000
    cz = np.floor(zw / 12.0).astype(np.int64) + 1000
    with np.errstate(over="ignore"):
        cell = ((cx * 4099 + cy) * 4099 + cz).astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    h = mix64(cell)
    ids = np.where((h & np.uint64(15)) == 0, (h >> np.uint64(40)) & np.uint64(0xFFFF), h)  # 1 in 16 cells small
    edge = ((fx - np.floor(fx)) < 0.04) | ((fy - np.floor(fy)) < 0.04)
    return np.where(edge, np.uint64(0), ids).astype(np.uint64)


def sharding_spec(hash_: str = "murmurhash3_x86_128", preshift_bits: int = 0, minishard_bits: int = 2,
                  shard_bits: int = 2) -> dict:
    """The volume's ``sharding`` (gzip minishard indexes and data); the defaults make 4 shard files."""
    return {"@type": "neuroglancer_uint64_sharded_v1", "hash": hash_, "preshift_bits": preshift_bits,
            "minishard_bits": minishard_bits, "shard_bits": shard_bits,
            "minishard_index_encoding": "gzip", "data_encoding": "gzip"}


def write_volume(path: Path, size, chunk, block, sharding: dict) -> dict:
    import tensorstore as ts

    X, Y, Z = size
    arr = np.empty((X, Y, Z, 1), dtype=np.uint64)
    for z0 in range(0, Z, 16):
        z1 = min(Z, z0 + 16)
        arr[:, :, z0:z1, 0] = seg_like(X, Y, z0, z1 - z0)
    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "multiscale_metadata": {"type": "segmentation", "data_type": "uint64", "num_channels": 1},
        "scale_metadata": {"size": list(size), "voxel_offset": [0, 0, 0], "chunk_size": list(chunk),
                           "resolution": [8, 8, 40], "encoding": "compressed_segmentation",
                           "compressed_segmentation_block_size": list(block), "sharding": sharding},
        "create": True, "delete_existing": True,
    }).result()
    store.write(arr).result()
    return json.loads((path / "info").read_text())


# ---------------------------------------------------------------- readers

# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=triple, default=(1024, 1024, 64), help="X,Y,Z (default 1024,1024,64)")
    ap.add_argument("--chunk", type=triple, default=(128, 128, 16), help="X,Y,Z (default 128,128,16)")
    ap.add_argument("--block", type=triple, default=(8, 8, 8), help="compressed_segmentation block (default 8,8,8)")
    ap.add_argument("--hash", default="murmurhash3_x86_128", choices=("murmurhash3_x86_128", "identity"))
    ap.add_argument("--preshift-bits", type=int, default=0)
    ap.add_argument("--minishard-bits", type=int, default=2)
    ap.add_argument("--shard-bits", type=int, default=2)
    ap.add_argument("--voxfs", type=Path, default=default_voxfs(),
                    help="binary (default $VOXFS_BIN, else .build/release/voxfs, else .build/debug/voxfs)")
    ap.add_argument("--readers", default=",".join(READERS), help="comma list of " + ",".join(READERS))
    ap.add_argument("--jobs", type=int, default=1, help="threads reading slices from the mount (default 1)")
    ap.add_argument("--cache-size", default="4GiB", help="voxfs cache size")
    ap.add_argument("--memory", help="voxfs mount --memory (default: voxfs' default)")
    ap.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    ap.add_argument("--json", type=Path, help="also write raw timings here")
    ap.add_argument("--no-verify", action="store_true", help="skip the three-slice correctness check")
    args = ap.parse_args()

    readers = selected_readers(ap, args, READERS)
    use_voxfs = any(r.startswith("voxfs") for r in readers)
    import tensorstore  # noqa: F401  (import time not timed)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="voxfs-segbench-"))
    work.mkdir(parents=True, exist_ok=True)
    X, Y, Z = args.size
    nvox = X * Y * Z
    grid = [math.ceil(s / c) for s, c in zip(args.size, args.chunk)]
    nchunks = grid[0] * grid[1] * grid[2]
    sharding = sharding_spec(args.hash, args.preshift_bits, args.minishard_bits, args.shard_bits)
    times: dict[str, list[float]] = {r: [] for r in readers}
    cold_requests: list[dict] = []
    ts_requests: list[dict] = []
    disk_hits: list[int] = []
    mem_args = ["--memory", args.memory] if args.memory else []
    notes: list[str] = []
    srv = NginxServer(work / "www", work / "nginx")
    vol_dir = work / "www" / "seg" / "bench"
    try:
        t = time.perf_counter()
        info = write_volume(vol_dir, args.size, args.chunk, args.block, sharding)
        key = info["scales"][0]["key"]
        shards = sorted((vol_dir / key).glob("*.shard"))
        disk = sum(p.stat().st_size for p in shards)
        desc = (f"{X}x{Y}x{Z} uint64 compressed_segmentation (blocks {'x'.join(map(str, args.block))}), chunks "
                f"{'x'.join(map(str, args.chunk))} ({nchunks} chunks), sharded {args.hash} preshift "
                f"{args.preshift_bits} minishard_bits {args.minishard_bits} shard_bits {args.shard_bits}, gzip "
                f"index+data: {len(shards)} shard files, {disk / 1e6:.1f} MB")
        print(f"# volume {desc}; written in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        srv.start()
        alog = AccessLog(srv.access_log)
        url = f"{srv.url}/seg/bench"
        print(f"# nginx {srv.url}; voxfs {args.voxfs}", file=sys.stderr)

        for rep in range(args.repeat):
            if use_voxfs:
                cache = work / f"cache-{rep}"
                shutil.rmtree(cache, ignore_errors=True)
                cfg = P.write_config(work / "bench.yaml", {LAYER: "precomputed://" + url},
                                     cache={"dir": str(cache), "size": args.cache_size})
                mp = work / "mnt"
                drop_page_cache()
                with P.VoxfsMount(cfg, mp, *mem_args, log_file=work / "voxfs.log", binary=args.voxfs) as m:
                    scale_dir = m.mountpoint / LAYER.lstrip("/") / key
                    full0 = voxfs_stats(m.mountpoint)
                    s0 = full0["network"]
                    alog.mark()
                    t0 = time.perf_counter()
                    nfiles, nbytes = read_all(scale_dir, "npy", args.jobs)
                    dt = time.perf_counter() - t0
                    full1 = voxfs_stats(m.mountpoint)
                    s1 = full1["network"]
                    ng = alog.since()
                    req = {"requests": s1["requests"] - s0["requests"],
                           "bytes_fetched": s1["bytes_fetched"] - s0["bytes_fetched"],
                           "errors": s1.get("errors", 0) - s0.get("errors", 0),
                           "memory_misses": full1["memory"]["misses"] - full0["memory"]["misses"],
                           "disk_hits": full1["disk"]["counters"]["hits"] - full0["disk"]["counters"]["hits"],
                           "nginx": ng}
                    cold_requests.append(req)
                    if rep == 0:
                        notes.append(f"voxfs memory tier: capacity {full1['memory']['capacity'] / 2**20:.0f} MiB "
                                     f"for {nchunks} decoded chunks of "
                                     f"{math.prod(args.chunk) * 8 / 2**20:.1f} MiB; cold pass: "
                                     f"{req['memory_misses']} memory-tier misses, {req['disk_hits']} disk-cache hits")
                    if "voxfs-cold" in times:
                        times["voxfs-cold"].append(dt)
                    print(f"[{rep + 1}/{args.repeat}] {'voxfs-cold':12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s  "
                          f"({nfiles} files, {nbytes / 1e6:.0f} MB of NPY; {req['requests']} requests = "
                          f"{req['requests'] / nchunks:.2f}/chunk, {req['bytes_fetched'] / 1e6:.1f} MB fetched; "
                          f"memory-tier misses {req['memory_misses']}, disk hits {req['disk_hits']}; "
                          f"nginx {ng})", file=sys.stderr)
                    if rep == 0 and not args.no_verify:
                        ref = read_tensorstore(url)
                        zs = sorted({0, Z // 2, Z - 1})
                        bad = [z for z in zs if compare_slice(scale_dir, "npy", z, ref[:, :, z, 0].T)]
                        notes.append("check: z " + ", ".join(map(str, zs))
                                     + (" identical to tensorstore" if not bad else f" MISMATCH at z {bad}"))
                        del ref
                if "voxfs-disk" in times:
                    dropped = drop_page_cache()
                    with P.VoxfsMount(cfg, mp, *mem_args, log_file=work / "voxfs.log", binary=args.voxfs) as m:
                        scale_dir = m.mountpoint / LAYER.lstrip("/") / key
                        s0 = voxfs_stats(m.mountpoint)
                        t0 = time.perf_counter()
                        nfiles, nbytes = read_all(scale_dir, "npy", args.jobs)
                        dt = time.perf_counter() - t0
                        s1 = voxfs_stats(m.mountpoint)
                    times["voxfs-disk"].append(dt)
                    fetched = s1["network"]["bytes_fetched"] - s0["network"]["bytes_fetched"]
                    hits = s1["disk"]["counters"]["hits"] - s0["disk"]["counters"]["hits"]
                    disk_hits.append(hits)
                    print(f"[{rep + 1}/{args.repeat}] {'voxfs-disk':12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s  "
                          f"(disk hits {hits}, network bytes {fetched}; page cache "
                          f"{'dropped' if dropped else 'NOT dropped'})", file=sys.stderr)
                    if rep == 0:
                        notes.append(f"voxfs-disk: {hits} disk-cache hits and {fetched} network bytes during the "
                                     f"pass; page cache {'dropped' if dropped else 'not dropped (not root)'} before it")
                shutil.rmtree(cache, ignore_errors=True)
            if "tensorstore" in times:
                alog.mark()
                t0 = time.perf_counter()
                arr = read_tensorstore(url)
                dt = time.perf_counter() - t0
                ng = alog.since()
                ts_requests.append(ng)
                assert arr.shape[:3] == (X, Y, Z), arr.shape
                del arr
                times["tensorstore"].append(dt)
                print(f"[{rep + 1}/{args.repeat}] {'tensorstore':12s} {dt:7.3f}s  {nvox / dt / 1e6:8.1f} Mvox/s  "
                      f"(nginx {ng})", file=sys.stderr)
    finally:
        srv.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    med = {r: statistics.median(v) for r, v in times.items() if v}
    rate = {r: nvox / s / 1e6 for r, s in med.items()}
    vox = os.path.relpath(args.voxfs, REPO) if args.voxfs.is_relative_to(REPO) else str(args.voxfs)
    print()
    print(f"Volume {desc}; served by nginx on 127.0.0.1; median of {args.repeat}; {os.cpu_count()} CPUs, "
          f"{platform.machine()}; voxfs `{vox}`{f', {args.jobs} reader threads' if args.jobs > 1 else ''}"
          f"{f', --memory {args.memory}' if args.memory else ''}.")
    print()
    print("| reader | median s | Mvoxel/s | runs (s) |")
    print("|---|---:|---:|---|")
    for r in readers:
        if r in med:
            print(f"| {r} | {med[r]:.3f} | {rate[r]:.1f} | {', '.join(f'{v:.3f}' for v in times[r])} |")
    if "tensorstore" in rate:
        ratios = [v for v in ("voxfs-cold", "voxfs-disk") if v in rate]
        if ratios:
            print()
            print("| ratio (throughput) | value |")
            print("|---|---:|")
            for v in ratios:
                print(f"| {v} / tensorstore | {rate[v] / rate['tensorstore']:.2f}x |")
    if cold_requests or ts_requests:
        print()
        print(f"| HTTP requests ({nchunks} chunks read) | total | per chunk | 206 (ranged) | 200 | 304 | other "
              f"| MB fetched |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for i, q in enumerate(cold_requests):
            ng = q["nginx"]
            print(f"| voxfs-cold run {i + 1} (stats.json) | {q['requests']} | {q['requests'] / nchunks:.2f} | "
                  f"{ng['206']} | {ng['200']} | {ng['304']} | {ng['other']} | {q['bytes_fetched'] / 1e6:.1f} |")
        for i, ng in enumerate(ts_requests):
            print(f"| tensorstore run {i + 1} (nginx log) | {ng['total']} | {ng['total'] / nchunks:.2f} | "
                  f"{ng['206']} | {ng['200']} | {ng['304']} | {ng['other']} | |")
    for n in notes:
        print(f"\n{n}")
    if args.json:
        args.json.write_text(json.dumps({"size": [X, Y, Z], "chunk": list(args.chunk), "block": list(args.block),
                                         "sharding": sharding, "chunks": nchunks, "times": times, "median_s": med,
                                         "mvox_per_s": rate, "cold_requests": cold_requests,
                                         "disk_pass_disk_hits": disk_hits, "memory": args.memory,
                                         "tensorstore_requests": ts_requests}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
