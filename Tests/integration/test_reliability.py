"""Reliability under a misbehaving network (issue 10): voxfs gives the right bytes or
EIO, promptly, whatever the server does.

Data: three precomputed layers written for this module (1024x1024 uint8, 128x128x16
chunks): ``raw`` (cloud-volume, raw chunks, random data), ``gzip`` (cloud-volume
``compress="gzip"``, served by nginx's ``gzip_static`` as ``Content-Encoding: gzip``)
and ``sharded`` (tensorstore, ``neuroglancer_uint64_sharded_v1``, gzip data and
minishard indexes: every chunk is a ranged GET), and a file tree of six ~8 MiB random
files served by nginx autoindex and by wsgidav (WebDAV). Everything goes through
fault_proxy.FaultProxy, which injects faults into data requests only (never into an
``info``, a listing or a PROPFIND: directories are listed before faults start).

What is asserted:

* Under 10% injected faults of each kind (``status`` 500/503/429, ``reset``,
  ``truncate`` with the right and with a short ``Content-Length``, ``bad_range``,
  ``ignore_range``, ``stall``, and ``flip`` for gzip chunks), every slice (.npy, .tif,
  .png) decodes to exactly the array written and every file read equals the bytes on
  the server, or the read fails with EIO. No wrong byte, and every read() returns
  within ``READ_BOUND`` seconds. Each pass starts from an empty cache (a fresh mount
  with a fresh cache directory), so the bytes really cross the proxy: 256 MiB per
  kind (the flip kind: the gzip layer four times), 56 MiB for ``stall``, whose every
  hit costs a 2 s stall_timeout. Slices are compared voxel for voxel after decoding
  with numpy/tifffile/PIL (which also check the PNG CRCs and the NPY/TIFF structure
  and size); file reads byte for byte.
* A server that stalls every request fails reads with EIO within the configured
  deadline (``-o stall_timeout=2,attempts=2``) plus a margin, while a second mount of
  the same daemon served directly and files already cached keep working; a server
  that trickles (fast enough not to count as stalled) is cut by ``request_timeout``.
* SIGKILL of the daemon while reads wait on the network: the readers return, the dead
  mount unmounts, and the remount serves correct bytes from the cache.
* 32 concurrent reader processes of overlapping slices and files all get correct data
  and the daemon's peak RSS (VmHWM) stays under ``--memory 128MiB``.
* With the server gone, cached data still serves, uncached reads fail with EIO
  quickly and ``voxfs unmount`` returns at once.

What cannot be asserted: a flipped byte in an uncompressed raw chunk or in a plain file
over plain HTTP carries no checksum, so voxfs cannot tell it from the real data.
``test_flip_in_unchecksummed_data_is_undetectable`` records that limitation as a
strict xfail (it would XPASS, and so fail, the day voxfs detects such flips). Flips
are asserted harmless only where the data has its own check: gzip's CRC-32 (here
the gzip chunks; HDF5 gzip chunks and PNG/zlib streams would count too). For the
same reason listings get no faults: a flipped or cut nginx HTML index still parses
(with an entry renamed or missing), so no client could notice.

Fault counts, bytes compared, EIO counts and the longest read latencies go to
``<pytest basetemp>/reliability-report.json`` and are printed (``-s``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import conftest
import voxfs_proc as P
from fault_proxy import FaultProxy
from nginx_server import NginxServer
from tree_servers import WebDavServer

HERE = Path(__file__).resolve().parent
MiB = 1 << 20

SIZE = (1024, 1024, 64)  # raw and gzip layers, x y z
SHARDED_SIZE = (1024, 1024, 32)
CHUNK = (128, 128, 16)
SCALE_KEY = "8_8_40"
TREE_FILES = {f"f{i}.bin": 8 * MiB + 4099 * i for i in range(6)}  # ~48 MiB
BLOCK_SIZE = "256KiB"  # file-tree block: more requests, so more faults, than the 1 MiB default
EXTS = ("npy", "tif", "png")

FAULT_RATE = 0.1
READ_BOUND = 30.0  # seconds any one read() may take under faults
EXCLUDE = r"(/|/info)$"  # listings and info files get no faults (listings of plain HTML cannot be checked)
CHILDREN = 4  # reader processes per pass
MEMORY_BOUND = 128 << 20  # as test_memory.py: --memory 128MiB, VmHWM <= 128 MiB

# stalled server: voxfs's deadlines for the test mount and the bound they imply
STALL_OPTS = "stall_timeout=2,attempts=2"
STALL_BOUND = 2 * (2 + 1) + 2 + 4  # attempts x (stall_timeout + 1 s curl granularity) + backoff + margin
TRICKLE_OPTS = "request_timeout=4,stall_timeout=2,attempts=2"
TRICKLE_BOUND = 2 * 4 + 2 + 4

REPORT: dict = {}


# ---------------------------------------------------------------- data and servers

@dataclass
class Layer:
    name: str  # mount key without "/", and the served path's last part
    url_path: str  # path under the server root
    shape: tuple  # x y z
    expected: Path  # (Z, Y, X) uint8 .npy

    def slice_path(self, mp: Path, z: int, ext: str) -> Path:
        return mp / self.name / SCALE_KEY / f"z{z:02d}.{ext}"


@dataclass
class Rel:
    base: Path
    nginx: NginxServer
    dav: WebDavServer
    px: FaultProxy  # in front of nginx
    dpx: FaultProxy  # in front of wsgidav
    layers: dict
    tree_root: Path
    results: list = field(default_factory=list)

    def proxies(self):
        return (self.px, self.dpx)

    def off(self):
        for p in self.proxies():
            p.off()

    def faults(self, **kw):
        for i, p in enumerate(self.proxies()):
            kw2 = dict(kw)
            kw2["seed"] = kw.get("seed", 0) * 2 + i
            p.configure(**kw2)

    def reset_counts(self):
        for p in self.proxies():
            p.reset_counts()

    def counts(self) -> dict:
        out: dict = {}
        for name, p in (("nginx", self.px), ("dav", self.dpx)):
            out[name] = p.snapshot()
        return out

    def mounts(self, layers=("raw", "gzip", "sharded"), trees=("http", "dav"), direct=False) -> dict:
        base = self.nginx.url if direct else self.px.url
        m = {}
        for n in layers:
            m["/" + n] = "precomputed://" + base + "/" + self.layers[n].url_path
        if "http" in trees:
            m["/http"] = {"source": f"{base}/idx/rel/tree/", "block_size": BLOCK_SIZE}
        if "dav" in trees:
            dbase = self.dav.url if direct else self.dpx.url
            m["/dav"] = {"source": f"webdav+{dbase}/dav/", "block_size": BLOCK_SIZE}
        return m


def _pattern(shape, seed) -> np.ndarray:
    """Compressible (gzip gets ~3x) but never constant uint8 data, (X, Y, Z, 1)."""
    X, Y, Z = shape
    x = np.arange(X, dtype=np.uint16)[:, None, None]
    y = np.arange(Y, dtype=np.uint16)[None, :, None]
    z = np.arange(Z, dtype=np.uint16)[None, None, :]
    noise = np.random.default_rng(seed).integers(0, 4, (X, Y, Z), dtype=np.uint16)
    return ((x // 4 + 3 * (y // 8) + 7 * z + seed + noise) & 0xFF).astype(np.uint8)[..., None]


def _write_cv(path: Path, arr: np.ndarray, compress) -> None:
    from cloudvolume import CloudVolume

    X, Y, Z, _ = arr.shape
    info = CloudVolume.create_new_info(num_channels=1, layer_type="image", data_type="uint8", encoding="raw",
                                       resolution=[8, 8, 40], voxel_offset=[0, 0, 0], volume_size=[X, Y, Z],
                                       chunk_size=list(CHUNK))
    vol = CloudVolume("file://" + str(path), info=info, compress=compress, progress=False,
                      non_aligned_writes=False, delete_black_uploads=False)
    vol.commit_info()
    vol[:, :, :] = arr
    assert vol.key == SCALE_KEY


def _write_ts_sharded(path: Path, arr: np.ndarray) -> None:
    import tensorstore as ts

    X, Y, Z, _ = arr.shape
    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
        "scale_metadata": {"key": SCALE_KEY, "size": [X, Y, Z], "voxel_offset": [0, 0, 0],
                           "chunk_size": list(CHUNK), "resolution": [8, 8, 40], "encoding": "raw",
                           "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0,
                                        "hash": "identity", "minishard_bits": 2, "shard_bits": 2,
                                        "minishard_index_encoding": "gzip", "data_encoding": "gzip"}},
        "create": True, "open": True}).result()
    store.write(arr).result()


@pytest.fixture(scope="module")
def rel(voxfs_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("reliability")
    www = base / "www"
    exp = base / "expected"
    exp.mkdir()
    nginx = NginxServer(www, base / "nginx").start()
    layers = {}
    try:
        for name, url_path, shape, writer in (
                ("raw", "rel/raw", SIZE, "cv"), ("gzip", "gz/rel/gzip", SIZE, "cv-gzip"),
                ("sharded", "rel/sharded", SHARDED_SIZE, "ts-sharded")):
            if writer == "cv":
                arr = np.random.default_rng(11).integers(0, 256, (*shape, 1), dtype=np.uint8)
                _write_cv(www / url_path, arr, False)
            elif writer == "cv-gzip":
                arr = _pattern(shape, 12)
                _write_cv(www / url_path, arr, "gzip")
                assert (www / url_path / SCALE_KEY / "0-128_0-128_0-16.gz").is_file()
            else:
                arr = _pattern(shape, 13)
                _write_ts_sharded(www / url_path, arr)
            e = exp / f"{name}.npy"
            np.save(e, np.ascontiguousarray(arr[..., 0].transpose(2, 1, 0)))
            layers[name] = Layer(name, url_path, shape, e)
        tree = www / "idx" / "rel" / "tree"
        tree.mkdir(parents=True)
        rng = np.random.default_rng(14)
        for n, size in TREE_FILES.items():
            (tree / n).write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        dav = WebDavServer(tree, base / "wsgidav").start()
    except BaseException:
        nginx.stop()
        raise
    px = FaultProxy(nginx.url).start()
    dpx = FaultProxy(dav.url).start()
    r = Rel(base, nginx, dav, px, dpx, layers, tree)
    try:
        yield r
    finally:
        px.stop()
        dpx.stop()
        dav.stop()
        nginx.stop()
        _write_report(tmp_path_factory)


def _write_report(tmp_path_factory) -> None:
    if not REPORT:
        return
    out = Path(tmp_path_factory.getbasetemp()) / "reliability-report.json"
    out.write_text(json.dumps(REPORT, indent=1, sort_keys=True))
    total = sum(v.get("bytes_verified", 0) for v in REPORT.values())
    print(f"\n[reliability] report: {out}; bytes verified in all tests: {total} ({total / MiB:.0f} MiB)")


# ---------------------------------------------------------------- mounts

_registered: list = []


@pytest.fixture(autouse=True)
def _mount_logs():
    yield  # the report of the test is made before this teardown
    for m in _registered:
        if m in conftest._active_mounts:
            conftest._active_mounts.remove(m)
    _registered.clear()


@contextmanager
def mounted(tmp: Path, mounts: dict, *extra, name: str = "m", cache: Path | None = None,
            cache_size: str = "1GiB", mp: Path | None = None):
    """A daemonized mount with its own cache directory (unless ``cache``); the tail of its
    log goes into the report of a failing test."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = P.write_config(tmp / f"{name}.yaml", mounts,
                         cache={"dir": str(cache or tmp / f"{name}-cache"), "size": cache_size})
    m = P.VoxfsMount(cfg, mp or tmp / f"{name}-mnt", *extra, log_file=tmp / f"{name}.log")
    _registered.append(m)
    conftest._active_mounts.append(m)
    try:
        m.open()
        yield m
    finally:
        m.close()


def stats(mp: Path) -> dict:
    return json.loads((Path(mp) / ".voxfs" / "stats.json").read_bytes())


def mount_entries(mp: Path) -> list:
    """Every /proc/mounts line for ``mp`` (more than one: mounts stacked on it)."""
    real = os.path.realpath(mp)
    with open("/proc/mounts") as f:
        return [ln for ln in f if len(ln.split()) > 2 and ln.split()[1].replace("\\040", " ") == real]


def daemon_pids(m) -> list:
    return m.pids or P.pids_for_mountpoint(m.mountpoint)


# ---------------------------------------------------------------- reading in children

_READER = r"""
import errno, json, os, random, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import checks as C

job = json.loads(sys.stdin.read())
out = open(job["out"], "a", buffering=1)
expected = {}

def emit(d):
    out.write(json.dumps(d) + "\n")

def timed_pread(fd, n, off, lat):
    t = time.monotonic()
    try:
        return os.pread(fd, n, off)
    finally:
        lat.append(time.monotonic() - t)

def read_slice(it):
    lat, data, res = [], bytearray(), {"path": it["path"], "type": "slice"}
    try:
        fd = os.open(it["path"], os.O_RDONLY)
    except OSError as e:
        return {**res, "status": "ERR", "errno": e.errno, "bytes": 0, "max_read_s": 0.0, "reads": 0}
    try:
        size = os.fstat(fd).st_size
        while True:
            b = timed_pread(fd, 1 << 20, len(data), lat)
            if not b:
                break
            data += b
    except OSError as e:
        return {**res, "status": "ERR", "errno": e.errno, "at": len(data), "bytes": len(data),
                "max_read_s": max(lat), "reads": len(lat)}
    finally:
        os.close(fd)
    res.update(bytes=len(data), max_read_s=max(lat), reads=len(lat))
    if len(data) != size:
        return {**res, "status": "MISMATCH", "detail": f"st_size {size} but read {len(data)} bytes"}
    try:
        arr = C.decode(it["ext"], bytes(data), "uint8", 1)
    except Exception as e:
        return {**res, "status": "MISMATCH", "detail": f"does not decode: {e!r}"}
    if it["expected"] not in expected:
        expected[it["expected"]] = np.load(it["expected"], mmap_mode="r")
    want = np.asarray(expected[it["expected"]][it["z"]])
    if arr.shape != want.shape or arr.dtype != want.dtype:
        return {**res, "status": "MISMATCH",
                "detail": f"shape/dtype {arr.shape} {arr.dtype} != {want.shape} {want.dtype}"}
    bad = np.argwhere(arr != want)
    if len(bad):
        y, x = (int(v) for v in bad[0])
        return {**res, "status": "MISMATCH", "wrong_voxels": int(len(bad)),
                "detail": f"{len(bad)} voxels differ; first [y={y}, x={x}]: {int(arr[y, x])} != {int(want[y, x])}"}
    return {**res, "status": "OK"}

def read_file(it):
    rng = random.Random(it["seed"])
    lat, res = [], {"path": it["path"], "type": "file"}
    ok = eio = short = 0
    errs, wrong = [], []
    src = open(it["source"], "rb")
    size = os.fstat(src.fileno()).st_size
    lo, hi = it.get("range", (0, size))
    assert 0 <= lo <= hi <= size, (lo, hi, size)
    try:
        fd = os.open(it["path"], os.O_RDONLY)
    except OSError as e:
        return {**res, "status": "ERR", "errno": e.errno, "bytes": 0, "max_read_s": 0.0, "reads": 0}
    try:
        if os.fstat(fd).st_size != size:
            wrong.append(f"st_size {os.fstat(fd).st_size} != {size}")
        off = lo
        while off < hi:
            n = min(rng.choice((4096, 65536, 131072, 1 << 20, rng.randrange(1, 2 << 20))), hi - off)
            try:
                b = timed_pread(fd, n, off, lat)
            except OSError as e:
                eio += n
                errs.append((off, n, e.errno))
                off += n
                continue
            if not b:
                wrong.append(f"pread({n}, {off}): end of file {size - off} bytes early")
                break
            # A short read (the kernel returns what it has before a failing page) is fine:
            # compare what came and go on from there, as every reader does.
            src.seek(off)
            want = src.read(len(b))
            if b != want:
                k = next(i for i in range(len(b)) if b[i] != want[i])
                diff = sum(1 for i in range(len(b)) if b[i] != want[i])
                wrong.append(f"pread({n}, {off}): {len(b)} bytes, {diff} wrong, first at file offset {off + k}")
            else:
                ok += len(b)
                short += len(b) < n
            off += len(b)
        if hi == size:
            tail = timed_pread(fd, 4096, size, lat)
            if tail:
                wrong.append(f"{len(tail)} bytes past the end")
    finally:
        os.close(fd)
        src.close()
    res.update(bytes=ok, eio_bytes=eio, max_read_s=max(lat) if lat else 0.0, reads=len(lat),
               errors=errs[:20], n_errors=len(errs), short_reads=short)
    if wrong:
        return {**res, "status": "MISMATCH", "detail": "; ".join(wrong[:5]), "n_wrong": len(wrong)}
    if errs:
        return {**res, "status": "ERR", "errno": errs[0][2]}
    return {**res, "status": "OK"}

for it in job["items"]:
    emit({"start": it["path"], "t": time.time()})
    emit(read_slice(it) if it["type"] == "slice" else read_file(it))
emit({"done": True})
"""


@dataclass
class ReadSummary:
    results: list
    hung: list  # paths whose read was in progress when a child was killed
    elapsed: float

    def by_status(self, s: str) -> list:
        return [r for r in self.results if r["status"] == s]

    @property
    def mismatches(self) -> list:
        return self.by_status("MISMATCH")

    @property
    def errors(self) -> list:
        return self.by_status("ERR")

    @property
    def bytes_verified(self) -> int:
        return sum(r.get("bytes", 0) for r in self.results if r["status"] == "OK" or r["type"] == "file")

    @property
    def bytes_eio(self) -> int:
        return sum(r.get("eio_bytes", 0) for r in self.results) + sum(
            r.get("bytes", 0) for r in self.results if r["type"] == "slice" and r["status"] == "ERR")

    @property
    def max_read_s(self) -> float:
        return max((r.get("max_read_s", 0.0) for r in self.results), default=0.0)

    @property
    def reads(self) -> int:
        return sum(r.get("reads", 0) for r in self.results)

    def errnos(self) -> dict:
        out: dict = {}
        for r in self.results:
            if r["type"] == "file":
                for _, _, e in r.get("errors", []):
                    out[errno.errorcode.get(e, str(e))] = out.get(errno.errorcode.get(e, str(e)), 0) + 1
            elif r["status"] == "ERR":
                k = errno.errorcode.get(r["errno"], str(r["errno"]))
                out[k] = out.get(k, 0) + 1
        return out

    def summary(self) -> dict:
        return {"items": len(self.results), "ok": len(self.by_status("OK")), "err_items": len(self.errors),
                "mismatch_items": len(self.mismatches), "hung": self.hung, "bytes_verified": self.bytes_verified,
                "bytes_eio": self.bytes_eio, "reads": self.reads, "max_read_s": round(self.max_read_s, 3),
                "errnos": self.errnos(), "elapsed_s": round(self.elapsed, 2)}


def start_readers(items: list, workdir: Path, children: int = CHILDREN, tag: str = "r") -> list:
    """Starts ``children`` reader processes over ``items`` (round robin); returns their handles."""
    workdir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(children):
        part = items[i::children]
        if not part:
            continue
        out = workdir / f"{tag}-{i}.jsonl"
        out.unlink(missing_ok=True)
        p = subprocess.Popen([sys.executable, "-c", _READER, str(HERE)], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        p.stdin.write(json.dumps({"items": part, "out": str(out)}))
        p.stdin.close()
        procs.append((p, out, time.monotonic()))
    return procs


def finish_readers(procs: list, timeout: float) -> ReadSummary:
    """Waits for the readers (``timeout`` for all of them), killing any still running;
    reads in progress in a killed reader are reported as hung."""
    t0 = min((t for _, _, t in procs), default=time.monotonic())
    deadline = t0 + timeout
    results, hung, errs = [], [], []
    for p, out, _ in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        err = p.stderr.read()
        p.stderr.close()
        started = None
        if out.exists():
            for line in out.read_text().splitlines():
                d = json.loads(line)
                if "start" in d:
                    started = d["start"]
                elif "done" in d:
                    pass
                else:
                    results.append(d)
                    started = None
        if p.returncode not in (0, -signal.SIGKILL):
            errs.append(f"reader exited {p.returncode} (reading {started}): {err[-2000:]}")
        elif started is not None:
            hung.append(started)
    assert not errs, "\n".join(errs)
    return ReadSummary(results, hung, time.monotonic() - t0)


def read_all(items: list, workdir: Path, timeout: float, children: int = CHILDREN, tag: str = "r") -> ReadSummary:
    return finish_readers(start_readers(items, workdir, children, tag), timeout)


def slice_items(rel: Rel, mp: Path, layer: str, zs, rotate: int = 0) -> list:
    lay = rel.layers[layer]
    return [{"type": "slice", "path": str(lay.slice_path(mp, z, EXTS[(z + rotate) % 3])), "ext": EXTS[(z + rotate) % 3],
             "expected": str(lay.expected), "z": z} for z in zs]


def file_items(rel: Rel, mp: Path, tree: str, names, seed: int = 0, ranges: dict | None = None) -> list:
    out = []
    for i, n in enumerate(names):
        it = {"type": "file", "path": str(mp / tree / n), "source": str(rel.tree_root / n), "seed": seed * 100 + i}
        if ranges and n in ranges:
            it["range"] = ranges[n]
        out.append(it)
    return out


def warm_listings(mp: Path, mounts: dict) -> None:
    """Lists every directory the readers use (with no faults on): listings are kept for
    the life of the mount, so faults later hit only data requests."""
    for key in mounts:
        d = mp / key.lstrip("/")
        target = d / SCALE_KEY if key in ("/raw", "/gzip", "/sharded") else d
        r = P.run_python_child("import os, sys; print(len(os.listdir(sys.argv[1])))", [target], timeout=60)
        assert r[0] == 0 and int(r[1]) > 0, f"listing {target}: {r}"


def describe_mismatches(rel: Rel, s: ReadSummary) -> str:
    """Exact reproduction: the wrong reads and every fault the proxies injected on their paths."""
    lines = []
    events = [e for p in rel.proxies() for e in p.events]
    for r in s.mismatches:
        lines.append(f"WRONG BYTES: {r['path']}: {r.get('detail')}")
        path = r["path"]
        if "/http/" in path or "/dav/" in path:
            name = path.rsplit("/", 1)[1]
            rel_events = [e for e in events if e["path"].endswith("/" + name)]
        else:
            layer = next((n for n in rel.layers if f"/{n}/" in path), None)
            rel_events = [e for e in events if layer is None or rel.layers[layer].url_path in e["path"]]
        for e in rel_events[:40]:
            lines.append(f"    fault #{e['n']}: {e['method']} {e['path']} range={e['range']} -> {e['detail']}")
    return "\n".join(lines)


def latencies(s: ReadSummary) -> dict:
    """Item (last two path parts) -> (status, errno name, longest read in s)."""
    return {"/".join(r["path"].rsplit("/", 2)[-2:]): (r["status"], errno.errorcode.get(r.get("errno"), None),
                                                      round(r.get("max_read_s", 0.0), 2)) for r in s.results}


def record(name: str, **kw) -> None:
    REPORT[name] = kw
    print(f"\n[reliability] {name}: {json.dumps(kw, sort_keys=True)}")


def check_identical_or_eio(rel: Rel, s: ReadSummary, what: str, bound: float = READ_BOUND) -> None:
    assert not s.mismatches, f"{what}: wrong bytes served\n{describe_mismatches(rel, s)}"
    assert not s.hung, f"{what}: reads did not return within the test's timeout: {s.hung}"
    bad_errno = {k: v for k, v in s.errnos().items() if k != "EIO"}
    assert not bad_errno, f"{what}: reads failed with errors other than EIO: {bad_errno}"
    slow = sorted((r["max_read_s"], r["path"]) for r in s.results if r.get("max_read_s", 0) > bound)
    assert not slow, f"{what}: reads took longer than {bound} s: {slow[-5:]}"


# ---------------------------------------------------------------- 1. faults of each kind

KINDS = ("status", "reset", "truncate", "bad_range", "ignore_range", "flip")
SEEDS = {k: 1000 + i for i, k in enumerate(KINDS + ("stall",))}
FLIP_PASSES = 4  # the flip test reads only the gzip layer (64 MiB), four times from a cold cache


def _pass_items(rel: Rel, mp: Path, kind: str, pass_no: int) -> list:
    if kind == "flip":  # only where a flip is detectable: gzip chunks (CRC-32)
        return slice_items(rel, mp, "gzip", range(SIZE[2]), rotate=pass_no)
    items = slice_items(rel, mp, "raw", range(SIZE[2]), rotate=pass_no)
    items += slice_items(rel, mp, "gzip", range(SIZE[2]), rotate=pass_no + 1)
    items += slice_items(rel, mp, "sharded", range(SHARDED_SIZE[2]), rotate=pass_no + 2)
    items += file_items(rel, mp, "http", TREE_FILES, seed=SEEDS[kind])
    items += file_items(rel, mp, "dav", TREE_FILES, seed=SEEDS[kind] + 1)
    return items


def _fault_passes(rel: Rel, tmp_path: Path, kind: str, passes: int, extra=(), items_of=None, children=CHILDREN,
                  **fault_kw):
    t0 = time.monotonic()
    rel.off()
    rel.reset_counts()
    layers = ("gzip",) if kind == "flip" else ("raw", "gzip", "sharded")
    trees = () if kind == "flip" else ("http", "dav")
    summaries = []
    for i in range(passes):
        mounts = rel.mounts(layers=layers, trees=trees)
        with mounted(tmp_path / f"pass{i}", mounts, *extra, name=kind) as m:
            warm_listings(m.mountpoint, mounts)
            rel.faults(kind=kind, rate=FAULT_RATE, seed=SEEDS[kind] + i, exclude_regex=EXCLUDE, **fault_kw)
            items = (items_of or _pass_items)(rel, m.mountpoint, kind, i)
            s = read_all(items, tmp_path / f"pass{i}" / "out", timeout=240, children=children)
            rel.off()
            st = stats(m.mountpoint)
        shutil.rmtree(tmp_path / f"pass{i}" / f"{kind}-cache", ignore_errors=True)
        summaries.append((s, st))
    return summaries, time.monotonic() - t0


def _merge(summaries) -> ReadSummary:
    res, hung, el = [], [], 0.0
    for s, _ in summaries:
        res += s.results
        hung += s.hung
        el += s.elapsed
    return ReadSummary(res, hung, el)


@pytest.mark.parametrize("kind", KINDS)
def test_faults_give_identical_bytes_or_eio(kind, rel, tmp_path):
    """10% of data requests get fault ``kind``: every slice of the raw, gzip and sharded
    layers (.npy/.tif/.png, decoded) equals the array written and every file read (nginx
    index and WebDAV) equals the server's bytes, or the read fails with EIO; no read
    takes longer than READ_BOUND. ``flip`` is injected only into the gzip layer, where
    gzip's CRC-32 makes it detectable (see test_flip_in_unchecksummed_data_is_undetectable)."""
    passes = FLIP_PASSES if kind == "flip" else 1
    summaries, dt = _fault_passes(rel, tmp_path, kind, passes)
    s = _merge(summaries)
    faults = rel.counts()
    net = [st["network"] for _, st in summaries]
    record(f"faults[{kind}]", passes=passes, faults=faults, duration_s=round(dt, 1),
           voxfs_retries=sum(n.get("retries", 0) for n in net), voxfs_errors=sum(n.get("errors", 0) for n in net),
           wrong_bytes_items=len(s.mismatches), **s.summary())
    check_identical_or_eio(rel, s, kind)
    injected = sum(f["faults"].get(kind, 0) for f in faults.values())
    assert injected > 0, f"no {kind} fault was injected: {faults}"
    # Not vacuous: with 4 tries per request, most reads must have got through.
    attempted = s.bytes_verified + s.bytes_eio
    assert s.bytes_verified >= attempted // 2, (
        f"{kind}: only {s.bytes_verified} of {attempted} bytes read without EIO ({s.errnos()}): "
        f"are these faults retried?")


def _stall_items(rel: Rel, mp: Path, kind: str, pass_no: int) -> list:
    """56 MiB, not 256: a slice needs 64 chunks, so nearly every slice read meets a stall
    and takes the longest chain of stall_timeouts (2 s each) among them."""
    items = slice_items(rel, mp, "raw", range(0, SIZE[2], 8))
    items += slice_items(rel, mp, "gzip", range(3, SIZE[2], 8))
    items += slice_items(rel, mp, "sharded", range(1, SHARDED_SIZE[2], 4))
    items += file_items(rel, mp, "http", ["f0.bin", "f1.bin"], seed=SEEDS["stall"])
    items += file_items(rel, mp, "dav", ["f2.bin", "f3.bin"], seed=SEEDS["stall"] + 1)
    return items


def test_stall_faults_give_identical_bytes_or_eio(rel, tmp_path):
    """10% of data requests stall (silent, headers only, or part of the body, for 20 s)
    with ``-o stall_timeout=2``: as for the other kinds, right bytes or EIO, and no read
    longer than READ_BOUND. (56 MiB instead of 256: see _stall_items.)"""
    summaries, dt = _fault_passes(rel, tmp_path, "stall", 1, ("-o", "stall_timeout=2"), items_of=_stall_items,
                                  children=16, stall_seconds=20)
    s = _merge(summaries)
    faults = rel.counts()
    net = summaries[0][1]["network"]
    record("faults[stall]", passes=1, faults=faults, duration_s=round(dt, 1), wrong_bytes_items=len(s.mismatches),
           voxfs_retries=net.get("retries", 0), voxfs_errors=net.get("errors", 0), **s.summary())
    check_identical_or_eio(rel, s, "stall")
    assert sum(f["faults"].get("stall", 0) for f in faults.values()) > 0, faults
    attempted = s.bytes_verified + s.bytes_eio
    assert s.bytes_verified >= attempted // 2, (s.bytes_verified, attempted, s.errnos())


class WrongBytes(AssertionError):
    pass


@pytest.mark.xfail(strict=True, raises=WrongBytes, reason=(
    "limitation: a flipped byte in an uncompressed raw chunk or a plain file over plain HTTP "
    "carries no checksum (no CRC in raw chunks, no Content-MD5/ETag check of the body), so "
    "voxfs serves it; strict, so it XPASSes (fails) once voxfs can detect it"))
def test_flip_in_unchecksummed_data_is_undetectable(rel, tmp_path):
    """Every data response of the raw layer and a plain HTTP file gets one flipped byte.
    Reading every slice of the first chunk row (z 0-15) and the whole file reads every
    fetched byte, so voxfs cannot serve the right data; it serves the flipped bytes."""
    rel.off()
    rel.reset_counts()
    mounts = rel.mounts(layers=("raw",), trees=("http",))
    with mounted(tmp_path, mounts, name="flipraw") as m:
        warm_listings(m.mountpoint, mounts)
        rel.faults(kind="flip", rate=1.0, seed=77, exclude_regex=EXCLUDE)
        items = slice_items(rel, m.mountpoint, "raw", range(CHUNK[2]))
        items += file_items(rel, m.mountpoint, "http", ["f0.bin"], seed=5)
        s = read_all(items, tmp_path / "out", timeout=120)
        rel.off()
    faults = rel.counts()
    record("flip[raw, plain file]", faults=faults, wrong_items=len(s.mismatches),
           wrong_voxels=sum(r.get("wrong_voxels", 0) for r in s.mismatches), **s.summary())
    assert faults["nginx"]["faults"].get("flip", 0) > 0, faults
    assert not s.hung and s.max_read_s <= READ_BOUND, s.summary()
    if s.mismatches:
        raise WrongBytes(f"{len(s.mismatches)} of {len(s.results)} reads returned flipped bytes, e.g. "
                         f"{s.mismatches[0]['path']}: {s.mismatches[0].get('detail')}")


# ---------------------------------------------------------------- 2. a stalled server

def test_stalled_server_fails_fast_other_mount_and_cache_work(rel, tmp_path):
    """Every data request through the proxy stalls (60 s). With ``-o stall_timeout=2,
    attempts=2`` uncached reads (two slices of 64 chunks and two 4 KiB reads of files, at
    once) fail with EIO within STALL_BOUND seconds; meanwhile slices of a second mount of
    the same daemon served directly by nginx, and slices read before the stall, read
    right and fast."""
    rel.off()
    rel.reset_counts()
    mounts = rel.mounts(layers=("raw",), trees=("http",))
    mounts["/direct"] = "precomputed://" + rel.nginx.url + "/" + rel.layers["raw"].url_path
    with mounted(tmp_path, mounts, "-o", STALL_OPTS, name="stalled") as m:
        mp = m.mountpoint
        warm_listings(mp, {k: v for k, v in mounts.items() if k != "/direct"})
        cached = slice_items(rel, mp, "raw", range(0, 16))
        s0 = read_all(cached, tmp_path / "out", timeout=60, tag="warm")
        assert len(s0.by_status("OK")) == len(cached), s0.summary()

        rel.faults(kind="stall", rate=1.0, stall_seconds=60, exclude_regex=EXCLUDE)
        # One read alone first (no queueing behind other requests), then several at once.
        s_alone = read_all(file_items(rel, mp, "http", ["f3.bin"], ranges={"f3.bin": (MiB, MiB + 4096)}),
                           tmp_path / "out", timeout=60, children=1, tag="alone")
        # voxfs now fails this host's requests at once for about one stall_timeout (its last
        # probe timed out); past that, the readers below find it down but not paused: one
        # request probes while the others wait for its outcome.
        time.sleep(5)
        stalled = slice_items(rel, mp, "raw", (37, 63))  # 64 chunks each
        stalled += file_items(rel, mp, "http", ["f1.bin", "f2.bin"], ranges={"f1.bin": (0, 4096),
                                                                          "f2.bin": (3 * MiB, 3 * MiB + 4096)})
        t0 = time.monotonic()
        procs = start_readers(stalled, tmp_path / "out", children=len(stalled), tag="stalled")
        time.sleep(1.0)
        # While those wait: the direct mount (raw layer again, other slices) and cached slices.
        lay = rel.layers["raw"]
        direct = [{"type": "slice", "path": str(mp / "direct" / SCALE_KEY / f"z{z:02d}.{EXTS[z % 3]}"),
                   "ext": EXTS[z % 3], "expected": str(lay.expected), "z": z} for z in range(16, 40, 3)]
        s_direct = read_all(direct, tmp_path / "out", timeout=60, children=2, tag="direct")
        s_cached = read_all(slice_items(rel, mp, "raw", range(0, 16), rotate=1), tmp_path / "out", timeout=60,
                            children=2, tag="cached")
        during = time.monotonic() - t0
        s_stalled = finish_readers(procs, timeout=60)  # generous: the report gives the real latencies
        faults = rel.counts()
        rel.off()
        st = stats(mp)
    record("stalled server", options=STALL_OPTS, bound_s=STALL_BOUND, faults=faults,
           stalled=s_stalled.summary(), direct=s_direct.summary(), cached=s_cached.summary(),
           direct_and_cached_done_after_s=round(during, 2), network=st.get("network"),
           longest_stalled_read_s=round(max(s_stalled.max_read_s, s_alone.max_read_s), 3),
           stalled_reads={**latencies(s_alone), **latencies(s_stalled)},
           bytes_verified=s_direct.bytes_verified + s_cached.bytes_verified + s0.bytes_verified)
    assert not s_direct.mismatches and not s_cached.mismatches, describe_mismatches(rel, s_direct)
    assert len(s_direct.by_status("OK")) == len(direct), (
        f"direct mount failed while the proxy stalled: {s_direct.summary()}")
    assert len(s_cached.by_status("OK")) == len(cached), (
        f"cached slices failed while the proxy stalled: {s_cached.summary()}")
    assert s_direct.max_read_s < 5 and s_cached.max_read_s < 5, (s_direct.summary(), s_cached.summary())
    assert not s_stalled.hung, f"stalled reads still blocked after 60 s: {s_stalled.hung}"
    got = {r["path"]: (r["status"], r.get("errno")) for r in s_alone.results + s_stalled.results}
    assert all(v == ("ERR", errno.EIO) for v in got.values()), f"stalled reads: {got}"
    assert s_alone.max_read_s <= STALL_BOUND, (
        f"a stalled read alone took {s_alone.max_read_s:.1f} s, more than {STALL_BOUND} s with {STALL_OPTS}")
    # Several readers at once, 130 requests for a host with 32 connections: those over the
    # limit wait in voxfs, not in curl, and fail as soon as one probe finds the host silent,
    # so they meet the same bound as a read alone. (Measured 2-3 s; while requests waited in
    # curl's queue and each retry waited out a stall of its own, 14-27 s.)
    assert s_stalled.max_read_s <= STALL_BOUND, (
        f"stalled reads at once took up to {s_stalled.max_read_s:.1f} s, more than {STALL_BOUND} s with "
        f"{STALL_OPTS}: {latencies(s_stalled)}")


def test_trickling_server_hits_request_timeout(rel, tmp_path):
    """A server that sends one byte every 0.5 s (2 bytes/s: not a stall) is cut by
    ``request_timeout=4`` (``attempts=2``): the read fails with EIO within TRICKLE_BOUND."""
    rel.off()
    rel.reset_counts()
    mounts = rel.mounts(layers=("raw",), trees=("http",))
    with mounted(tmp_path, mounts, "-o", TRICKLE_OPTS, name="trickle") as m:
        warm_listings(m.mountpoint, mounts)
        rel.faults(kind="stall", rate=1.0, stall_mode="trickle", trickle_interval=0.5, stall_seconds=120,
                   exclude_regex=EXCLUDE)
        items = slice_items(rel, m.mountpoint, "raw", (5,))
        items += file_items(rel, m.mountpoint, "http", ["f3.bin"], ranges={"f3.bin": (0, 4096)})
        s = read_all(items, tmp_path / "out", timeout=TRICKLE_BOUND + 30, children=2)
        faults = rel.counts()
        rel.off()
    record("trickling server", options=TRICKLE_OPTS, bound_s=TRICKLE_BOUND, faults=faults, reads_s=latencies(s),
           **s.summary())
    assert not s.hung, s.hung
    got = {r["path"]: (r["status"], r.get("errno")) for r in s.results}
    assert all(v == ("ERR", errno.EIO) for v in got.values()), got
    assert s.max_read_s <= TRICKLE_BOUND, f"{s.max_read_s:.1f} s > {TRICKLE_BOUND} s with {TRICKLE_OPTS}"


# ---------------------------------------------------------------- 3. SIGKILL mid-read

# test_disk_cache.py::killed_cache / test_sigkill_* already SIGKILL a daemon five times
# while three processes read a volume (server up), and check that `voxfs unmount` clears
# the dead mount, the remount reads right data, and no stray cache files remain. Not
# repeated here. Added: the kill lands while reads wait on in-flight (stalled) network
# requests, of a volume *and* a file tree; the blocked readers must return; and the
# remount must serve what was cached before the kill with every data GET failing.

def _wait_writes_settle(mp: Path, minimum: int, timeout: float = 30) -> int:
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = stats(mp)["disk"]["counters"]["writes"]
        if w != last:
            last, since = w, time.monotonic()
        elif w >= minimum and time.monotonic() - since > 1.0:
            return w
        time.sleep(0.1)
    return last


def test_sigkill_while_reads_wait_on_network_then_remount(rel, tmp_path):
    """Read set A (slices of one chunk row, 8 MiB of a file), let the disk writes settle,
    then stall every request and start readers of set B; SIGKILL the daemon while they
    wait. The readers return within 20 s (with an error); ``voxfs mount`` on the dead
    mount point refuses (naming ``voxfs unmount``) or clears it, but never stacks a
    mount on it; ``voxfs unmount`` clears it; a remount on the same mount point and
    cache with every data GET answering 503 serves A correctly from disk; with the
    server back, B reads right."""
    rel.off()
    rel.reset_counts()
    cache = tmp_path / "cache"
    mp = tmp_path / "mnt"
    mounts = rel.mounts(layers=("raw",), trees=("http",))
    a_items = lambda: (slice_items(rel, mp, "raw", range(16))  # noqa: E731
                       + file_items(rel, mp, "http", ["f0.bin"], ranges={"f0.bin": (0, 8 * MiB)}))
    # z 16-31 are not in B: reading A in z order prefetches that chunk row
    b_items = lambda: (slice_items(rel, mp, "raw", (37, 45, 60))  # noqa: E731
                       + file_items(rel, mp, "http", ["f4.bin", "f5.bin"]))
    with mounted(tmp_path, mounts, name="killed", cache=cache, mp=mp) as m:
        warm_listings(mp, mounts)
        sa = read_all(a_items(), tmp_path / "out", timeout=60, tag="a")
        assert len(sa.by_status("OK")) == len(sa.results), sa.summary()
        writes = _wait_writes_settle(mp, minimum=64)
        rel.faults(kind="stall", rate=1.0, stall_seconds=60, exclude_regex=EXCLUDE)
        procs = start_readers(b_items(), tmp_path / "out", children=5, tag="b")
        assert P.wait_until(lambda: rel.px.snapshot()["faults"].get("stall", 0) >= 3, 10), rel.counts()
        time.sleep(0.5)
        pids = daemon_pids(m)
        assert pids, "daemon not found"
        t_kill = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        assert P.wait_until(lambda: not any(P._alive(pid) for pid in pids), 20), "daemon survived SIGKILL"
        sb = finish_readers(procs, timeout=time.monotonic() - min(t for _, _, t in procs) + 20)
        readers_done = time.monotonic() - t_kill
        # Mounting again at once must either refuse, naming the command that clears the dead
        # mount, or clear it itself: never stack a new mount on top of the dead one.
        early = P.run_voxfs("mount", m.config, mp, "--log-file", tmp_path / "early.log", timeout=60)
        entries = mount_entries(mp)
        early_problem = None
        if early.returncode == 0:
            if len(entries) != 1:
                early_problem = (f"voxfs mount on the dead mount point exited 0 and stacked a new mount on the "
                                 f"dead one: {len(entries)} entries for {mp} in /proc/mounts")
            P.run_voxfs("unmount", mp, timeout=60)  # the new one
            P.wait_until(lambda: len(mount_entries(mp)) < len(entries), 10)
        elif "voxfs unmount" not in early.stderr:
            early_problem = f"voxfs mount on the dead mount point: {early.stderr.strip()!r} does not say what to do"
        t_u = time.monotonic()
        r = P.run_voxfs("unmount", mp, timeout=60)
        unmount_s = time.monotonic() - t_u
        assert r.returncode == 0, f"voxfs unmount of the killed mount: {r.returncode} {r.stderr.strip()}"
        assert P.wait_until(lambda: not P.is_mounted(mp), 10), "dead mount still listed"
    assert not sb.hung, f"readers blocked on the killed mount did not return: {sb.hung}"
    assert not sb.mismatches, describe_mismatches(rel, sb)
    assert all(x["status"] == "ERR" for x in sb.results), [x["status"] for x in sb.results]

    # Server "down" for data: every GET of a chunk or a file block answers 503.
    rel.faults(kind="status", rate=1.0, statuses=(503,), methods=("GET",), exclude_regex=EXCLUDE)
    with mounted(tmp_path, mounts, name="remount", cache=cache, mp=mp) as m2:
        warm_listings(mp, mounts)
        sa2 = read_all(a_items(), tmp_path / "out", timeout=60, tag="a2")
        st_offline = stats(mp)
        rel.off()
        sb2 = read_all(b_items(), tmp_path / "out", timeout=60, tag="b2")
        st = stats(m2.mountpoint)
    rel.off()
    record("sigkill mid-read", disk_writes_before_kill=writes, readers_returned_after_kill_s=round(readers_done, 2),
           mount_on_dead_mountpoint={"rc": early.returncode, "stderr": early.stderr.strip(),
                                     "proc_mounts_entries": len(entries), "problem": early_problem},
           killed_reads=[(x["path"].rsplit("/", 2)[-1], x["status"], errno.errorcode.get(x.get("errno"), None))
                         for x in sb.results],
           unmount_s=round(unmount_s, 2), offline=sa2.summary(), after=sb2.summary(),
           disk=st_offline["disk"]["counters"], bytes_verified=sa.bytes_verified + sa2.bytes_verified
           + sb2.bytes_verified)
    assert not sa2.mismatches and not sb2.mismatches, describe_mismatches(rel, sa2) + describe_mismatches(rel, sb2)
    assert len(sa2.by_status("OK")) == len(sa2.results), (
        f"data cached before the SIGKILL not served from disk: {sa2.summary()} disk={st_offline['disk']}")
    assert len(sb2.by_status("OK")) == len(sb2.results), f"{sb2.summary()} served={st['served']}"
    assert early_problem is None, early_problem


# ---------------------------------------------------------------- 4. 32 readers

def _peak(pid: int, field_: str) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field_ + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def test_32_concurrent_readers_correct_and_rss_bounded(rel, tmp_path):
    """32 reader processes at once, each reading 6 slices of the raw and gzip layers
    (overlapping: neighbours share half their slices) and 6 MiB of a file (nginx or
    WebDAV; four readers per file, overlapping ranges), from one daemon with
    ``--memory 128MiB`` (served directly: no faults). Everything reads right and the
    daemon's VmHWM stays under 128 MiB."""
    rel.off()
    mounts = rel.mounts(layers=("raw", "gzip"), trees=("http", "dav"), direct=True)
    names = list(TREE_FILES)
    with mounted(tmp_path, mounts, "--memory", "128MiB", name="many") as m:
        mp = m.mountpoint
        warm_listings(mp, mounts)
        pids = daemon_pids(m)
        assert pids, "daemon not found"
        rss = {"max": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                rss["max"] = max(rss["max"], sum(_peak(p, "VmRSS") for p in pids))
                time.sleep(0.02)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        items_per = []
        for i in range(32):
            zs = [(3 * i + k) % SIZE[2] for k in range(6)]
            it = slice_items(rel, mp, "raw", zs[:3], rotate=i) + slice_items(rel, mp, "gzip", zs[3:], rotate=i)
            n = names[i % 6]
            lo = (i // 6) * MiB // 2  # 0 .. 2.5 MiB: four or five readers per file, overlapping
            hi = min(lo + 6 * MiB, TREE_FILES[n])
            it += file_items(rel, mp, "http" if i % 2 else "dav", [n], seed=i, ranges={n: (lo, hi)})
            items_per.append(it)
        t0 = time.monotonic()
        procs = []
        for i, it in enumerate(items_per):
            procs += start_readers(it, tmp_path / "out", children=1, tag=f"r{i:02d}")
        s = finish_readers(procs, timeout=180)
        dt = time.monotonic() - t0
        stop.set()
        th.join(5)
        hwm = max(_peak(p, "VmHWM") for p in pids)
        st = stats(mp)
    record("32 readers", readers=32, duration_s=round(dt, 1), peak_rss_sampled=rss["max"], vmhwm=hwm,
           bound=MEMORY_BOUND, memory=st.get("memory"), **s.summary())
    assert not s.hung, s.hung
    assert not s.mismatches, describe_mismatches(rel, s)
    assert len(s.by_status("OK")) == len(s.results), s.summary()
    assert len(s.results) == sum(len(x) for x in items_per)
    assert hwm <= MEMORY_BOUND, f"daemon peak RSS (VmHWM) {hwm / MiB:.1f} MiB > {MEMORY_BOUND / MiB:.0f} MiB"


# ---------------------------------------------------------------- 5. the server goes away

def test_server_gone_cached_serves_uncached_eio_unmount_quick(rel, tmp_path):
    """An nginx of its own serves the raw layer and the tree. After reading some slices
    and a file it stops: those still read right (from the caches), uncached slices and
    file blocks fail with EIO within 15 s each (connection refused, retried with
    backoff), and ``voxfs unmount`` returns within 10 s with the daemon gone."""
    www = tmp_path / "www"
    (www / "rel").mkdir(parents=True)
    (www / "idx").mkdir()
    os.symlink(rel.nginx.root / rel.layers["raw"].url_path, www / "rel" / "raw")
    os.symlink(rel.tree_root, www / "idx" / "tree")
    srv = NginxServer(www, tmp_path / "nginx").start()
    try:
        mounts = {"/raw": f"precomputed://{srv.url}/rel/raw",
                  "/http": {"source": f"{srv.url}/idx/tree/", "block_size": BLOCK_SIZE}}
        with mounted(tmp_path, mounts, name="gone") as m:
            mp = m.mountpoint
            warm_listings(mp, mounts)
            cached = (slice_items(rel, mp, "raw", range(16))
                      + file_items(rel, mp, "http", ["f2.bin"], ranges={"f2.bin": (0, 4 * MiB)}))
            s0 = read_all(cached, tmp_path / "out", timeout=60, tag="warm")
            assert len(s0.by_status("OK")) == len(cached), s0.summary()
            srv.stop()
            s1 = read_all(cached, tmp_path / "out", timeout=60, tag="cached")
            # not z 16-31: reading z 0-15 in order prefetched that chunk row
            uncached = (slice_items(rel, mp, "raw", (35, 47, 60))
                        + file_items(rel, mp, "http", ["f3.bin"], ranges={"f3.bin": (MiB, MiB + 4096)})
                        + file_items(rel, mp, "http", ["f4.bin"], ranges={"f4.bin": (5 * MiB, 5 * MiB + 4096)}))
            s2 = read_all(uncached, tmp_path / "out", timeout=90, children=len(uncached), tag="uncached")
            pids = daemon_pids(m)
            t0 = time.monotonic()
            r = P.run_voxfs("unmount", mp, timeout=60)
            unmount_s = time.monotonic() - t0
            gone = P.wait_until(lambda: not any(P._alive(p) for p in pids), 10)
    finally:
        srv.stop()
    record("server gone", cached=s1.summary(), uncached=s2.summary(), unmount_s=round(unmount_s, 2),
           longest_uncached_read_s=round(s2.max_read_s, 3), bytes_verified=s0.bytes_verified + s1.bytes_verified)
    assert not s1.mismatches and not s2.mismatches, describe_mismatches(rel, s1) + describe_mismatches(rel, s2)
    assert len(s1.by_status("OK")) == len(cached), f"cached data failed with the server gone: {s1.summary()}"
    assert s1.max_read_s < 5, s1.summary()
    assert not s2.hung, s2.hung
    got = {x["path"]: (x["status"], x.get("errno")) for x in s2.results}
    assert all(v == ("ERR", errno.EIO) for v in got.values()), got
    assert s2.max_read_s <= 15, f"an uncached read took {s2.max_read_s:.1f} s with the server gone"
    assert r.returncode == 0 and unmount_s < 10, (r.returncode, r.stderr, unmount_s)
    assert gone, "daemon still running 10 s after voxfs unmount"
