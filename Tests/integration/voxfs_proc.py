"""Running the voxfs binary: config files, mount/unmount, /proc/mounts."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def voxfs_bin() -> Path:
    env = os.environ.get("VOXFS_BIN")
    # Absolute, so tests may run it from another working directory.
    return Path(env).absolute() if env else REPO / ".build/debug/voxfs"


# ---------------------------------------------------------------- config

def _q(s) -> str:
    """A YAML scalar: JSON strings/numbers/bools are valid YAML flow scalars."""
    return json.dumps(s)


def config_yaml(mounts: dict, cache: dict | None = None, extra: str = "") -> str:
    """``mounts``: key -> source URL (short form) or dict (long form)."""
    lines = ["mounts:"]
    for key, val in mounts.items():
        if isinstance(val, dict):
            lines.append(f"  {_q(key)}:")
            for k, v in val.items():
                lines.append(f"    {k}: {_q(v)}")
        else:
            lines.append(f"  {_q(key)}: {_q(val)}")
    if cache:
        lines.append("cache:")
        for k, v in cache.items():
            lines.append(f"  {k}: {_q(v)}")
    return "\n".join(lines) + "\n" + extra


def write_config(path: Path, mounts: dict, cache: dict | None = None) -> Path:
    path = Path(path)
    path.write_text(config_yaml(mounts, cache))
    return path


# ---------------------------------------------------------------- /proc/mounts

def _unescape(s: str) -> str:
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount_entry(mp: Path):
    """The /proc/mounts line (fields) for mountpoint ``mp``, or None."""
    mp = os.path.realpath(mp)
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and _unescape(fields[1]) == mp:
                return fields
    return None


def is_mounted(mp: Path) -> bool:
    return mount_entry(mp) is not None


def wait_until(pred, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pids_for_mountpoint(mp: Path) -> list[int]:
    """Processes whose command line names ``mp`` (the voxfs daemon)."""
    mp = str(mp)
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if any(a == mp or a.rstrip("/") == mp.rstrip("/") for a in args) and any("voxfs" in a for a in args[:2]):
            out.append(int(d.name))
    return sorted(out)


# ---------------------------------------------------------------- running

def run_voxfs(*args, timeout: float = 120, binary: Path | None = None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """``env``: variables set on top of this process's environment (the daemon that
    ``voxfs mount`` starts inherits them, e.g. ``AWS_ENDPOINT_URL_S3``)."""
    full_env = {**os.environ, **{k: str(v) for k, v in env.items()}} if env else None
    return subprocess.run([str(binary or voxfs_bin()), *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def force_unmount(mp: Path) -> None:
    if is_mounted(mp):
        subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True, timeout=30)
    if is_mounted(mp):
        subprocess.run(["umount", "-l", str(mp)], capture_output=True, timeout=30)


class VoxfsMount:
    """``voxfs mount CONFIG MP ...`` (daemonizing); ``close()`` unmounts.

    ``env`` adds environment variables for the mount command and so the daemon.

    Teardown order: ``voxfs unmount``, then ``fusermount3 -u -z``, then SIGKILL
    to a daemon (found at mount time by its command line) still alive.
    """

    def __init__(self, config: Path, mountpoint: Path, *extra, log_file: Path | None = None,
                 timeout: float = 120, binary: Path | None = None, env: dict | None = None):
        self.binary = binary
        self.env = dict(env or {})
        self.config = Path(config)
        self.mountpoint = Path(mountpoint)
        self.extra = [str(e) for e in extra]
        self.log_file = Path(log_file) if log_file else None
        self.timeout = timeout
        self.pids: list[int] = []
        self.result: subprocess.CompletedProcess | None = None

    def open(self) -> "VoxfsMount":
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        args = ["mount", self.config, self.mountpoint, *self.extra]
        if self.log_file:
            args += ["--log-file", self.log_file]
        self.result = run_voxfs(*args, timeout=self.timeout, binary=self.binary, env=self.env)
        if self.result.returncode != 0:
            force_unmount(self.mountpoint)
            raise RuntimeError(
                f"voxfs mount exited {self.result.returncode}: {self.result.stderr.strip()}\n"
                f"{self.log_tail()}")
        self.pids = pids_for_mountpoint(self.mountpoint)
        return self

    def log_tail(self, n: int = 40) -> str:
        if not self.log_file or not self.log_file.exists():
            return ""
        lines = self.log_file.read_text(errors="replace").splitlines()[-n:]
        return f"--- tail of {self.log_file} ---\n" + "\n".join(lines)

    def close(self) -> None:
        mp = self.mountpoint
        if is_mounted(mp):
            try:
                r = run_voxfs("unmount", mp, timeout=60, binary=self.binary)
                if r.returncode != 0:
                    print(f"voxfs unmount {mp} exited {r.returncode}: {r.stderr.strip()}", file=sys.stderr)
            except (subprocess.TimeoutExpired, OSError) as e:
                print(f"voxfs unmount {mp}: {e}", file=sys.stderr)
        wait_until(lambda: not is_mounted(mp), 10)
        force_unmount(mp)
        for pid in self.pids:
            if not wait_until(lambda: not _alive(pid), 10):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def __enter__(self) -> "VoxfsMount":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


# ---------------------------------------------------------------- reading in a child

_READER = r"""
import errno, os, sys
path, off, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    fd = os.open(path, os.O_RDONLY)
    try:
        total = 0
        while n < 0 or total < n:
            b = os.pread(fd, 1 << 20 if n < 0 else min(1 << 20, n - total), off + total)
            if not b:
                break
            total += len(b)
    finally:
        os.close(fd)
    print("OK", total)
except OSError as e:
    print("ERR", e.errno, errno.errorcode.get(e.errno, "?"))
"""


def run_python_child(code: str, args: list, stdin: str = "", timeout: float = 60) -> tuple:
    """Runs ``python -c code args...`` (so a hung FUSE call cannot hang pytest) and returns
    (returncode, stdout, stderr); raises TimeoutError when it does not finish in time."""
    p = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        raise TimeoutError(f"child {args!r} did not finish within {timeout}s")
    return p.returncode, out, err


def read_in_child(path: Path, offset: int = 0, length: int = -1, timeout: float = 60) -> tuple:
    """Read ``path`` in a separate process so a hung FUSE read cannot hang pytest.

    Returns ("OK", nbytes) or ("ERR", errno) ; raises TimeoutError on timeout.
    """
    _, out, err = run_python_child(_READER, [path, offset, length], timeout=timeout)
    fields = out.split()
    if not fields:
        raise RuntimeError(f"reader child failed: {err}")
    return (fields[0], int(fields[1]))


