"""The engine of ``bench/run`` (issue 9): fixtures, workloads, alternating repetitions, report.

Every workload runs its tools (voxfs and its peers) in one loop: repetition after
repetition, each workload's tools in an order rotated by one each repetition. The
fixtures come from the per-benchmark scripts (bench/slices, bench/seg, bench/files),
imported as modules; one nginx on 127.0.0.1 serves all of them, with every served
file pinned in RAM so dropping the page cache empties only the client side. See
bench/README.md for what each workload measures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "ls"))

import common as C  # noqa: E402  (also puts Tests/integration on sys.path)
from common import P  # noqa: E402
import moto_bucket  # noqa: E402
import tree_servers  # noqa: E402

MiB = 1 << 20
NPROC = os.cpu_count() or 1


def _load(name: str):
    """bench/<name>/run.py as a module (its main() is not run)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / name / "run.py")
    mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


slices_bench, seg_bench, files_bench = _load("slices"), _load("seg"), _load("files")

WORKLOADS = ("slices-cold", "slices-warm", "region", "seg-cold", "file-seq", "file-rand4k", "file-warm", "ls", "memory",
             "limits")
GROUPS = {  # fixture group -> the workloads that need it
    "slices": ("slices-cold", "slices-warm", "region", "memory", "limits"),
    "seg": ("seg-cold",),
    "files": ("file-seq", "file-rand4k", "file-warm", "memory", "limits"),
    "ls": ("ls",),
}
DEFAULTS = {  # option -> (default, --quick)
    "reps": (5, 2),
    "slices_size": ((2048, 2048, 64), (1024, 1024, 32)),
    "seg_size": ((1024, 1024, 64), (512, 512, 32)),
    "file_size": (1 << 30, 128 * MiB),
    "rand_reads": (2000, 500),
    "ls_entries": (100_000, 5_000),
    "decode_passes": (2, 1),
}
SLICES_CHUNK = (256, 256, 16)
SEG_CHUNK = (128, 128, 16)
REGION = (512, 512, 32)
RCLONE_S3 = ("--s3-provider", "Other")


# ---------------------------------------------------------------- records

@dataclass
class Run:
    rep: int
    seconds: float
    value: float  # throughput: the tool's amount of work / seconds
    extra: dict


@dataclass
class Series:
    runs: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # (rep, one-line reason)
    wall: float = 0.0  # seconds spent in this tool's runs, setup and checks included

    def median(self, key: str = "value"):
        xs = [getattr(r, key) for r in self.runs]
        return statistics.median(xs) if xs else None


@dataclass
class Tool:
    name: str
    group: str  # the fixture it needs
    unit: str
    amount: float  # units of work per run: value = amount / seconds
    fn: Callable  # () -> (seconds, extra dict)
    borrow: tuple | None = None  # (workload, tool): measured there instead when that workload runs too
    what: str = ""


@dataclass
class Volume:
    """A served precomputed volume and what the checks need."""
    name: str
    url: str
    mount: str  # key in the voxfs config
    key: str  # scale 0's directory
    size: tuple
    chunk: tuple
    files: list  # served chunk or shard files
    ref_z: int = 0
    ref_slice: np.ndarray | None = None  # (Y, X) of z = ref_z, from tensorstore

    @property
    def voxels(self) -> int:
        return self.size[0] * self.size[1] * self.size[2]

    @property
    def chunks(self) -> int:
        return int(np.prod([-(-s // c) for s, c in zip(self.size, self.chunk)]))


@dataclass
class Target:
    label: str
    tool: tuple  # (workload, tool)
    ref: tuple  # (workload, tool), or None for memory
    goal: float
    kind: str = "speed"  # speed: voxfs/peer >= goal; time: voxfs s / peer s <= goal;
    #                      ceiling: voxfs / (ref x cores) >= goal; memory: peak RSS <= bound


def targets() -> list:
    out = []
    for ext in ("png", "npy"):
        v = ("slices-cold", f"voxfs-{ext}")
        for peer, goal in (("tensorstore-slices", 1.5), ("cloudvolume-slices", 2.0),
                           ("tensorstore-whole", 1.5), ("cloudvolume-whole", 2.0)):
            out.append(Target(f"slices-cold {ext.upper()} / {peer}", v, ("slices-cold", peer), goal))
        out.append(Target(f"slices-cold {ext.upper()} / (decode ceiling x {NPROC} cores)", v,
                          ("limits", "jpeg-decode-1core"), 0.7, "ceiling"))
    for ext in ("png", "npy"):
        for peer in ("tensorstore-slices", "tensorstore-whole"):
            out.append(Target(f"slices-warm {ext.upper()} (disk cache) / {peer} (cold)",
                              ("slices-warm", f"voxfs-{ext}-disk"), ("slices-warm", peer), 4.0))
    out += [
        Target("file-seq cold / curl", ("file-seq", "voxfs"), ("file-seq", "curl"), 0.8),
        Target("file-seq cold / rclone-off", ("file-seq", "voxfs"), ("file-seq", "rclone-off"), 2.0),
        Target("file-seq cold, no disk cache / curl", ("file-seq", "voxfs-nocache"), ("file-seq", "curl"), 0.8),
        Target("file-seq cold, no disk cache / rclone-off", ("file-seq", "voxfs-nocache"), ("file-seq", "rclone-off"), 2.0),
        Target("file-rand4k cold / rclone-off", ("file-rand4k", "voxfs"), ("file-rand4k", "rclone-off"), 1.5),
        Target("file-warm (disk cache) / rclone-full warm (issue 4)", ("file-warm", "voxfs"), ("file-warm", "rclone-full"),
               2.0),
        Target("ls: voxfs time / raw listing time", ("ls", "voxfs"), ("ls", "raw"), 1.5, "time"),
        Target("seg-cold / tensorstore-slices", ("seg-cold", "voxfs-npy"), ("seg-cold", "tensorstore-slices"), 1.0),
        Target("seg-cold / tensorstore-whole", ("seg-cold", "voxfs-npy"), ("seg-cold", "tensorstore-whole"), 1.0),
        Target("seg disk cache / tensorstore-slices (cold; issue 5)", ("seg-cold", "voxfs-npy-disk"),
               ("seg-cold", "tensorstore-slices"), 4.0),
    ]
    out += [Target(f"memory: peak RSS during {t} <= --memory", ("memory", t), None, 0, "memory")
            for t in ("slices-cold-png", "slices-cold-npy", "file-seq")]
    return out


# ---------------------------------------------------------------- moto

class MotoBucket(tree_servers.ChildServer):
    """bench/ls/moto_bucket.py in a child: one bucket with ``count`` keys under ``prefix``."""

    name = "moto"

    def __init__(self, workdir: Path, bucket: str, prefix: str, count: int, stock: bool):
        super().__init__(workdir)
        self.bucket, self.prefix, self.count, self.stock = bucket, prefix, count, stock

    def command(self) -> list:
        return tree_servers.python_child("path", str(BENCH / "ls" / "moto_bucket.py"), "--port", self.port,
                                         "--bucket", self.bucket, "--prefix", self.prefix, "--count", self.count,
                                         *(["--stock"] if self.stock else []))

    def ready_path(self) -> str:
        return "/moto-api/"

    def _wait_ready(self, timeout: float) -> bool:
        return super()._wait_ready(timeout + self.count / 5000)  # loading takes ~35 us a key, more when busy

    def loaded_line(self) -> str:
        """The launcher's READY line of this start (the log is appended to across starts)."""
        return next((ln for ln in reversed(self.log.read_text(errors="replace").splitlines())
                     if ln.startswith(f"READY {self.port} ")), "")


def rclone_env() -> dict:
    """rclone's environment: without AWS_* variables (an AWS_CA_BUNDLE makes rclone 1.60's S3 client
    fail with LoadCustomCABundleError even for an http:// endpoint)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def count_ls(path: Path, timeout: float) -> int:
    """Entries ``ls -f`` lists in ``path`` (readdir only: no stat, no sort), '.' and '..' left out."""
    r = subprocess.run(["ls", "-f", str(path)], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"ls -f exited {r.returncode}: {r.stderr.decode(errors='replace').strip()[-300:]}")
    return sum(1 for n in r.stdout.split(b"\n") if n and n not in (b".", b".."))


# ---------------------------------------------------------------- the suite

class Suite:
    def __init__(self, args, work: Path, voxfs: Path):
        self.args = args
        self.work = work
        self.voxfs = voxfs
        self.selected = args.only
        self.stack = contextlib.ExitStack()
        self.fixture_errors: dict = {}  # group -> reason
        self.fixture_notes: list = []
        self.notes: list = []
        self.checked: set = set()
        self.mountpoints: set = set()
        self.srv = None
        self.alog = None
        self.em = self.seg = self.files = self.moto = None
        self.decoder: Path | None = None
        self.tools = self.plan()
        self.results = {key: Series() for key in self.tools}

    # ---- plan

    def plan(self) -> dict:
        a = self.args
        X, Y, Z = a.slices_size
        em_mvox = X * Y * Z / 1e6
        seg_mvox = float(np.prod(a.seg_size)) / 1e6
        region_mvox = float(np.prod(self.region()[1])) / 1e6
        nreads = min(a.rand_reads, a.file_size // 4096)
        em, seg = (lambda: self.em), (lambda: self.seg)
        W: dict = {}
        W["slices-cold"] = [
            Tool("voxfs-png", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "png"),
                 what="fresh cache dir and mount, page cache dropped; `cat` of every z*.png"),
            Tool("voxfs-npy", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "npy"),
                 what="the same with every z*.npy"),
            Tool("cloudvolume-slices", "slices", "Mvoxel/s", em_mvox, lambda: self.cloudvolume(True),
                 what="`vol[:, :, z]` for every z, cache=False"),
            Tool("cloudvolume-whole", "slices", "Mvoxel/s", em_mvox, lambda: self.cloudvolume(False),
                 what="the whole volume in one `vol[...]`"),
            Tool("tensorstore-slices", "slices", "Mvoxel/s", em_mvox, lambda: self.tensorstore(em(), True),
                 what="`store[:, :, z].read()` for every z, cache_pool 0"),
            Tool("tensorstore-whole", "slices", "Mvoxel/s", em_mvox, lambda: self.tensorstore(em(), False),
                 what="the whole volume in one `.read()`"),
        ]
        W["slices-warm"] = [
            Tool("voxfs-png-disk", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "png", disk=True),
                 what="read once (untimed), remount on the same cache dir, drop the page cache, `cat` again"),
            Tool("voxfs-npy-disk", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "npy", disk=True),
                 what="the same with z*.npy"),
            Tool("tensorstore-slices", "slices", "Mvoxel/s", em_mvox, lambda: self.tensorstore(em(), True),
                 ("slices-cold", "tensorstore-slices"), "cold, as in slices-cold"),
            Tool("tensorstore-whole", "slices", "Mvoxel/s", em_mvox, lambda: self.tensorstore(em(), False),
                 ("slices-cold", "tensorstore-whole"), "cold, as in slices-cold"),
        ]
        W["region"] = [
            Tool("voxfs", "slices", "Mvoxel/s", region_mvox, lambda: self.region_voxfs(cutout=False),
                 what="fresh mount; `np.load(volume.npy, mmap_mode='r')[z0:z1, y0:y1, x0:x1]`"),
            Tool("voxfs-cutout", "slices", "Mvoxel/s", region_mvox, lambda: self.region_voxfs(cutout=True),
                 what="fresh mount; `np.load(cutout/x0-x1_y0-y1_z0-z1.npy)`: the region as one file"),
            Tool("cloudvolume", "slices", "Mvoxel/s", region_mvox, lambda: self.region_peer("cloudvolume"),
                 what="`vol[x0:x1, y0:y1, z0:z1]`"),
            Tool("tensorstore", "slices", "Mvoxel/s", region_mvox, lambda: self.region_peer("tensorstore"),
                 what="`store[x0:x1, y0:y1, z0:z1].read()`"),
        ]
        W["seg-cold"] = [
            Tool("voxfs-npy", "seg", "Mvoxel/s", seg_mvox, lambda: self.voxfs_slices(seg(), "npy"),
                 what="fresh cache dir and mount, page cache dropped; `cat` of every z*.npy"),
            Tool("voxfs-npy-disk", "seg", "Mvoxel/s", seg_mvox, lambda: self.voxfs_slices(seg(), "npy", disk=True),
                 what="from the disk cache (remount, page cache dropped)"),
            Tool("tensorstore-slices", "seg", "Mvoxel/s", seg_mvox, lambda: self.tensorstore(seg(), True),
                 what="`store[:, :, z].read()` for every z, cache_pool 0"),
            Tool("tensorstore-whole", "seg", "Mvoxel/s", seg_mvox, lambda: self.tensorstore(seg(), False),
                 what="the whole volume in one `.read()`"),
        ]
        file_mib = a.file_size / MiB
        W["file-seq"] = [Tool(t, "files", "MiB/s", file_mib, lambda t=t: self.file_run("seq", t), what=w) for t, w in (
            ("voxfs", "fresh mount and cache dir, page cache dropped; `dd bs=1M`"),
            ("voxfs-nocache", "the same with `cache.size: 0` (no disk cache, as rclone-off)"),
            ("curl", "`curl -o /dev/null URL`"),
            ("rclone-off", "fresh `rclone mount --vfs-cache-mode off`; `dd bs=1M`"),
            ("rclone-full", "the same with `--vfs-cache-mode full` and a new cache dir"))]
        W["file-rand4k"] = [Tool(t, "files", "reads/s", nreads, lambda t=t: self.file_run("rand4k", t), what=w)
                            for t, w in (("voxfs", f"fresh mount; {nreads} `pread`s of 4 KiB at random offsets"),
                                         ("rclone-off", "the same through `rclone mount --vfs-cache-mode off`"),
                                         ("rclone-full", "the same with `--vfs-cache-mode full`"))]
        W["file-warm"] = [Tool(t, "files", "MiB/s", file_mib, lambda t=t: self.file_run("warm", t), what=w) for t, w in (
            ("voxfs", "`dd` once, remount on the same cache dir, drop the page cache, `dd bs=1M` again (timed)"),
            ("rclone-full", "the same with `--vfs-cache-mode full` and the same `--cache-dir`"))]
        n = a.ls_entries
        W["ls"] = [
            Tool("voxfs", "ls", "entries/s", n, self.ls_voxfs,
                 what="fresh mount + `ls -f` (voxfs lists while mounting)"),
            Tool("raw", "ls", "entries/s", n, self.ls_raw, what="every ListObjectsV2 page with plain GETs"),
            Tool("rclone-lsf", "ls", "entries/s", n, self.ls_rclone_lsf, what="`rclone lsf :s3:BUCKET/PREFIX/`"),
            Tool("rclone-mount", "ls", "entries/s", n, self.ls_rclone_mount,
                 what="fresh `rclone mount :s3:BUCKET/PREFIX` + `ls -f`"),
        ]
        rss = "the daemon's peak RSS (VmHWM) at the end of voxfs' run"
        W["memory"] = [
            Tool("slices-cold-png", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "png"),
                 ("slices-cold", "voxfs-png"), rss),
            Tool("slices-cold-npy", "slices", "Mvoxel/s", em_mvox, lambda: self.voxfs_slices(em(), "npy"),
                 ("slices-cold", "voxfs-npy"), rss),
            Tool("file-seq", "files", "MiB/s", file_mib, lambda: self.file_run("seq", "voxfs"), ("file-seq", "voxfs"),
                 rss),
        ]
        W["limits"] = [
            Tool("jpeg-decode-1core", "slices", "Mvoxel/s", a.decode_passes * em_mvox, self.jpeg_decode,
                 what=f"bench/limits/jpeg_decode on CPU 0: every chunk of the EM volume, {a.decode_passes} pass(es)"),
            Tool("curl", "files", "MiB/s", file_mib, lambda: self.file_run("seq", "curl"), ("file-seq", "curl"),
                 "`curl -o /dev/null` of file-seq's file over loopback"),
        ]
        return {(w, t.name): t for w in self.selected for t in W[w]}

    def region(self) -> tuple:
        """(origin, shape) of the region workload: 512x512x32 (clipped to the volume), half a chunk
        off the chunk grid so that it touches 3x3x3 chunks."""
        shape = tuple(min(r, s) for r, s in zip(REGION, self.args.slices_size))
        origin = tuple(max(0, min(s - r, (s - r) // 2 + c // 2))
                       for s, r, c in zip(self.args.slices_size, shape, SLICES_CHUNK))
        return origin, shape

    def targets(self) -> list:
        """The targets whose workloads run."""
        return [t for t in targets() if t.tool in self.tools and (t.ref is None or t.ref in self.tools)]

    def borrowed(self, key: tuple) -> bool:
        b = self.tools[key].borrow
        return b is not None and b in self.tools

    def series(self, key: tuple) -> Series:
        """The runs that stand for ``key``: its own, or those of the workload it borrows from."""
        if key not in self.tools:
            return Series()
        return self.results[self.tools[key].borrow] if self.borrowed(key) else self.results[key]

    # ---- fixtures

    def pin(self, paths) -> None:
        for p in paths:
            self.stack.enter_context(C.PinnedFile(p))

    def setup(self) -> None:
        groups = [g for g, ws in GROUPS.items() if any(w in self.selected for w in ws)]
        self.srv = self.stack.enter_context(C.ListingNginx(self.work / "www", self.work / "nginx", listed=("/files/",)))
        self.alog = C.AccessLog(self.srv.access_log)
        for g in groups:
            t = time.perf_counter()
            try:
                note = getattr(self, f"setup_{g}")()
            except Exception as e:  # noqa: BLE001 (its tools fail; the others still run)
                self.fixture_errors[g] = f"{g} fixture: {C.one_line(e, self.work)}"
                print(f"# {self.fixture_errors[g]}", file=sys.stderr)
                continue
            self.fixture_notes.append(f"{note} (ready in {time.perf_counter() - t:.1f} s)")
            print(f"# {self.fixture_notes[-1]}", file=sys.stderr)
        if "limits" in self.selected and "slices" not in self.fixture_errors:
            try:
                self.decoder = self.build_decoder()
            except Exception as e:  # noqa: BLE001
                self.fixture_errors["decoder"] = f"jpeg_decode: {C.one_line(e, self.work)}"

    def stamped(self, path: Path, params: dict, make: Callable) -> bool:
        """Runs ``make()`` unless ``path`` holds a fixture made with the same ``params`` (a kept
        --workdir); True if it was reused."""
        stamp, text = path / ".bench-params.json", json.dumps(params, sort_keys=True)
        if stamp.exists() and stamp.read_text() == text:
            return True
        make()
        stamp.write_text(text)
        return False

    def volume(self, name: str, mount: str, size: tuple, chunk: tuple, files: list) -> Volume:
        path = self.work / "www" / name
        info = json.loads((path / "info").read_text())
        vol = Volume(name, f"{self.srv.url}/{name}", mount, info["scales"][0]["key"], size, chunk, files)
        vol.ref_z = size[2] // 2
        vol.ref_slice = C.open_tensorstore(vol.url)[:, :, vol.ref_z, 0].read().result().T
        self.pin(files)
        return vol

    def setup_slices(self) -> str:
        size, q = tuple(self.args.slices_size), 85
        path = self.work / "www" / "em"
        reused = self.stamped(path, {"size": size, "chunk": SLICES_CHUNK, "quality": q},
                              lambda: slices_bench.write_volume(path, size, SLICES_CHUNK, q))
        key = json.loads((path / "info").read_text())["scales"][0]["key"]
        files = sorted(p for p in (path / key).iterdir() if p.is_file())
        self.em = self.volume("em", "/em", size, SLICES_CHUNK, files)
        (x0, y0, z0), (rx, ry, rz) = self.region()
        self.region_ref = C.open_tensorstore(self.em.url)[x0:x0 + rx, y0:y0 + ry, z0:z0 + rz, 0].read().result().T
        mb = sum(p.stat().st_size for p in files) / 1e6
        box = ", ".join(f"{a} {o}-{o + r}" for a, o, r in zip("xyz", (x0, y0, z0), (rx, ry, rz)))
        return (f"EM volume {'x'.join(map(str, size))} uint8 jpeg q{q}, chunks {'x'.join(map(str, SLICES_CHUNK))}: "
                f"{len(files)} chunk files, {mb:.1f} MB{' (reused)' if reused else ''}; region {box}")

    def setup_seg(self) -> str:
        size, block, sharding = tuple(self.args.seg_size), (8, 8, 8), seg_bench.sharding_spec()
        path = self.work / "www" / "seg"
        reused = self.stamped(path, {"size": size, "chunk": SEG_CHUNK, "block": block, "sharding": sharding},
                              lambda: seg_bench.write_volume(path, size, SEG_CHUNK, block, sharding))
        key = json.loads((path / "info").read_text())["scales"][0]["key"]
        files = sorted((path / key).glob("*.shard"))
        self.seg = self.volume("seg", "/seg", size, SEG_CHUNK, files)
        mb = sum(p.stat().st_size for p in files) / 1e6
        return (f"segmentation {'x'.join(map(str, size))} uint64 compressed_segmentation, chunks "
                f"{'x'.join(map(str, SEG_CHUNK))} ({self.seg.chunks}), sharded ({sharding['hash']}, "
                f"{len(files)} shards, gzip): {mb:.1f} MB{' (reused)' if reused else ''}")

    def setup_files(self) -> str:
        a = self.args
        path = self.work / "www" / "files" / files_bench.NAME
        files_bench.write_file(path, a.file_size)
        self.pin([path])
        ns = SimpleNamespace(size=a.file_size, voxfs=self.voxfs, seed=1, rand_reads=a.rand_reads,
                             voxfs_source="listing", cache_size=a.cache_size, memory=a.memory, rclone_opt=[])
        (self.work / "files").mkdir(exist_ok=True)
        self.files = files_bench.Bench(ns, self.work / "files", self.srv)
        self.mountpoints.add(self.files.vox_mp)
        return f"one {a.file_size / MiB:.0f} MiB file under nginx's /files/ (autoindex), pinned in RAM"

    def setup_ls(self) -> str:
        a = self.args
        self.moto = self.stack.enter_context(
            MotoBucket(self.work / "moto", "bench", "dir/", a.ls_entries, a.ls_stock_moto))
        self.moto_log = C.AccessLog(self.moto.log)
        return (f"moto S3 bucket with {a.ls_entries:,} keys under dir/"
                f"{' (stock moto)' if a.ls_stock_moto else ' (moto with the listing memo, bench/ls/moto_bucket.py)'}: "
                f"{self.moto.loaded_line()}")

    def build_decoder(self) -> Path:
        exe = self.work / "jpeg_decode"
        r = subprocess.run(["cc", "-O2", "-o", str(exe), str(BENCH / "limits" / "jpeg_decode.c"), "-lturbojpeg", "-lz"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"cc exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return exe

    @contextlib.contextmanager
    def scratch(self, name: str):
        """A new cache directory for one run, removed afterwards."""
        d = C.fresh_dir(self.work, name)
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # ---- voxfs

    def voxfs_mount(self, mounts: dict, cache: Path, env: dict | None = None) -> P.VoxfsMount:
        cfg = P.write_config(self.work / "bench.yaml", mounts, cache={"dir": str(cache), "size": self.args.cache_size})
        mp = self.work / "mnt-voxfs"
        self.mountpoints.add(mp)
        return P.VoxfsMount(cfg, mp, "--memory", self.args.memory, log_file=self.work / "voxfs.log",
                            binary=self.voxfs, env=env)

    def voxfs_slices(self, vol: Volume, ext: str, disk: bool = False) -> tuple:
        """Every z-slice of ``vol`` as ``ext`` through `cat`, cold (new cache dir) or from the disk cache."""
        with self.scratch("voxfs-cache") as cache:
            return self._voxfs_slices(vol, ext, disk, {vol.mount: "precomputed://" + vol.url}, cache)

    def _voxfs_slices(self, vol: Volume, ext: str, disk: bool, mounts: dict, cache: Path) -> tuple:
        if disk:
            with self.voxfs_mount(mounts, cache) as m:
                C.cat_all(m.mountpoint / vol.mount.strip("/") / vol.key, ext)
        C.drop_page_cache()
        t0 = time.perf_counter()
        with self.voxfs_mount(mounts, cache) as m:
            t_mount = time.perf_counter() - t0
            scale_dir = m.mountpoint / vol.mount.strip("/") / vol.key
            s0 = C.voxfs_stats(m.mountpoint)
            self.alog.mark()
            t0 = time.perf_counter()
            nfiles, nbytes = C.cat_all(scale_dir, ext)
            dt = time.perf_counter() - t0
            s1 = C.voxfs_stats(m.mountpoint)
            rss = C.peak_rss(m.pids[0]) if m.pids else None
            self.check_once(f"{vol.name} {ext}", lambda: C.compare_slice(scale_dir, ext, vol.ref_z, vol.ref_slice))
        if nfiles != vol.size[2]:
            raise RuntimeError(f"{nfiles} z*.{ext} files, want {vol.size[2]}")
        return dt, {"mount_s": t_mount, "rss": rss, "MB": nbytes / 1e6,
                    "requests": s1["network"]["requests"] - s0["network"]["requests"],
                    "fetched_MB": (s1["network"]["bytes_fetched"] - s0["network"]["bytes_fetched"]) / 1e6,
                    "disk_hits": s1["disk"]["counters"]["hits"] - s0["disk"]["counters"]["hits"],
                    "nginx_requests": self.alog.since()["total"], "chunks": vol.chunks}

    def check_once(self, what: str, fn: Callable) -> None:
        """A correctness check, once per run and ``what``, outside the timed part; a mismatch is a failure."""
        if what in self.checked:
            return
        self.checked.add(what)
        bad = fn()
        self.notes.append(f"check {what}: " + (bad or "identical to tensorstore"))
        if bad:
            raise RuntimeError(f"wrong data: {bad}")

    def region_voxfs(self, cutout: bool) -> tuple:
        (x0, y0, z0), (rx, ry, rz) = self.region()
        C.drop_page_cache()
        with self.scratch("voxfs-cache") as cache, \
                self.voxfs_mount({self.em.mount: "precomputed://" + self.em.url}, cache) as m:
            scale = m.mountpoint / "em" / self.em.key
            t0 = time.perf_counter()
            if cutout:
                got = np.load(scale / "cutout" / f"{x0}-{x0 + rx}_{y0}-{y0 + ry}_{z0}-{z0 + rz}.npy")
            else:
                a = np.load(scale / "volume.npy", mmap_mode="r")
                got = np.array(a[z0:z0 + rz, y0:y0 + ry, x0:x0 + rx])
                del a
            dt = time.perf_counter() - t0
            s = C.voxfs_stats(m.mountpoint)["network"]
        self.region_check(got)
        return dt, {"requests": s["requests"], "fetched_MB": s["bytes_fetched"] / 1e6}

    def region_peer(self, which: str) -> tuple:
        (x0, y0, z0), (rx, ry, rz) = self.region()
        if which == "cloudvolume":
            vol = slices_bench.open_cloudvolume(self.em.url)
            t0 = time.perf_counter()
            got = np.asarray(vol[x0:x0 + rx, y0:y0 + ry, z0:z0 + rz])[..., 0].T
        else:
            store = C.open_tensorstore(self.em.url)
            t0 = time.perf_counter()
            got = store[x0:x0 + rx, y0:y0 + ry, z0:z0 + rz, 0].read().result().T
        dt = time.perf_counter() - t0
        self.region_check(got)
        return dt, {}

    def region_check(self, got: np.ndarray) -> None:
        ref = self.region_ref
        if got.shape != ref.shape or got.dtype != ref.dtype:
            raise RuntimeError(f"wrong data: region {got.shape} {got.dtype}, want {ref.shape} {ref.dtype}")
        bad = int(np.count_nonzero(got != ref))
        if bad:
            raise RuntimeError(f"wrong data: {bad} voxels of the region differ from tensorstore's")

    # ---- peers

    def cloudvolume(self, per_slice: bool) -> tuple:
        vol = slices_bench.open_cloudvolume(self.em.url)  # info fetched here, untimed (as the mount is)
        self.alog.mark()
        t0 = time.perf_counter()
        n = slices_bench.read_cloudvolume_slices(vol) if per_slice else np.asarray(vol[vol.bounds.to_slices()]).size
        dt = time.perf_counter() - t0
        return dt, self.peer_extra(self.em, n)

    def tensorstore(self, vol: Volume, per_slice: bool) -> tuple:
        store = C.open_tensorstore(vol.url)
        self.alog.mark()
        t0 = time.perf_counter()
        n = C.read_tensorstore_slices(store) if per_slice else store.read().result().size
        dt = time.perf_counter() - t0
        return dt, self.peer_extra(vol, n)

    def peer_extra(self, vol: Volume, n: int) -> dict:
        if n != vol.voxels:
            raise RuntimeError(f"read {n} voxels, want {vol.voxels}")
        return {"nginx_requests": self.alog.since()["total"], "chunks": vol.chunks}

    # ---- files

    def file_run(self, kind: str, tool: str) -> tuple:
        """bench/files' cold runs (they drop the page cache themselves)."""
        self.alog.mark()
        dt, rss = {"seq": self.files.seq, "rand4k": self.files.rand4k, "warm": self.files.warm}[kind](tool)
        for d in self.files.work.glob("*-cache-*"):
            shutil.rmtree(d, ignore_errors=True)
        return dt, {"rss": rss, "served_MiB": self.alog.since()["bytes"] / MiB}

    # ---- ls

    # The ls tools leave the page cache alone: no listing lives there, and a drop would only make
    # voxfs and rclone load their binaries from disk during the timed mount.

    def ls_voxfs(self) -> tuple:
        with self.scratch("voxfs-cache") as cache:
            mount = self.voxfs_mount({"/ls": f"s3://{self.moto.bucket}/{self.moto.prefix}"}, cache,
                                     env={"AWS_ENDPOINT_URL_S3": self.moto.url})
            self.moto_log.mark()
            t0 = time.perf_counter()
            with mount as m:
                t_mount = time.perf_counter() - t0
                n = count_ls(m.mountpoint / "ls", 600)
                dt = time.perf_counter() - t0
        return dt, self.ls_extra(n, mount_s=t_mount)

    def ls_raw(self) -> tuple:
        self.moto_log.mark()
        t0 = time.perf_counter()
        n, _ = moto_bucket.list_all(self.moto.url, self.moto.bucket, self.moto.prefix)
        return time.perf_counter() - t0, self.ls_extra(n)

    def rclone_s3(self) -> list:
        """rclone's S3 backend flags for moto (anonymous: no keys); checks that rclone is there."""
        if not shutil.which("rclone"):
            raise RuntimeError("rclone not found (apt-get install -y rclone)")
        self.rclone_conf.touch()  # an empty config: no ~/.config/rclone
        return [*RCLONE_S3, "--s3-endpoint", self.moto.url]

    @property
    def rclone_conf(self) -> Path:
        return self.work / "rclone.conf"

    def ls_rclone_lsf(self) -> tuple:
        argv = ["rclone", "--config", str(self.rclone_conf), "lsf", f":s3:{self.moto.bucket}/{self.moto.prefix}",
                *self.rclone_s3()]
        self.moto_log.mark()
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=900, env=rclone_env())
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"rclone lsf exited {r.returncode}: {r.stderr.decode(errors='replace').strip()[-300:]}")
        return dt, self.ls_extra(r.stdout.count(b"\n"))

    def ls_rclone_mount(self) -> tuple:
        with self.scratch("rclone-cache") as cache:
            mount = C.RcloneMount(f":s3:{self.moto.bucket}/{self.moto.prefix.rstrip('/')}", self.work / "mnt-rclone",
                                  "off", cache, self.rclone_conf, self.work / "rclone.log", *self.rclone_s3(),
                                  env=rclone_env())
            self.moto_log.mark()
            t0 = time.perf_counter()
            with mount as m:
                t_mount = time.perf_counter() - t0
                n = count_ls(m.mountpoint, 900)
                dt = time.perf_counter() - t0
        return dt, self.ls_extra(n, mount_s=t_mount)

    def ls_extra(self, n: int, **extra) -> dict:
        if n != self.args.ls_entries:
            raise RuntimeError(f"listed {n} entries, want {self.args.ls_entries}")
        return {**extra, "list_requests": self.moto_log.since()["total"]}

    # ---- limits

    def jpeg_decode(self) -> tuple:
        if self.decoder is None:
            raise RuntimeError(self.fixture_errors.get("decoder", "jpeg_decode was not built"))
        argv = ["taskset", "-c", "0", str(self.decoder), str(self.args.decode_passes), *map(str, self.em.files)]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"jpeg_decode exited {r.returncode}: {r.stderr.strip()[-300:]}")
        out = dict(kv.split("=") for kv in r.stdout.split())
        if int(out["voxels"]) != self.em.voxels:
            raise RuntimeError(f"jpeg_decode decoded {out['voxels']} voxels a pass, want {self.em.voxels}")
        return float(out["seconds"]), {}

    # ---- the loop

    def run(self) -> None:
        reps = self.args.reps
        for rep in range(reps):
            for w in self.selected:
                tools = [t for (w2, _), t in self.tools.items() if w2 == w and not self.borrowed((w2, t.name))]
                k = rep % len(tools) if tools else 0
                for tool in tools[k:] + tools[:k]:
                    self.measure(rep, w, tool)

    def measure(self, rep: int, w: str, tool: Tool) -> None:
        series = self.results[(w, tool.name)]
        head = f"[{rep + 1}/{self.args.reps}] {w:11s} {tool.name:18s}"
        t_wall = time.perf_counter()
        try:
            if tool.group in self.fixture_errors:
                raise RuntimeError(self.fixture_errors[tool.group])
            if self.srv.proc is None or self.srv.proc.poll() is not None:
                raise RuntimeError("nginx is not running")
            dt, extra = tool.fn()
        except Exception as e:  # noqa: BLE001 (a failing tool is reported; the others still run)
            msg = C.one_line(e, self.work)
            series.failures.append((rep, msg))
            print(f"{head} failed: {msg}", file=sys.stderr)
        else:
            run = Run(rep, dt, tool.amount / dt, {k: v for k, v in extra.items() if v is not None})
            series.runs.append(run)
            print(f"{head} {dt:8.3f} s {fmt(run.value, tool.unit):>18s}  {describe(run.extra)}", file=sys.stderr)
        finally:
            series.wall += time.perf_counter() - t_wall

    def close(self) -> None:
        C.RcloneMount.close_all()
        for mp in self.mountpoints:
            C.close_leftover_voxfs(mp, self.voxfs)
        self.stack.close()


# ---------------------------------------------------------------- report

def fmt(x, unit: str = "") -> str:
    if x is None:
        return "n/a"
    s = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return f"{s} {unit}".strip()


def describe(extra: dict) -> str:
    """The notable extras of one run, or the medians (peak RSS: the largest) of several."""
    parts = []
    if "mount_s" in extra:
        parts.append(f"mount {extra['mount_s']:.2f} s")
    if "rss" in extra:
        parts.append(f"peak RSS {extra['rss'] / MiB:.0f} MiB")
    if "requests" in extra:
        per = f" ({extra['requests'] / extra['chunks']:.2f}/chunk)" if "chunks" in extra else ""
        parts.append(f"{extra['requests']:.0f} GETs by voxfs{per}")
    if extra.get("fetched_MB"):
        parts.append(f"{extra['fetched_MB']:.1f} MB fetched")
    if extra.get("disk_hits"):
        parts.append(f"{extra['disk_hits']:.0f} disk-cache hits")
    if "nginx_requests" in extra and "chunks" in extra and "requests" not in extra:
        parts.append(f"nginx {extra['nginx_requests']:.0f} requests ({extra['nginx_requests'] / extra['chunks']:.2f}"
                     f"/chunk of the volume)")
    if "served_MiB" in extra:
        parts.append(f"nginx sent {extra['served_MiB']:.0f} MiB")
    if "list_requests" in extra:
        parts.append(f"{extra['list_requests']:.0f} listing requests")
    return "; ".join(parts)


def summary(runs: list) -> dict:
    keys = {k for r in runs for k in r.extra}
    return {k: (max if k == "rss" else statistics.median)([r.extra[k] for r in runs if k in r.extra]) for k in keys}


def ratios(suite: Suite, t: Target) -> list:
    """One ratio per repetition in which both sides ran (the targets are medians of these)."""
    if t.kind == "memory":
        return []
    a, b = suite.series(t.tool), suite.series(t.ref)
    by_rep = {r.rep: r for r in b.runs}
    pairs = [(r, by_rep[r.rep]) for r in a.runs if r.rep in by_rep]
    if t.kind == "time":
        return [x.seconds / y.seconds for x, y in pairs]
    if t.kind == "ceiling":
        return [x.value / (y.value * NPROC) for x, y in pairs]
    return [x.value / y.value for x, y in pairs]


def target_row(suite: Suite, t: Target) -> dict:
    bound = C.parse_size(suite.args.memory)
    if t.kind == "memory":
        peaks = [r.extra["rss"] for r in suite.series(t.tool).runs if "rss" in r.extra]
        peak = max(peaks) if peaks else None
        return {"target": t.label, "voxfs": "n/a" if peak is None else f"peak {peak / MiB:.0f} MiB",
                "reference": f"bound {bound / MiB:.0f} MiB", "value": peak, "goal": f"<= {bound / MiB:.0f} MiB",
                "met": None if peak is None else peak <= bound}
    rs = ratios(suite, t)
    med = statistics.median(rs) if rs else None
    unit = suite.tools[t.tool].unit if t.tool in suite.tools else ""
    ref_med = suite.series(t.ref).median()
    if t.kind == "ceiling" and ref_med is not None:
        ref_med *= NPROC
    goal = (f"<= {t.goal:g}x" if t.kind == "time" else f">= {t.goal:.0%}" if t.kind == "ceiling" else f">= {t.goal:g}x")
    met = None if med is None else med <= t.goal if t.kind == "time" else med >= t.goal
    shown = "n/a" if med is None else f"{med:.0%}" if t.kind == "ceiling" else f"{med:.2f}x"
    if rs and len(rs) > 1:
        shown += f" ({min(rs):.2f}-{max(rs):.2f})" if t.kind != "ceiling" else f" ({min(rs):.0%}-{max(rs):.0%})"
    return {"target": t.label, "voxfs": fmt(suite.series(t.tool).median(), unit),
            "reference": fmt(ref_med, unit), "value": med, "ratios": rs, "shown": shown, "goal": goal, "met": met}


def report(suite: Suite, header: list) -> str:
    out = header + ["", "## Targets", "",
                    "Ratio: the median over the repetitions of each repetition's voxfs / peer (range in brackets); "
                    "the voxfs and peer columns are medians of throughput. The per-slice peers (`*-slices`) are the "
                    "primary comparison for slice workloads, which read slice by slice; the whole-volume reads "
                    "(`*-whole`) are shown too.", "",
                    "| target | voxfs | peer | ratio | goal | met |", "|---|---:|---:|---:|---:|---|"]
    rows = [target_row(suite, t) for t in suite.targets()]
    for r in rows:
        met = "n/a" if r["met"] is None else "yes" if r["met"] else "**NO**"
        out.append(f"| {r['target']} | {r['voxfs']} | {r['reference']} | {r.get('shown', '')} | {r['goal']} | {met} |")
    for w in suite.selected:
        keys = [k for k in suite.tools if k[0] == w]
        out += ["", f"## {w}", "", "| tool | median | median s | runs (s) | what | notes |",
                "|---|---:|---:|---|---|---|"]
        for k in keys:
            tool, s = suite.tools[k], suite.series(k)
            runs = ", ".join(f"{r.seconds:.3f}" for r in s.runs)
            if s.failures:
                runs += f" ({len(s.failures)} failed: {s.failures[0][1]})"
            what = tool.what + (f" (the runs of {tool.borrow[0]})" if suite.borrowed(k) else "")
            median = fmt(s.median(), tool.unit) if s.runs else "failed" if s.failures else "not run"
            out.append(f"| {tool.name} | {median} | {fmt(s.median('seconds'))} | {runs} | {what} | "
                       f"{describe(summary(s.runs))} |")
        pairs = [(v, p) for v in keys for p in keys if v[1].startswith("voxfs") and not p[1].startswith("voxfs")
                 and suite.tools[v].unit == suite.tools[p].unit]
        if pairs:
            out += ["", "| voxfs / peer (throughput) | median of per-repetition ratios |", "|---|---:|"]
            for v, p in pairs:
                rs = ratios(suite, Target("", v, p, 0))
                out.append(f"| {v[1]} / {p[1]} | {f'{statistics.median(rs):.2f}x' if rs else 'n/a'} |")
    out += ["", "## Fixtures and notes", ""] + [f"- {n}" for n in suite.fixture_notes + suite.notes]
    failed = dict.fromkeys(f"{w} {t}: failed: {s.failures[0][1]}" for (w, t), s in suite.results.items()
                           if s.failures and not s.runs)
    out += [f"- {f}" for f in failed]
    walls = {}
    for (w, _), s in suite.results.items():
        walls[w] = walls.get(w, 0.0) + s.wall
    out += ["", "Time per workload (all repetitions; mounts, cache fills and checks included): "
            + ", ".join(f"{w} {v:.0f} s" for w, v in walls.items()) + "."]
    return "\n".join(out) + "\n"


def machine_header(args, voxfs: Path, load0: float, t_start: float) -> list:
    def cmd(*argv) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    commit = cmd("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes" if cmd("git", "status", "--porcelain", "--untracked-files=no") else ""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.machine())
    versions = []
    for dist in ("tensorstore", "cloud-volume", "moto"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"no {dist}")
    rclone = cmd("rclone", "version").split("\n")[0]
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(voxfs.stat().st_mtime)) if voxfs.exists() else "?"
    shown = voxfs.relative_to(REPO) if voxfs.is_relative_to(REPO) else voxfs
    return [
        "# voxfs benchmarks",
        "",
        f"- Written by `bench/run{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M %Z')}: "
        f"commit {commit}{dirty}; voxfs `{shown}` built {built}, `--memory {args.memory}`.",
        f"- Machine: {NPROC} CPUs ({cpu}), kernel {platform.release()}, {platform.machine()}; 1-minute load "
        f"average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"whole run {(time.time() - t_start) / 60:.1f} min.",
        f"- {args.reps} repetition{'s' if args.reps > 1 else ''}; within each, each workload's tools run one "
        f"after another in an order rotated by one every repetition.",
        f"- Peers: {', '.join(versions)}, {rclone or 'no rclone'}.",
    ]


# ---------------------------------------------------------------- main

def name_list(s: str) -> list:
    return [w for w in s.split(",") if w]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="bench/run", description="voxfs against tensorstore, CloudVolume, curl "
                                 "and rclone: every workload of issue 9 in one alternating run. As root. "
                                 "See bench/README.md.")
    ap.add_argument("--reps", type=int, help="repetitions (default 5; --quick 2)")
    ap.add_argument("--only", type=name_list, default=list(WORKLOADS),
                    help="comma list of workloads (default all): " + ",".join(WORKLOADS))
    ap.add_argument("--quick", action="store_true",
                    help="smoke test of the harness: small fixtures, 2 repetitions, no results file")
    ap.add_argument("--voxfs", type=Path, help="use this voxfs binary (no build)")
    ap.add_argument("--no-build", action="store_true", help="use .build/release/voxfs as it is")
    ap.add_argument("--python", help="Python to run under (default .venv/bin/python, else this one; "
                                     "or $VOXFS_BENCH_PYTHON)")
    ap.add_argument("--memory", default="512MiB", help="voxfs --memory, the bound the memory workload checks")
    ap.add_argument("--cache-size", default="4GiB", help="voxfs cache.size")
    ap.add_argument("--slices-size", type=C.triple, help="EM volume X,Y,Z (default 2048,2048,64)")
    ap.add_argument("--seg-size", type=C.triple, help="segmentation X,Y,Z (default 1024,1024,64)")
    ap.add_argument("--file-size", type=C.parse_size, help="file-seq/file-rand4k file (default 1GiB)")
    ap.add_argument("--rand-reads", type=int, help="4 KiB reads per file-rand4k run (default 2000)")
    ap.add_argument("--ls-entries", type=int, help="keys in the listed S3 directory (default 100000)")
    ap.add_argument("--ls-stock-moto", action="store_true",
                    help="serve the listing with stock moto (no listing memo; ~50 s a listing at 100,000 keys)")
    ap.add_argument("--decode-passes", type=int, help="passes over the chunks in limits' decode (default 2)")
    ap.add_argument("--workdir", type=Path, help="keep fixtures, logs and caches here (reused by the next run)")
    ap.add_argument("--results", type=Path, help="markdown output (default bench/results.md; none with --quick)")
    ap.add_argument("--json", type=Path, help="also write every run here")
    args = ap.parse_args(argv)
    for k, (full, quick) in DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, quick if args.quick else full)
    if args.results is None and not args.quick:
        args.results = BENCH / "results.md"
    unknown = [w for w in args.only if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)} (want {', '.join(WORKLOADS)})")
    args.only = [w for w in WORKLOADS if w in args.only]
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    return args


def voxfs_binary(args, work: Path) -> tuple:
    """The binary to benchmark, built unless told otherwise, copied into the work dir so that a rebuild
    during the run cannot mix two builds; (the copy, the original)."""
    if args.voxfs:
        src = args.voxfs
    elif os.environ.get("VOXFS_BIN"):
        src = Path(os.environ["VOXFS_BIN"])
        print(f"# using $VOXFS_BIN={src} (no build)", file=sys.stderr)
    else:
        src = REPO / ".build" / "release" / "voxfs"
        if not args.no_build:
            print("# swift build -c release --product voxfs", file=sys.stderr)
            r = subprocess.run(["swift", "build", "-c", "release", "--product", "voxfs"], cwd=REPO,
                               stdout=sys.stderr)
            if r.returncode != 0:
                raise SystemExit(f"bench/run: swift build failed (exit {r.returncode})")
    if not src.exists():
        raise SystemExit(f"bench/run: voxfs binary not found: {src} (build it, or pass --voxfs PATH)")
    return Path(shutil.copy2(src, work / "voxfs")), src


def preflight() -> None:
    """The tools every workload needs (bench/run has checked for root)."""
    missing = [t for t in ("nginx", "curl", "dd", "cat", "ls", "taskset") if not shutil.which(t)]
    missing += [] if Path("/dev/fuse").exists() else ["/dev/fuse"]
    if missing:
        raise SystemExit(f"bench/run: missing {', '.join(missing)} (.ci/setup installs nginx and FUSE)")


def main(argv=None) -> int:
    args = parse_args(argv)
    preflight()
    C.raise_on_termination()
    t_start = time.time()
    load0 = os.getloadavg()[0]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="voxfs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    suite = None
    try:
        voxfs, voxfs_src = voxfs_binary(args, work)
        # import the peers now, so that their import time is not timed
        import cloudvolume  # noqa: F401
        import tensorstore  # noqa: F401
        print(f"# work dir {work}; voxfs {voxfs}; workloads {','.join(args.only)}; {args.reps} repetitions",
              file=sys.stderr)
        suite = Suite(args, work, voxfs)
        suite.setup()
        suite.run()
        text = report(suite, machine_header(args, voxfs_src, load0, t_start))
        print()
        print(text, end="")
        if args.results:
            args.results.write_text(text)
            print(f"# written to {args.results}", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps({
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "targets": [target_row(suite, t) for t in suite.targets()],
                "results": {f"{w} {t}": {"runs": [asdict(r) for r in s.runs], "failures": s.failures, "wall_s": s.wall}
                            for (w, t), s in suite.results.items()},
                "fixtures": suite.fixture_notes, "notes": suite.notes}, indent=1))
    except KeyboardInterrupt as e:
        print(f"bench/run: interrupted ({str(e) or 'Ctrl-C'}); cleaning up", file=sys.stderr)
        return 130
    finally:
        if suite is not None:
            suite.close()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0
