"""The persistent disk cache: offline remounts, corrupt entries, SIGKILL, the size
bound, counters, the ``voxfs cache`` CLI and the hidden ``/.voxfs/stats.json``.

Every test uses its own cache directory (and, where the server must go away, its
own nginx serving a copy of the volume), so tests do not see each other's entries.
To make reads go to the disk tier instead of the memory tier, the tests remount:
the memory tier belongs to one process.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import checks as C
import conftest
import volumes as V
import voxfs_proc as P
from nginx_server import NginxServer

STATS = ".voxfs/stats.json"
BLOCK = 4096
MAX_INFO_ATTEMPTS = 4  # per layer, with the server down


# ---------------------------------------------------------------- helpers: mounts and servers

@contextmanager
def serving(tmp_path: Path, copies: dict):
    """Own nginx serving ``copies`` (served name -> directory to copy)."""
    srv = NginxServer(tmp_path / "www", tmp_path / "nginx").start()
    try:
        for name, src in copies.items():
            shutil.copytree(src, srv.root / name)
        yield srv
    finally:
        srv.stop()


_registered: list = []  # mounts of the running test whose log conftest attaches to a failure report


@pytest.fixture(autouse=True)
def _attach_mount_logs():
    yield  # the report of the test's call is made before this teardown
    for m in _registered:
        if m in conftest._active_mounts:
            conftest._active_mounts.remove(m)
    _registered.clear()


@contextmanager
def mounted(cfg: Path, mp: Path, *extra, log: Path):
    """A daemonized mount; the tail of its log goes into the report if the test fails."""
    m = P.VoxfsMount(cfg, mp, *extra, log_file=log).open()
    if not any(r.log_file == m.log_file for r in _registered):
        _registered.append(m)
        conftest._active_mounts.append(m)
    try:
        yield m
    finally:
        m.close()


def config(path: Path, mounts: dict, cache_dir: Path, size: str = "256MiB") -> Path:
    return P.write_config(path, mounts, cache={"dir": str(cache_dir), "size": size})


def stats(mp: Path) -> dict:
    with open(Path(mp) / STATS) as f:
        return json.load(f)


def log_of(path: Path, n: int = 30) -> str:
    try:
        return "\n--- voxfs log ---\n" + "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def cache_cli(*args) -> subprocess.CompletedProcess:
    return P.run_voxfs("cache", *args, timeout=60)


def cache_stats(cache_dir: Path) -> dict:
    """``voxfs cache stats`` as {name: int}: the byte count for size/bytes_* lines."""
    r = cache_cli("stats", "--cache-dir", cache_dir)
    assert r.returncode == 0, f"voxfs cache stats exited {r.returncode}: {r.stderr.strip()}"
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        name, rest = parts
        m = re.search(r"\((\d+) bytes\)", rest)
        if m:
            out[name] = int(m.group(1))
        elif re.fullmatch(r"\d+", rest.strip()):
            out[name] = int(rest.strip())
    for name in ("size", "entries", "hits", "misses", "corrupt", "evictions", "bytes_read", "bytes_written"):
        assert name in out, f"voxfs cache stats: no '{name}' line in:\n{r.stdout}"
    return out


# ---------------------------------------------------------------- helpers: the cache directory

def entry_files(cache_dir: Path) -> list[Path]:
    """Entry files: objects/<2 hex>/<hex id> (not temporary files)."""
    objects = Path(cache_dir) / "objects"
    if not objects.is_dir():
        return []
    return sorted(p for p in objects.glob("*/*") if p.is_file())


def regular_files(d: Path) -> list[Path]:
    return [Path(r) / f for r, _, fs in os.walk(d) for f in fs if os.path.isfile(Path(r) / f)]


def _blocks(path) -> int:
    try:
        return os.lstat(path).st_blocks * 512
    except FileNotFoundError:
        return 0


def disk_usage(cache_dir: Path) -> int:
    """``du``-style bytes of the regular files under ``cache_dir`` (st_blocks * 512), for a
    cache at rest: while processes write, use ``UsageSampler``, whose readings are atomic."""
    return sum(_blocks(f) for f in regular_files(cache_dir))


def entry_key_region(path: Path) -> bytes:
    """The start of an entry file (magic, lengths, key)."""
    with open(path, "rb") as f:
        return f.read(4096)


def flip_middle_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0xFF]))


def corrupt_entries(cache_dir: Path, select=lambda head: True) -> list[Path]:
    """Flips the middle byte of every entry file of >= 64 bytes that ``select(head)`` accepts."""
    done = []
    for p in entry_files(cache_dir):
        if p.stat().st_size < 64:
            continue
        head = entry_key_region(p)
        # "VXC1" per the contract; the version digit may move on, the prefix should not
        assert head[:3] == b"VXC", f"{p}: entry file does not start with the VXC magic ({head[:8]!r})"
        if select(head):
            flip_middle_byte(p)
            done.append(p)
    return done


# ---------------------------------------------------------------- helpers: reading in a child process

_DIGEST_READER = r"""
import errno, hashlib, os, sys
path, off, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = hashlib.sha256()
total = 0
try:
    fd = os.open(path, os.O_RDONLY)
    try:
        while n < 0 or total < n:
            b = os.pread(fd, (1 << 20) if n < 0 else min(1 << 20, n - total), off + total)
            if not b:
                break
            h.update(b)
            total += len(b)
    finally:
        os.close(fd)
    print("OK", total, h.hexdigest())
except OSError as e:
    print("ERR", e.errno)
"""


def start_digest(path: Path, offset: int = 0, length: int = -1) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _DIGEST_READER, str(path), str(offset), str(length)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_digest(p: subprocess.Popen, what, timeout: float = 90) -> tuple:
    """("OK", nbytes, sha256hex) or ("ERR", errno); a hung read fails the test."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=10)
        pytest.fail(f"reading {what} did not finish within {timeout}s")
    f = out.split()
    assert f, f"reader child for {what} failed: {err}"
    return ("OK", int(f[1]), f[2]) if f[0] == "OK" else ("ERR", int(f[1]))


def digest_in_child(path: Path, offset: int = 0, length: int = -1, timeout: float = 90) -> tuple:
    return finish_digest(start_digest(path, offset, length), path, timeout)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- helpers: data

def scale_files(layer: Path, vol, mip: int = 0) -> list[Path]:
    """Every file of a scale: each format of each z, and volume.npy."""
    out = [C.slice_path(layer, vol, mip, z, ext) for z in vol.z_range(mip) for ext in vol.spec.formats]
    return out + [layer / vol.scale(mip)["key"] / "volume.npy"]


def check_against_reference(path: Path, data: bytes, vol, mip: int, ref: np.ndarray) -> None:
    """``data`` (the bytes of ``path``) decodes to the reference data."""
    lossy = vol.spec.lossy
    if path.name == "volume.npy":
        arr = C.decode_npy(data)
        C.assert_same(arr, V.expected_volume(ref), lossy=lossy, what=str(path))
        return
    ext = path.suffix[1:]
    z = int(path.stem[1:])
    arr = C.decode(ext, data, vol.spec.dtype, vol.spec.channels)
    C.assert_same(arr, V.expected_slice(ref, z - vol.z_range(mip)[0]), lossy=lossy, what=str(path))


def slice_chunk_count(vol, mip: int) -> int:
    """Chunks one z-slice of scale ``mip`` touches (the grid starts at voxel_offset)."""
    s = vol.scale(mip)
    cs = s["chunk_sizes"][0]
    return math.ceil(s["size"][0] / cs[0]) * math.ceil(s["size"][1] / cs[1])


def write_raw_layer(root: Path, shape: tuple, chunk: tuple, seed: int) -> np.ndarray:
    """A one-scale uint8 raw precomputed layer of incompressible random data, written
    chunk by chunk with numpy (raw encoding: the chunk's (x, y, z) array, x fastest).
    Returns the (X, Y, Z, 1) array."""
    X, Y, Z = shape
    cx, cy, cz = chunk
    assert X % cx == 0 and Y % cy == 0 and Z % cz == 0
    data = np.random.default_rng(seed).integers(0, 256, (X, Y, Z, 1), dtype=np.uint8)
    (root / "s0").mkdir(parents=True)
    info = {"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [{
        "key": "s0", "size": [X, Y, Z], "voxel_offset": [0, 0, 0], "chunk_sizes": [list(chunk)],
        "resolution": [8, 8, 40], "encoding": "raw"}]}
    (root / "info").write_text(json.dumps(info))
    for x in range(0, X, cx):
        for y in range(0, Y, cy):
            for z in range(0, Z, cz):
                name = f"{x}-{x + cx}_{y}-{y + cy}_{z}-{z + cz}"
                (root / "s0" / name).write_bytes(data[x:x + cx, y:y + cy, z:z + cz, 0].tobytes(order="F"))
    return data


def raw_volume_npy_bytes(data: np.ndarray) -> bytes:
    """The body of volume.npy for a (X, Y, Z, 1) uint8 array: (Z, Y, X) C order."""
    return np.ascontiguousarray(data[..., 0].transpose(2, 1, 0)).tobytes()


def npy_header_length(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(12)
    assert head[:8] == b"\x93NUMPY\x01\x00", f"{path}: not NPY v1.0"
    return 10 + int.from_bytes(head[8:10], "little")


# ---------------------------------------------------------------- 1. offline remount

OFFLINE_VOLS = ("cv/u8", "cv/u8jpeg")


def test_offline_remount_serves_every_byte_from_disk(voxfs_bin, volumes, references, tmp_path):
    cache = tmp_path / "cache"
    mp = tmp_path / "mnt"
    log = tmp_path / "voxfs.log"
    with serving(tmp_path, {n: volumes[n].path for n in OFFLINE_VOLS}) as srv:
        cfg = config(tmp_path / "c.yaml", {"/" + n: f"precomputed://{srv.url}/{n}" for n in OFFLINE_VOLS}, cache)
        served_info = {n: (srv.root / n / "info").read_bytes() for n in OFFLINE_VOLS}
        first: dict = {}
        with mounted(cfg, mp, log=log):
            for n in OFFLINE_VOLS:
                vol, layer, ref = volumes[n], mp / n, references(n, 0)
                assert (layer / "info").read_bytes() == served_info[n]
                for p in scale_files(layer, vol):
                    data = p.read_bytes()
                    check_against_reference(p, data, vol, 0, ref)
                    first[p] = data
            s = stats(mp)
            assert s["served"]["errors"] == 0, s
            assert s["disk"]["counters"]["misses"] > 0, s
        srv.stop()
        with mounted(cfg, mp, log=log):
            for n in OFFLINE_VOLS:
                assert (mp / n / "info").read_bytes() == served_info[n], f"{n}/info differs offline"
            for p, data in first.items():
                got = p.read_bytes()
                assert len(got) == len(data) and got == data, f"{p}: offline bytes differ from the first mount"
            s = stats(mp)
    net, disk = s["network"], s["disk"]["counters"]
    ctx = f"stats: {json.dumps(s)}{log_of(log)}"
    assert net["bytes_fetched"] == 0, ctx
    assert net["requests"] <= MAX_INFO_ATTEMPTS * len(OFFLINE_VOLS), "chunk requests with the server down\n" + ctx
    assert disk["hits"] > 0, ctx
    assert disk["misses"] == 0, ctx
    assert disk["corrupt"] == 0, ctx
    assert s["served"]["errors"] == 0, ctx
    assert s["served"]["reads"] > 0, ctx


# ---------------------------------------------------------------- 2. corrupt entries

def test_corrupt_entries_are_refetched_or_eio(voxfs_bin, volumes, references, tmp_path):
    """Two copies of cv/u8 (alpha, bravo). Corrupt every chunk entry, remount with the
    server up: right data, corrupt counted. Corrupt bravo's entries again, stop the
    server, remount: alpha still right from disk, bravo EIO, never other bytes."""
    vol, ref = volumes["cv/u8"], references("cv/u8", 0)
    cache, mp, log = tmp_path / "cache", tmp_path / "mnt", tmp_path / "voxfs.log"
    names = ("alpha", "bravo")
    with serving(tmp_path, {n: vol.path for n in names}) as srv:
        urls = {n: f"{srv.url}/{n}" for n in names}
        cfg = config(tmp_path / "c.yaml", {"/" + n: "precomputed://" + urls[n] for n in names}, cache)
        paths = [C.slice_path(mp / n, vol, 0, z, ext) for n in names for z in vol.z_range(0)
                 for ext in ("npy", "png")]
        expected: dict = {}
        with mounted(cfg, mp, log=log):
            for p in paths:
                data = p.read_bytes()
                check_against_reference(p, data, vol, 0, ref)
                expected[p] = data
        n_entries = cache_stats(cache)["entries"]

        def is_info(head: bytes) -> bool:
            return any((u + "/info").encode() in head for u in urls.values())

        hit = corrupt_entries(cache, lambda head: not is_info(head))
        assert len(hit) >= 2 * slice_chunk_count(vol, 0), f"only {len(hit)} chunk entries to corrupt"

        with mounted(cfg, mp, log=log):
            for p in paths:
                got = p.read_bytes()
                assert got == expected[p], f"{p}: wrong bytes after corrupting the cache{log_of(log)}"
            s = stats(mp)
        ctx = f"stats: {json.dumps(s)}{log_of(log)}"
        assert s["disk"]["counters"]["corrupt"] >= 1, ctx
        # only the info entries were left intact
        assert s["disk"]["counters"]["hits"] <= len(names), "a corrupt entry was counted as a hit\n" + ctx
        assert s["network"]["bytes_fetched"] > 0, ctx
        assert s["served"]["errors"] == 0, ctx
        after = cache_stats(cache)
        assert after["corrupt"] >= 1, after
        # the refetched chunks are cached again (the next step needs them on disk)
        assert after["entries"] == n_entries, f"entries {after['entries']} after refetch, {n_entries} before"

        bravo = corrupt_entries(cache, lambda head: urls["bravo"].encode() in head and not is_info(head))
        assert len(bravo) >= slice_chunk_count(vol, 0), f"only {len(bravo)} bravo entries found to corrupt"
        srv.stop()

        with mounted(cfg, mp, log=log) as m:
            for p in [q for q in paths if q.parts[-3] == "alpha"]:
                r = digest_in_child(p)
                assert r == ("OK", len(expected[p]), sha(expected[p])), f"{p}: {r} (server down, intact entry)"
            bad = [C.slice_path(mp / "bravo", vol, 0, z, ext) for z in (0, 17, 39) for ext in ("npy", "png", "tif")]
            bad.append(mp / "bravo" / vol.scale(0)["key"] / "volume.npy")
            procs = [(p, start_digest(p)) for p in bad]
            for p, proc in procs:
                r = finish_digest(proc, p)
                assert r == ("ERR", errno.EIO), f"{p}: {r}, want EIO (corrupt entry, server down){log_of(log)}"
            s = stats(m.mountpoint)
        ctx = f"stats: {json.dumps(s)}{log_of(log)}"
        assert s["disk"]["counters"]["corrupt"] >= 1, ctx
        assert s["network"]["bytes_fetched"] == 0, ctx
        assert s["served"]["errors"] >= 1, ctx


# ---------------------------------------------------------------- 3. SIGKILL

KILL_SHAPE, KILL_CHUNK = (1024, 512, 64), (64, 64, 16)  # 512 chunks of 64 KiB (32 MiB)
KILL_ROUNDS = 5

_HAMMER = r"""
import os, random, sys, threading
paths = sys.argv[2:]
random.Random(int(sys.argv[1])).shuffle(paths)
def work(ps):
    for p in ps:
        try:
            with open(p, "rb") as f:
                while f.read(1 << 20):
                    pass
        except OSError:
            pass
ts = [threading.Thread(target=work, args=(paths[i::4],)) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"""


def _sigkill_daemon(mp: Path, log: Path) -> None:
    pids = P.pids_for_mountpoint(mp)
    assert pids, f"no daemon found for {mp}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert P.wait_until(lambda: not any(P._alive(pid) for pid in pids), 20), "daemon survived SIGKILL"
    r = P.run_voxfs("unmount", mp, timeout=60)
    gone = P.wait_until(lambda: not P.is_mounted(mp), 10)
    if not gone:
        P.force_unmount(mp)
    assert r.returncode == 0 and gone, (f"voxfs unmount of a dead mount: rc={r.returncode} {r.stderr.strip()!r}, "
                                       f"still mounted={not gone}{log_of(log)}")


def _unfinished_reservations(cache_dir: Path) -> str:
    """Diagnostics only (read-only look at the index): rows never marked ready."""
    try:
        import sqlite3

        con = sqlite3.connect(f"file:{cache_dir}/index.sqlite?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT id, key, ready FROM entries WHERE ready = 0").fetchall()
        finally:
            con.close()
        return f"\nindex rows with ready = 0: {rows}"
    except Exception as e:  # noqa: BLE001 - only a hint for the report
        return f"\n(index not readable: {e})"


def _check_whole(mp: Path, data: np.ndarray, log: Path, cache_dir: Path, what: str) -> None:
    """volume.npy (every chunk) and a few slices in each format equal the written data."""
    scale = mp / "v" / "s0"
    vnpy = scale / "volume.npy"
    body = raw_volume_npy_bytes(data)
    size = vnpy.stat().st_size
    r = digest_in_child(vnpy, offset=size - len(body), timeout=120)
    assert r == ("OK", len(body), sha(body)), (
        f"{what}: volume.npy body: {r}, want OK {len(body)} bytes with the written data"
        f"{_unfinished_reservations(cache_dir)}{log_of(log)}")
    assert npy_header_length(vnpy) == size - len(body)
    for z in range(data.shape[2]):
        for ext in ("npy", "png", "tif") if z in (0, 15, 16, 33, 63) else ("npy",):
            p = scale / f"z{z:02d}.{ext}"
            got = C.decode(ext, p.read_bytes(), "uint8", 1)
            C.assert_same(got, data[:, :, z, 0].T, what=f"{what}: {p}")


@pytest.fixture(scope="module")
def killed_cache(voxfs_bin, tmp_path_factory):
    """A cache directory after KILL_ROUNDS mounts SIGKILLed while 3 processes read
    (random delay 0.05-0.5 s), with nginx still serving the layer."""
    tmp = tmp_path_factory.mktemp("sigkill")
    layer_src = tmp / "src"
    data = write_raw_layer(layer_src, KILL_SHAPE, KILL_CHUNK, seed=31)
    cache, mp, log = tmp / "cache", tmp / "mnt", tmp / "voxfs.log"
    rnd = random.Random(1234)
    with serving(tmp, {"v": layer_src}) as srv:
        cfg = config(tmp / "c.yaml", {"/v": f"precomputed://{srv.url}/v"}, cache, size="64MiB")
        scale = mp / "v" / "s0"
        files = [str(scale / f"z{z:02d}.{ext}") for z in range(KILL_SHAPE[2]) for ext in ("npy", "png", "tif")]
        files.append(str(scale / "volume.npy"))
        for round_ in range(KILL_ROUNDS):
            m = P.VoxfsMount(cfg, mp, log_file=log).open()
            readers = [subprocess.Popen([sys.executable, "-c", _HAMMER, str(round_ * 10 + i), *files],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(3)]
            try:
                time.sleep(rnd.uniform(0.05, 0.5))
                _sigkill_daemon(mp, log)
                for r in readers:
                    try:
                        r.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        pytest.fail(f"round {round_}: a reader hung on the dead mount")
            finally:
                for r in readers:
                    if r.poll() is None:
                        r.kill()
                        r.wait(10)
                    r.stderr.close()
                m.close()
        yield dict(srv=srv, cfg=cfg, cache=cache, mp=mp, log=log, data=data, tmp=tmp)


def test_sigkill_then_remount_reads_right_data(killed_cache):
    k = killed_cache
    with mounted(k["cfg"], k["mp"], log=k["log"]):
        _check_whole(k["mp"], k["data"], k["log"], k["cache"], "after SIGKILLs, server up")
        s = stats(k["mp"])
    assert s["served"]["errors"] == 0, s


def test_sigkill_leaves_no_stray_files(killed_cache):
    """Whatever a killed writer left in objects/ is an entry file or a temporary file
    named tmp.*, and temporary files that are long stale go away at the next mount."""
    k = killed_cache
    objects = k["cache"] / "objects"
    two_hours_ago = time.time() - 7200
    for e in os.scandir(objects):
        if e.is_file(follow_symlinks=False):
            os.utime(e.path, (two_hours_ago, two_hours_ago))
    with mounted(k["cfg"], k["mp"], log=k["log"]):
        time.sleep(0.5)  # startup cleanup runs in the background
    stray = [str(p.relative_to(k["cache"])) for p in regular_files(objects)
             if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]+", str(p.relative_to(objects)))]
    assert not stray, (f"files other than entries left in objects/ after {KILL_ROUNDS} SIGKILLs, aged 2 h and "
                       f"a clean mount: {stray}")


def test_sigkill_then_offline_after_a_clean_run(killed_cache):
    """A clean mount reads everything (server up) and unmounts; then, with the server
    down, everything is served from disk."""
    k = killed_cache
    with mounted(k["cfg"], k["mp"], log=k["log"]):
        _check_whole(k["mp"], k["data"], k["log"], k["cache"], "clean run after SIGKILLs")
    k["srv"].stop()
    with mounted(k["cfg"], k["mp"], log=k["log"]):
        _check_whole(k["mp"], k["data"], k["log"], k["cache"], "server down after a clean full read")
        s = stats(k["mp"])
    ctx = f"stats: {json.dumps(s)}{log_of(k['log'])}"
    assert s["network"]["bytes_fetched"] == 0, ctx
    assert s["disk"]["counters"]["misses"] == 0, ctx
    assert s["served"]["errors"] == 0, ctx


# ---------------------------------------------------------------- 4. size bound

BOUND = 8 << 20
BIG_SHAPE, BIG_CHUNK = (1024, 640, 64), (128, 128, 16)  # 160 chunks of 256 KiB: 40 MiB
BIG_CHUNK_BYTES = BIG_CHUNK[0] * BIG_CHUNK[1] * BIG_CHUNK[2]
ONE_ENTRY = (BIG_CHUNK_BYTES + BLOCK - 1) // BLOCK * BLOCK + BLOCK  # chunk + header/key/zstd framing
ALLOWED = BOUND + ONE_ENTRY + BLOCK


@contextmanager
def own_filesystem(path: Path):
    """A tmpfs mounted at ``path`` for one cache, so that its usage can be read atomically.

    Summing file sizes while two processes evict and write is not a snapshot: a file counted
    and then evicted, plus the file written in its place, would count the same space twice.
    statvfs on a filesystem holding only the cache counts each block once, including files
    already unlinked but still open. Its size leaves more than voxfs's 1 GiB free-space floor.
    """
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g,mode=0755", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def filesystem_usage(path: Path) -> int:
    """Bytes in use on the filesystem holding ``path``, as one atomic reading."""
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class UsageSampler:
    """Samples the usage of a filesystem of its own (see ``own_filesystem``) in a thread;
    ``peak`` is the largest sample."""

    def __init__(self, root: Path, interval: float = 0.005):
        self.root = root
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, filesystem_usage(self.root))
            self.samples += 1
            time.sleep(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(10)


def _detail(cache_dir: Path) -> str:
    files = regular_files(cache_dir)
    big = sorted(((_blocks(f), str(f)) for f in files), reverse=True)[:5]
    return f"{len(files)} files, largest {big}"


def test_size_bound_one_and_two_processes(voxfs_bin, tmp_path):
    layer_src = tmp_path / "src"
    data = write_raw_layer(layer_src, BIG_SHAPE, BIG_CHUNK, seed=41)
    body = raw_volume_npy_bytes(data)
    with own_filesystem(tmp_path / "cachefs") as cachefs, serving(tmp_path, {"big": layer_src}) as srv:
        cache = cachefs / "cache"
        cfg = config(tmp_path / "c.yaml", {"/big": f"precomputed://{srv.url}/big"}, cache, size="8MiB")

        # one process reads all 40 MiB
        mp, log = tmp_path / "mnt", tmp_path / "voxfs.log"
        with UsageSampler(cachefs) as u:
            with mounted(cfg, mp, log=log):
                vnpy = mp / "big" / "s0" / "volume.npy"
                hl = npy_header_length(vnpy)
                r = digest_in_child(vnpy, offset=hl, timeout=120)
                assert r == ("OK", len(body), sha(body)), f"volume.npy: {r}"
                s = stats(mp)
                assert s["disk"]["capacity"] == BOUND, s["disk"]
                assert s["disk"]["counters"]["skipped_low_space"] == 0, s["disk"]
        after = disk_usage(cache)
        one = cache_stats(cache)
        print(f"one process: peak {u.peak} ({u.samples} samples), after {after}, allowed {ALLOWED}, {one}")
        assert u.samples > 10, f"only {u.samples} samples of the cache size"
        assert u.peak <= ALLOWED, (f"one process: cache reached {u.peak} bytes on disk, bound {BOUND} "
                                   f"+ one entry {ONE_ENTRY} + {BLOCK}; {_detail(cache)}{log_of(log)}")
        assert after <= ALLOWED, f"after unmount: {after} bytes on disk > {ALLOWED}; {_detail(cache)}"
        assert one["evictions"] > 0, f"40 MiB through an 8 MiB cache but no evictions: {one}"
        assert one["size"] <= ALLOWED, one
        assert len(entry_files(cache)) == one["entries"], (len(entry_files(cache)), one)
        assert 0 < one["entries"] <= BOUND // BIG_CHUNK_BYTES, one

        # two processes on the same directory, each reading its half
        mps = [tmp_path / "mnt-a", tmp_path / "mnt-b"]
        logs = [tmp_path / "voxfs-a.log", tmp_path / "voxfs-b.log"]
        half = len(body) // 2
        with UsageSampler(cachefs) as u2:
            with mounted(cfg, mps[0], log=logs[0]), mounted(cfg, mps[1], log=logs[1]):
                procs = [start_digest(mps[i] / "big" / "s0" / "volume.npy", hl + i * half, half) for i in range(2)]
                for i, p in enumerate(procs):
                    r = finish_digest(p, f"half {i}", timeout=120)
                    want = body[i * half:(i + 1) * half]
                    assert r == ("OK", len(want), sha(want)), f"mount {i}, half {i}: {r}"
                ss = [stats(m) for m in mps]
        after2 = disk_usage(cache)
        two = cache_stats(cache)
        print(f"two processes: peak {u2.peak} ({u2.samples} samples), after {after2}, allowed {ALLOWED}, {two}")
        ctx = f"{_detail(cache)}{log_of(logs[0], 15)}{log_of(logs[1], 15)}"
        assert u2.peak <= ALLOWED, f"two processes: cache reached {u2.peak} bytes on disk > {ALLOWED}; {ctx}"
        assert after2 <= ALLOWED, f"two processes, after unmount: {after2} > {ALLOWED}; {ctx}"
        assert two["evictions"] > one["evictions"], (one, two)
        assert sum(s["disk"]["counters"]["writes"] for s in ss) > 0, ss
        assert len(entry_files(cache)) == two["entries"], (len(entry_files(cache)), two)


# ---------------------------------------------------------------- 5. counters

COUNTER_CASES = [("cv/u8", 0, 5, 0), ("cv/u16", 1, 100, 0), ("missing/u8", 0, 20, 1)]


@pytest.mark.parametrize("name,mip,z,not_found", COUNTER_CASES, ids=[f"{c[0]}-{c[1]}" for c in COUNTER_CASES])
def test_counters_for_one_slice(name, mip, z, not_found, voxfs_bin, volumes, references, tmp_path):
    vol, ref = volumes[name], references(name, mip)
    K = slice_chunk_count(vol, mip)
    cache, mp, log = tmp_path / "cache", tmp_path / "mnt", tmp_path / "voxfs.log"
    cfg = config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url}, cache)
    info_len = len((vol.path / "info").read_bytes())
    p = C.slice_path(mp / "v", vol, mip, z, "npy")
    p_png = p.with_suffix(".tif")

    with mounted(cfg, mp, log=log):
        s0 = stats(mp)
        check_against_reference(p, p.read_bytes(), vol, mip, ref)
        s1 = stats(mp)
    ctx = f"K={K}\nbefore: {json.dumps(s0)}\nafter: {json.dumps(s1)}{log_of(log)}"
    assert s1["network"]["requests"] - s0["network"]["requests"] == K, ctx
    assert s1["network"]["not_found"] - s0["network"]["not_found"] == not_found, ctx
    assert s1["network"]["retries"] == 0 and s1["network"]["errors"] == 0, ctx
    assert s1["memory"]["misses"] == K, ctx
    assert s1["disk"]["counters"]["misses"] == K, ctx
    assert s1["disk"]["counters"]["hits"] == 0, ctx
    assert s1["served"]["errors"] == 0, ctx
    first = cache_stats(cache)
    assert first["entries"] == K + 1, f"entries {first['entries']}, want K + 1 (info) = {K + 1}\n{first}"
    assert (first["hits"], first["misses"], first["corrupt"]) == (0, K, 0), first
    assert len(entry_files(cache)) == K + 1

    with mounted(cfg, mp, log=log):
        s0 = stats(mp)
        check_against_reference(p, p.read_bytes(), vol, mip, ref)
        s1 = stats(mp)
        C.check_slice(mp / "v", vol, mip, z, "tif", ref)  # same chunks, other format: the memory tier
        s2 = stats(mp)
    ctx = f"K={K}\nbefore: {json.dumps(s0)}\nafter: {json.dumps(s1)}\nafter tif: {json.dumps(s2)}{log_of(log)}"
    assert s1["disk"]["counters"]["hits"] == K, ctx
    assert s1["disk"]["counters"]["misses"] == 0, ctx
    assert s1["network"]["requests"] == s0["network"]["requests"], "chunk requests on a warm disk cache\n" + ctx
    assert s1["network"]["bytes_fetched"] == s0["network"]["bytes_fetched"] <= info_len, ctx
    assert s1["memory"]["misses"] == K, ctx
    assert s2["disk"]["counters"]["hits"] == K, f"{p_png.name} went to the disk tier again\n" + ctx
    assert s2["memory"]["hits"] >= K, ctx
    assert s2["network"]["requests"] == s0["network"]["requests"], ctx
    second = cache_stats(cache)
    assert second["entries"] == K + 1, second
    assert (second["hits"], second["misses"]) == (K, K), f"lifetime counters {second}, want hits=misses={K}"
    assert second["bytes_read"] > 0 and second["bytes_written"] > 0, second


# ---------------------------------------------------------------- 6. voxfs cache stats / clear

def test_cache_cli_stats_and_clear(voxfs_bin, volumes, references, tmp_path):
    vol, ref = volumes["cv/u8"], references("cv/u8", 0)
    cache, mp, log = tmp_path / "cache", tmp_path / "mnt", tmp_path / "voxfs.log"
    cfg = config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url}, cache)
    zs = (3, 20)
    for _ in range(2):  # misses, then hits
        with mounted(cfg, mp, log=log):
            for z in zs:
                C.check_slice(mp / "v", vol, 0, z, "npy", ref)
    st = cache_stats(cache)
    K = slice_chunk_count(vol, 0)
    assert st["entries"] == len(entry_files(cache)) == 2 * K + 1, (st, len(entry_files(cache)))
    assert st["hits"] == 2 * K and st["misses"] == 2 * K, st
    assert st["size"] >= sum(p.stat().st_size for p in entry_files(cache)), st
    assert st["bytes_written"] > 0 and st["bytes_read"] > 0, st

    r = cache_cli("clear", "--cache-dir", cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"cleared {cache}", r.stdout
    st = cache_stats(cache)
    assert st["entries"] == 0, st
    left = [p for p in regular_files(cache / "objects")]
    assert not left, f"files left in objects/ after clear: {left[:5]}"
    assert st["size"] <= 1 << 20, st  # only the index remains

    # still usable; and clearing under a running mount does not break it
    with mounted(cfg, mp, log=log):
        C.check_slice(mp / "v", vol, 0, 3, "npy", ref)
        r = cache_cli("clear", "--cache-dir", cache)
        assert r.returncode == 0, r.stderr
        C.check_slice(mp / "v", vol, 0, 3, "png", ref)
        C.check_slice(mp / "v", vol, 0, 35, "npy", ref)
    st = cache_stats(cache)
    assert st["entries"] == len(entry_files(cache)), (st, len(entry_files(cache)))
    assert st["entries"] >= K, st

    for sub in ("stats", "clear"):
        missing = tmp_path / "nonexistent" / "cache"
        r = cache_cli(sub, "--cache-dir", missing)
        assert r.returncode != 0, f"voxfs cache {sub} on a missing directory exited 0: {r.stdout!r}"
        msg = r.stderr.strip()
        assert msg and len(msg.splitlines()) == 1, f"voxfs cache {sub}: stderr {msg!r} is not one line"
        assert str(missing) in msg, msg
        assert not missing.exists(), f"voxfs cache {sub} created {missing}"
    r = cache_cli("stats", "--cache-dir", "/nonexistent")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, (r.returncode, r.stderr)


# ---------------------------------------------------------------- 7. /.voxfs

def test_hidden_stats_file(voxfs_bin, volumes, tmp_path):
    vol = volumes["cv/u8"]
    cache, mp, log = tmp_path / "cache", tmp_path / "mnt", tmp_path / "voxfs.log"
    cfg = config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url}, cache, size="100MiB")
    with mounted(cfg, mp, log=log):
        assert os.listdir(mp) == ["v"], os.listdir(mp)
        assert ".voxfs" not in os.listdir(mp)
        assert os.path.isdir(mp / ".voxfs")
        s0 = stats(mp)
        for section, keys in (("memory", {"hits", "misses", "evictions", "bytes", "capacity"}),
                              ("network", {"requests", "bytes_fetched", "in_flight", "retries", "errors",
                                           "not_found"}),
                              ("served", {"reads", "bytes", "errors"})):
            assert keys <= set(s0[section]), (section, s0[section])
        assert set(s0["disk"]["counters"]) >= {"hits", "misses", "writes", "corrupt", "evictions",
                                               "skipped_low_space", "bytes_read", "bytes_written"}, s0["disk"]
        assert os.path.realpath(s0["disk"]["directory"]) == os.path.realpath(cache), s0["disk"]
        assert s0["disk"]["capacity"] == 100 << 20, s0["disk"]
        n = len((C.slice_path(mp / "v", vol, 0, 7, "npy")).read_bytes())
        s1 = stats(mp)  # a fresh snapshot on each open
        assert s1["served"]["reads"] > s0["served"]["reads"], (s0["served"], s1["served"])
        assert s1["served"]["bytes"] - s0["served"]["bytes"] >= n, (s0["served"], s1["served"])
        f = mp / STATS
        for what, op in (("open wb", lambda: open(f, "wb")), ("open r+b", lambda: open(f, "r+b")),
                         ("O_WRONLY", lambda: os.open(f, os.O_WRONLY)),
                         ("create", lambda: open(mp / ".voxfs" / "new", "xb")),
                         ("unlink", lambda: os.unlink(f))):
            with pytest.raises(OSError) as ei:
                r = op()
                if isinstance(r, int):
                    os.close(r)
                elif r is not None:
                    r.close()
            assert ei.value.errno == errno.EROFS, f"{what}: {ei.value!r}"
        assert stats(mp)["served"]["errors"] == 0


# ---------------------------------------------------------------- 8. low free space

def test_low_free_space_skips_caching(voxfs_bin, volumes, references, tmp_path):
    """Cache directory on a 64 MiB tmpfs (< 1 GiB free): reads work, nothing is cached."""
    vol, ref = volumes["cv/u8"], references("cv/u8", 0)
    small = tmp_path / "small"
    small.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(small)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        cache, mp, log = small / "cache", tmp_path / "mnt", tmp_path / "voxfs.log"
        cfg = config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url}, cache, size="32MiB")
        with mounted(cfg, mp, log=log):
            for z in (0, 20, 39):
                C.check_slice(mp / "v", vol, 0, z, "npy", ref)
            # writes happen in the background: wait for the writer to decide
            P.wait_until(lambda: stats(mp)["disk"]["counters"]["skipped_low_space"] > 0, 10)
            s = stats(mp)
        ctx = f"stats: {json.dumps(s)}{log_of(log)}"
        assert s["disk"]["counters"]["skipped_low_space"] > 0, ctx
        assert s["disk"]["counters"]["writes"] == 0, ctx
        assert s["served"]["errors"] == 0, ctx
        assert entry_files(cache) == [], entry_files(cache)
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
