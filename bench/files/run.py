#!/usr/bin/env python3
"""Remote-file benchmark (issue 4): voxfs vs curl vs rclone mount, one big file over HTTP.

Writes one file (default 1 GiB; random bytes, each 4 KiB page starting with its
own offset as a little-endian uint64, so any read can be checked), serves it
with one nginx on 127.0.0.1 (``autoindex on`` for /files/, so voxfs' listing
form and rclone's :http: remote can list it), keeps it resident in RAM (mlock)
so dropping the page cache empties only the client side, and then, --reps
times, with the tools in a rotating order within each repetition:

  file-seq     cold `dd if=FILE of=/dev/null bs=1M`: voxfs (new cache dir, fresh
               mount), voxfs-nocache (the same with cache size 0: no disk
               cache), `curl -s -o /dev/null URL` (the ceiling), rclone mount
               --vfs-cache-mode off and full (fresh mount, new cache dir); page
               cache dropped before each.
               Also the daemons' peak RSS (VmHWM).
  file-rand4k  cold: N distinct random 4 KiB-aligned os.pread()s (fixed seed),
               reads/s: voxfs, rclone off, rclone full (information).
  file-warm    read the file fully once, unmount, remount on the SAME cache dir,
               drop the page cache, dd again: voxfs vs rclone --vfs-cache-mode full.

Prints per-run lines on stderr and, on stdout, markdown tables (medians,
voxfs/peer ratios against the issue's targets), also written to --results
(default bench/files/results.md). A tool that fails (e.g. a voxfs that cannot
mount file trees yet) is reported as "failed: <message>"; the others still run.

Run as root (drop_caches, mlock, FUSE), with nginx, curl and rclone installed:
  python3 bench/files/run.py                          # 1 GiB, 5 reps
  python3 bench/files/run.py --size 256MiB --reps 2   # a quick try
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from common import (AccessLog, ListingNginx, P, PinnedFile, RcloneMount, close_leftover_voxfs,  # noqa: E402
                    default_voxfs, drop_page_cache, fresh_dir, one_line, parse_size, peak_rss,
                    raise_on_termination)

WORKLOADS = {  # workload -> tools, in the order of the first repetition
    "file-seq": ("voxfs", "voxfs-nocache", "curl", "rclone-off", "rclone-full"),
    "file-rand4k": ("voxfs", "rclone-off", "rclone-full"),
    "file-warm": ("voxfs", "rclone-full"),
}
UNITS = {"file-seq": "MiB/s", "file-rand4k": "reads/s", "file-warm": "MiB/s"}
LABELS = {"file-seq": "file-seq cold", "file-rand4k": "file-rand4k cold", "file-warm": "file-warm"}
TARGETS = (  # workload, peer, voxfs/peer goal (None: for information)
    ("file-seq", "curl", 0.8),
    ("file-seq", "rclone-off", 2.0),
    ("file-seq", "rclone-full", None),
    ("file-rand4k", "rclone-off", 1.5),
    ("file-rand4k", "rclone-full", None),
    ("file-warm", "rclone-full", 2.0),
)
NAME = "big.bin"
PAGE = 4096
MiB = 1 << 20


@dataclass
class Runs:
    values: list = field(default_factory=list)   # MiB/s or reads/s, one per successful run
    rss: list = field(default_factory=list)      # daemon peak RSS, bytes
    served: list = field(default_factory=list)   # bytes nginx sent during the run (up to unmount)
    failures: list = field(default_factory=list)

    def median(self, xs=None):
        xs = self.values if xs is None else xs
        return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- the file

def write_file(path: Path, size: int, seed: int = 4) -> None:
    """Random bytes, 16 MiB of them repeated, with every 4 KiB page starting with its offset (uint64 LE)."""
    if path.exists() and path.stat().st_size == size:
        return  # a kept --workdir: written by an earlier run
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 16 * MiB
    base = np.frombuffer(np.random.default_rng(seed).bytes(block), dtype="<u8").copy()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for off in range(0, size, block):
            n = min(block, size - off)
            base[:: PAGE // 8] = np.arange(off, off + block, PAGE, dtype="<u8")
            f.write(base.view(np.uint8)[:n].tobytes())
    tmp.rename(path)


# ---------------------------------------------------------------- readers

def timed(argv: list, timeout: float) -> tuple:
    """(seconds, CompletedProcess) of a command that must exit 0."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
    return dt, r


def dd(path: Path, size: int, timeout: float) -> float:
    """Seconds for `dd if=path of=/dev/null bs=1M`; checks that it copied ``size`` bytes."""
    dt, r = timed(["dd", f"if={path}", "of=/dev/null", "bs=1M"], timeout)
    copied = int(r.stderr.strip().splitlines()[-1].split()[0])
    if copied != size:
        raise RuntimeError(f"dd copied {copied} bytes, want {size}")
    return dt


def curl(url: str, size: int, timeout: float) -> float:
    dt, r = timed(["curl", "-s", "-S", "-f", "-o", "/dev/null", "-w", "%{size_download}", url], timeout)
    if int(float(r.stdout)) != size:
        raise RuntimeError(f"curl got {r.stdout} bytes, want {size}")
    return dt


def _child_signals() -> None:
    """Pool workers: the pool's terminate() (SIGTERM) just ends them; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _rand_reads(path: str, offsets: list) -> tuple:
    fd = os.open(path, os.O_RDONLY)
    try:
        bad = 0
        t0 = time.perf_counter()
        for off in offsets:
            b = os.pread(fd, PAGE, off)
            if len(b) != PAGE or int.from_bytes(b[:8], "little") != off:
                bad += 1
        return time.perf_counter() - t0, bad
    finally:
        os.close(fd)


def rand_reads(path: Path, offsets: list, timeout: float) -> float:
    """Seconds for one os.pread of 4 KiB at each offset, checking each page's offset stamp. In a
    forked child, so a read that hangs in FUSE is killed after ``timeout`` instead of hanging here."""
    with multiprocessing.get_context("fork").Pool(1, initializer=_child_signals) as pool:
        try:
            dt, bad = pool.apply_async(_rand_reads, (str(path), offsets)).get(timeout)
        except multiprocessing.TimeoutError:
            raise RuntimeError(f"random reads did not finish within {timeout:.0f}s") from None
    if bad:
        raise RuntimeError(f"{bad} of {len(offsets)} random reads returned wrong data")
    return dt


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args, work: Path, srv: ListingNginx):
        self.args = args
        self.work = work
        self.size = args.size
        self.srv = srv
        self.alog = AccessLog(srv.access_log)
        self.dir_url = f"{srv.url}/files/"
        self.file_url = self.dir_url + NAME
        self.vox_mp = work / "mnt-voxfs"
        self.rc_mp = work / "mnt-rclone"
        self.results = {(w, t): Runs() for w, tools in WORKLOADS.items() for t in tools}
        self.notes: list[str] = []
        self.voxfs_error = None if args.voxfs.exists() else \
            f"binary not found: {args.voxfs} (swift build -c release, or --voxfs)"
        self.rclone_error = None if shutil.which("rclone") else "rclone not found (apt-get install -y rclone)"
        self.dropped = True
        self.timeout = max(120.0, self.size / (2 * MiB))  # 2 MiB/s at the least
        rng = random.Random(args.seed)
        pages = self.size // PAGE
        self.offsets = [p * PAGE for p in rng.sample(range(pages), min(args.rand_reads, pages))]

    # ---- mounts

    def fresh_dir(self, name: str) -> Path:
        return fresh_dir(self.work, name)

    def voxfs(self, cache: Path, size: str | None = None):
        """A voxfs mount of the listing (or the one file) with disk cache ``cache`` of ``size``
        (default --cache-size; "0": no disk cache); the path of the file in it."""
        if self.voxfs_error:
            raise RuntimeError(self.voxfs_error)
        mounts = {"/files": self.dir_url} if self.args.voxfs_source == "listing" else {"/" + NAME: self.file_url}
        cfg = P.write_config(self.work / "files.yaml", mounts, cache={"dir": str(cache), "size": size or self.args.cache_size})
        extra = ["--memory", self.args.memory] if self.args.memory else []
        m = P.VoxfsMount(cfg, self.vox_mp, *extra, log_file=self.work / "voxfs.log", binary=self.args.voxfs,
                         timeout=self.timeout)
        rel = f"files/{NAME}" if self.args.voxfs_source == "listing" else NAME
        return m, self.vox_mp / rel

    def rclone(self, mode: str, cache: Path) -> tuple:
        if self.rclone_error:
            raise RuntimeError(self.rclone_error)
        m = RcloneMount.http(self.dir_url, self.rc_mp, mode, cache, self.work / "rclone.conf",
                             self.work / "rclone.log", *self.args.rclone_opt)
        return m, self.rc_mp / NAME

    def mount(self, tool: str) -> tuple:
        """A cold mount for ``tool`` (voxfs, rclone-off, rclone-full, ...) on a new cache dir; (mount, file path)."""
        if tool == "voxfs":
            return self.voxfs(self.fresh_dir("voxfs-cache"))
        if tool == "voxfs-nocache":
            return self.voxfs(self.fresh_dir("voxfs-cache"), size="0")
        return self.rclone(tool.split("-", 1)[1], self.fresh_dir("rclone-cache"))

    def cold(self) -> None:
        self.dropped = drop_page_cache() and self.dropped

    # ---- one measurement

    def measure(self, rep: int, workload: str, tool: str, fn) -> None:
        """``fn()`` -> (seconds, daemon peak RSS or None); records the rate, or the failure."""
        runs = self.results[(workload, tool)]
        self.alog.mark()
        try:
            dt, rss = fn()
        except Exception as e:  # noqa: BLE001 (a tool that fails is reported, the others still run)
            msg = one_line(e, self.work)
            runs.failures.append(msg)
            print(f"[{rep + 1}/{self.args.reps}] {workload:11s} {tool:11s} failed: {msg}", file=sys.stderr)
            if len(runs.failures) == 1 and "\n" in str(e):
                print(str(e), file=sys.stderr)
            return
        served = self.alog.since()["bytes"]
        amount = len(self.offsets) if workload == "file-rand4k" else self.size / MiB
        runs.values.append(amount / dt)
        runs.served.append(served)
        if rss:
            runs.rss.append(rss)
        print(f"[{rep + 1}/{self.args.reps}] {workload:11s} {tool:11s} {dt:8.3f}s  {amount / dt:9.1f} "
              f"{UNITS[workload]}  (nginx sent {served / MiB:.1f} MiB"
              f"{f'; peak RSS {rss / MiB:.0f} MiB' if rss else ''})", file=sys.stderr)

    # ---- workloads: each returns (seconds, peak RSS)

    def seq(self, tool: str) -> tuple:
        if tool == "curl":
            self.cold()
            return curl(self.file_url, self.size, self.timeout), None
        m, path = self.mount(tool)
        self.cold()
        with m:
            dt = dd(path, self.size, self.timeout)
            pid = (m.pids[0] if m.pids else None) if tool.startswith("voxfs") else m.pid
            rss = peak_rss(pid) if pid else None
        if rss is None:
            note = f"{tool}: daemon process not found, so its peak RSS is not measured"
            self.notes += [note] if note not in self.notes else []
        return dt, rss

    def rand4k(self, tool: str) -> tuple:
        m, path = self.mount(tool)
        self.cold()
        with m:
            return rand_reads(path, self.offsets, self.timeout), None

    def warm(self, tool: str) -> tuple:
        cache = self.fresh_dir("voxfs-cache" if tool == "voxfs" else "rclone-cache")
        mount = (lambda: self.voxfs(cache)) if tool == "voxfs" else (lambda: self.rclone("full", cache))
        m, path = mount()
        with m:
            t_first = dd(path, self.size, self.timeout)
        m, path = mount()
        with m:
            self.cold()
            self.alog.mark()  # count only the warm pass's bytes, not the first read's
            dt = dd(path, self.size, self.timeout)
        print(f"    ({tool} first read before the warm pass: {self.size / MiB / t_first:.1f} MiB/s)", file=sys.stderr)
        return dt, None

    def run(self) -> None:
        fns = {"file-seq": self.seq, "file-rand4k": self.rand4k, "file-warm": self.warm}
        for rep in range(self.args.reps):
            for workload in self.args.only:
                tools = WORKLOADS[workload]
                k = rep % len(tools)
                for tool in tools[k:] + tools[:k]:
                    if self.srv.proc is None or self.srv.proc.poll() is not None:
                        self.notes.append(f"nginx exited during repetition {rep + 1}: the run stopped there")
                        print(f"# {self.notes[-1]}", file=sys.stderr)
                        return
                    self.measure(rep, workload, tool, lambda: fns[workload](tool))
                    for d in self.work.glob("*-cache-*"):  # free the disk between runs
                        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- report

def fmt(x: float | None, unit: str) -> str:
    return "" if x is None else f"{x:,.0f} {unit}" if x >= 100 else f"{x:.1f} {unit}"


def report(b: Bench, header: str) -> str:
    out = [header, "", "| workload | tool | median | runs | daemon peak RSS | nginx sent (median) |",
           "|---|---|---:|---|---:|---:|"]
    for (w, t), r in b.results.items():
        if w not in b.args.only:
            continue
        u = UNITS[w]
        if r.values:
            runs = ", ".join(f"{v:.0f}" for v in r.values)
            if r.failures:
                runs += f" ({len(r.failures)} failed: {r.failures[0]})"
            rss = f"{r.median(r.rss) / MiB:.0f} MiB" if r.rss else ""
            out.append(f"| {LABELS[w]} | {t} | {fmt(r.median(), u)} | {runs} | {rss} | "
                       f"{r.median(r.served) / MiB:.1f} MiB |")
        else:
            out.append(f"| {LABELS[w]} | {t} | {'failed (below)' if r.failures else 'not run'} | | | |")
    out += ["", "| target | voxfs | peer | voxfs / peer | goal | met |", "|---|---:|---:|---:|---:|---|"]
    for w, peer, goal in TARGETS:
        if w not in b.args.only:
            continue
        v, p = b.results[(w, "voxfs")].median(), b.results[(w, peer)].median()
        ratio = v / p if v and p else None
        out.append(f"| {LABELS[w]}: voxfs / {peer} | {fmt(v, UNITS[w]) or 'failed'} | {fmt(p, UNITS[w]) or 'failed'} | "
                   f"{f'{ratio:.2f}x' if ratio else 'n/a'} | {f'>= {goal}x' if goal else '(info)'} | "
                   f"{'n/a' if ratio is None or goal is None else 'yes' if ratio >= goal else 'NO'} |")
    failed = dict.fromkeys((t, r.failures[0]) for (w, t), r in b.results.items()
                           if w in b.args.only and r.failures and not r.values)
    out += [f"\n{t}: failed: {msg}" for t, msg in failed]
    out += [f"\n{n}" for n in b.notes]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--size", type=parse_size, default=1 << 30, help="file size (default 1GiB; e.g. 256MiB)")
    ap.add_argument("--voxfs", type=Path, default=default_voxfs(),
                    help="binary (default $VOXFS_BIN, else .build/release/voxfs, else .build/debug/voxfs)")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma list of " + ",".join(WORKLOADS))
    ap.add_argument("--voxfs-source", choices=("listing", "file"), default="listing",
                    help="mount the nginx listing /files/ (default) or the one file's URL")
    ap.add_argument("--rand-reads", type=int, default=2000, help="4 KiB reads in file-rand4k (default 2000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random offsets")
    ap.add_argument("--memory", help="voxfs mount --memory (default: voxfs' default)")
    ap.add_argument("--cache-size", default="4GiB", help="voxfs cache.size (default 4GiB)")
    ap.add_argument("--rclone-opt", action="append", default=[], metavar="OPT",
                    help="extra rclone mount argument, repeatable (e.g. --rclone-opt=--buffer-size=64M)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not mlock the served file: drop_caches then also makes nginx read it from disk")
    ap.add_argument("--workdir", type=Path, help="keep the file, logs and caches here (default: a temp dir, removed)")
    ap.add_argument("--results", type=Path, default=REPO / "bench/files/results.md", help="markdown output")
    ap.add_argument("--json", type=Path, help="also write raw figures here")
    args = ap.parse_args()
    args.only = [w for w in args.only.split(",") if w]
    for w in args.only:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w} (want {', '.join(WORKLOADS)})")
    if args.size < PAGE:
        ap.error("--size must be at least 4 KiB")
    for tool in ("nginx", "curl", "dd"):
        if not shutil.which(tool):
            ap.error(f"{tool} not found")
    raise_on_termination()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="voxfs-filebench-"))
    work.mkdir(parents=True, exist_ok=True)
    srv = ListingNginx(work / "www", work / "nginx", listed=("/files/",))
    pin = None
    try:
        t = time.perf_counter()
        write_file(work / "www" / "files" / NAME, args.size)
        print(f"# {args.size / MiB:.0f} MiB file ready in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        if not args.no_pin:
            pin = PinnedFile(work / "www" / "files" / NAME).__enter__()
        vox = os.path.relpath(args.voxfs, REPO) if args.voxfs.is_relative_to(REPO) else str(args.voxfs)
        if args.voxfs.exists():  # a snapshot: a rebuild during the run must not mix two builds
            built = time.strftime("%Y-%m-%d %H:%M", time.localtime(args.voxfs.stat().st_mtime))
            vox = f"{vox}, built {built}"
            args.voxfs = Path(shutil.copy2(args.voxfs, work / "voxfs"))
        srv.start()
        load0 = os.getloadavg()[0]
        b = Bench(args, work, srv)
        rclone_v = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout.split("\n")[0] \
            if not b.rclone_error else "none"
        print(f"# nginx {srv.url}; voxfs {args.voxfs}; {rclone_v}; work dir {work}", file=sys.stderr)
        b.run()
        if not b.dropped:
            b.notes.append("page cache NOT dropped (needs root): 'cold' runs may have read cached pages")
        header = (f"One {args.size / MiB:.0f} MiB file served by nginx on 127.0.0.1"
                  f"{' (pinned in RAM)' if pin else ''}; median of {args.reps}; {os.cpu_count()} CPUs, "
                  f"{platform.machine()}; voxfs `{vox}` ({args.voxfs_source} source"
                  f"{f', --memory {args.memory}' if args.memory else ''}); {rclone_v} "
                  f"(`:http:` remote, --read-only{' ' + ' '.join(args.rclone_opt) if args.rclone_opt else ''}); "
                  f"file-seq and file-warm in MiB/s, file-rand4k in 4 KiB reads/s ({len(b.offsets)} reads); "
                  f"1-min load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.")
        text = report(b, header)
        print()
        print(text, end="")
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text)
        print(f"# written to {args.results}", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps({f"{w} {t}": r.__dict__ for (w, t), r in b.results.items()}, indent=1))
    finally:
        RcloneMount.close_all()
        close_leftover_voxfs(work / "mnt-voxfs", args.voxfs)  # daemons left by an interrupted mount
        srv.stop()
        if pin:
            pin.__exit__()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print(f"interrupted ({str(e) or 'Ctrl-C'}); mounts, nginx and the work dir were cleaned up", file=sys.stderr)
        sys.exit(130)
