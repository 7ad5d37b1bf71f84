"""Helpers shared by the benchmarks under bench/."""

from __future__ import annotations

import argparse
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))  # nginx_server, voxfs_proc

import nginx_server  # noqa: E402
import voxfs_proc as P  # noqa: E402


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


def open_tensorstore(url: str):
    """Scale 0 of a precomputed volume over HTTP, indexed [x, y, z, channel], with tensorstore's cache off."""
    import tensorstore as ts

    return ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "http", "base_url": url + "/"},
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }, read=True).result()


def read_tensorstore(url: str) -> np.ndarray:
    """The whole scale 0 of a precomputed volume over HTTP, with tensorstore's cache off."""
    return open_tensorstore(url).read().result()


def read_tensorstore_slices(store) -> int:
    """Every z-slice of an ``open_tensorstore()`` store, one ``store[:, :, z].read()`` after another
    (cache off, so each slice fetches and decodes its chunks again); the number of voxels read."""
    lo, hi = store.domain[2].inclusive_min, store.domain[2].exclusive_max
    return sum(store[:, :, z].read().result().size for z in range(lo, hi))


def slice_names(scale_dir: Path, ext: str) -> list[str]:
    """The z-slice files ``z<N>.<ext>`` of a mounted scale directory, in z order (``listdir``)."""
    return sorted(n for n in os.listdir(scale_dir) if n.startswith("z") and n.endswith("." + ext))


def compare_slice(scale_dir: Path, ext: str, z: int, ref_yx: np.ndarray) -> str | None:
    """None if slice ``z`` of a mounted scale directory, read as ``ext`` (png or npy), equals
    ``ref_yx`` (Y, X) exactly, in shape, type and every voxel; else what differs."""
    name = next((n for n in slice_names(scale_dir, ext) if int(n[1:-len(ext) - 1]) == z), None)
    if name is None:
        return f"no z={z} .{ext} in {scale_dir}"
    if ext == "png":
        from PIL import Image

        got = np.asarray(Image.open(scale_dir / name))
    else:
        got = np.load(scale_dir / name)
    if got.shape != ref_yx.shape or got.dtype != ref_yx.dtype:
        return f"{name}: shape/type {got.shape} {got.dtype} != {ref_yx.shape} {ref_yx.dtype}"
    bad = int(np.count_nonzero(got != ref_yx))
    return f"{name}: {bad} voxels differ" if bad else None


def read_all(scale_dir: Path, ext: str, jobs: int = 1) -> tuple:
    """Reads every ``z*.<ext>`` of a mounted scale directory to EOF in 1 MiB reads, with
    ``jobs`` threads; (files, bytes)."""
    names = slice_names(scale_dir, ext)

    def cat(name: str) -> int:
        n = 0
        b = memoryview(bytearray(1 << 20))
        with open(scale_dir / name, "rb", buffering=0) as f:
            while True:
                k = f.readinto(b)
                if not k:
                    return n
                n += k

    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as ex:
            return len(names), sum(ex.map(cat, names))
    return len(names), sum(cat(n) for n in names)


def cat_all(scale_dir: Path, ext: str, timeout: float = 600) -> tuple:
    """``cat`` of every ``z*.<ext>`` of a mounted scale directory (one process, to /dev/null);
    (files, bytes by stat, which voxfs keeps exact)."""
    paths = [str(scale_dir / n) for n in slice_names(scale_dir, ext)]
    size = sum(os.stat(p).st_size for p in paths)
    r = subprocess.run(["cat", *paths], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"cat exited {r.returncode}: {r.stderr.strip()[-300:]}")
    return len(paths), size


def voxfs_stats(mp: Path) -> dict:
    """A live mount's ``/.voxfs/stats.json``."""
    return json.loads((Path(mp) / ".voxfs" / "stats.json").read_bytes())


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


def parse_size(s: str) -> int:
    """'1GiB', '256MiB', '10GB', '4k' or a plain byte count -> bytes. As in voxfs configs, 'GiB' is
    binary and 'GB' decimal; a bare unit letter ('1G') is binary, as dd takes it."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)(b?))?", s.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {s!r} (e.g. 1GiB, 256MiB)")
    num, unit, binary, b = m.groups()
    if not unit:
        return int(float(num))
    base = 1000 if b and not binary else 1024
    return int(float(num) * base ** ("kmgt".index(unit.lower()) + 1))


_ndirs = itertools.count(1)


def fresh_dir(parent: Path, name: str) -> Path:
    """``parent/name-N``, N new for each call in this process; whatever an earlier run left there removed."""
    d = Path(parent) / f"{name}-{next(_ndirs)}"
    shutil.rmtree(d, ignore_errors=True)
    return d


def one_line(e: BaseException, work: Path | None = None) -> str:
    """The first line of an exception's message, whitespace squeezed, ``work`` written as $WORK."""
    text = str(e).replace(str(work), "$WORK") if work else str(e)
    return " ".join(text.split("\n", 1)[0].split()) or type(e).__name__


def raise_on_termination() -> None:
    """SIGTERM and SIGHUP raise KeyboardInterrupt as SIGINT does, so ``finally`` blocks unmount and stop servers."""
    def handler(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


# ---------------------------------------------------------------- nginx

class ListingNginx(nginx_server.NginxServer):
    """The tests' nginx, plus ``autoindex on;`` (HTML directory listings) under each prefix in ``listed``."""

    _ANCHOR = "        location / { }\n"

    def __init__(self, root: Path, prefix: Path, listed: tuple = ("/files/",), port: int | None = None):
        super().__init__(root, prefix, port)
        self.listed = listed

    def start(self, attempts: int = 5) -> "ListingNginx":
        base = nginx_server._conf
        extra = "".join(f"        location {d} {{ autoindex on; }}\n" for d in self.listed)

        def conf(*a) -> str:
            text = base(*a)
            if self._ANCHOR not in text:
                raise RuntimeError("nginx_server's config changed: no 'location / { }' to add autoindex next to")
            return text.replace(self._ANCHOR, self._ANCHOR + extra)

        nginx_server._conf = conf
        try:
            return super().start(attempts)
        finally:
            nginx_server._conf = base


class AccessLog:
    """Counts nginx access-log lines (requests) and body bytes appended since ``mark()``."""

    def __init__(self, path: Path):
        self.path = path
        self.pos = 0

    def mark(self) -> None:
        self.pos = self.path.stat().st_size if self.path.exists() else 0

    def since(self) -> dict:
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            lines = f.read().decode(errors="replace").splitlines()
        out = {"total": len(lines), "206": 0, "200": 0, "304": 0, "other": 0, "bytes": 0}
        for ln in lines:
            # ... "GET /path HTTP/1.1" STATUS BYTES ...
            try:
                status, nbytes = ln.split('"')[2].split()[:2]
                out["bytes"] += int(nbytes)
            except (IndexError, ValueError):
                status = "?"
            out[status if status in ("206", "200", "304") else "other"] += 1
        return out


class PinnedFile:
    """Keeps a file's pages resident (mmap + mlock) while open, so ``drop_page_cache()``
    empties the client side (FUSE pages, disk caches) but the served file stays in RAM, as on a
    server with a warm cache behind a fast link."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.addr = None
        self.size = 0

    def __enter__(self) -> "PinnedFile":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
        libc.mlock.argtypes = libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        self.size = self.path.stat().st_size
        fd = os.open(self.path, os.O_RDONLY)
        try:
            addr = libc.mmap(None, self.size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        finally:
            os.close(fd)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"mmap {self.path}")
        self.addr, self._libc = addr, libc
        if libc.mlock(ctypes.c_void_p(addr), self.size) != 0:
            err = ctypes.get_errno()
            self.__exit__()
            raise OSError(err, f"mlock {self.path} ({self.size} bytes; needs root or a large RLIMIT_MEMLOCK)")
        return self

    def __exit__(self, *exc) -> None:
        if self.addr is not None:
            self._libc.munmap(ctypes.c_void_p(self.addr), self.size)
            self.addr = None


# ---------------------------------------------------------------- FUSE daemons

def close_leftover_voxfs(mountpoint: Path, binary: Path) -> None:
    """Unmounts ``mountpoint`` and ends the voxfs daemons serving it, if an interrupted run left any."""
    leftover = P.VoxfsMount(Path(mountpoint) / "unused.yaml", mountpoint, binary=binary)
    leftover.pids = P.pids_for_mountpoint(leftover.mountpoint)
    leftover.close()


def peak_rss(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, in bytes; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class RcloneMount:
    """``rclone mount REMOTE MP --read-only --vfs-cache-mode MODE`` in the foreground, as a child
    in its own session; ``close()`` SIGTERMs it (rclone unmounts itself and saves its VFS cache
    metadata), then lazily unmounts anything left. ``extra`` are further rclone arguments (the
    backend's flags among them); ``env``, if given, is the child's whole environment."""

    def __init__(self, remote: str, mountpoint: Path, cache_mode: str, cache_dir: Path, config: Path,
                 log_file: Path, *extra: str, timeout: float = 30, env: dict | None = None):
        self.mountpoint = Path(mountpoint)
        self.argv = ["rclone", "--config", str(config), "mount", remote, str(self.mountpoint),
                     "--read-only", "--vfs-cache-mode", cache_mode,
                     "--cache-dir", str(cache_dir), "--log-file", str(log_file), *extra]
        self.config = Path(config)
        self.log_file = Path(log_file)
        self.timeout = timeout
        self.env = env
        self.proc: subprocess.Popen | None = None

    @classmethod
    def http(cls, url: str, mountpoint: Path, *args: str, **kw) -> "RcloneMount":
        """The ``:http:`` remote at ``url``, which must end in '/' and answer with an HTML directory
        listing (rclone's http backend lists only what the listing links); ``args`` as for the
        constructor, from ``cache_mode`` on."""
        return cls(":http:", mountpoint, *args, "--http-url", url, **kw)

    live: set = set()  # open mounts, for close_all()

    @classmethod
    def close_all(cls) -> None:
        for m in list(cls.live):
            m.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def open(self) -> "RcloneMount":
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.config.touch()  # an empty config: no "config file not found" notice, no ~/.config/rclone
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, env=self.env)
        RcloneMount.live.add(self)
        P.wait_until(lambda: P.is_mounted(self.mountpoint) or self.proc.poll() is not None, self.timeout)
        if not P.is_mounted(self.mountpoint):
            rc = self.proc.poll()
            self.close()
            tail = self.log_file.read_text(errors="replace").splitlines()[-10:] if self.log_file.exists() else []
            raise RuntimeError(f"rclone mount {'exited ' + str(rc) if rc is not None else 'timed out'}: "
                               + " | ".join(tail))
        return self

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            self.proc = None
        P.wait_until(lambda: not P.is_mounted(self.mountpoint), 5)
        P.force_unmount(self.mountpoint)
        RcloneMount.live.discard(self)

    def __enter__(self) -> "RcloneMount":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

