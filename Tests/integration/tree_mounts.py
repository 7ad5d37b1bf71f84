"""Helpers for the remote-file-tree tests: mounts, stats, reading and listing in a child.

Reads and listings that could hang on a broken FUSE daemon run in a child process
with a timeout, so a hang fails one test instead of freezing the session.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

import conftest
import voxfs_proc as P

STATS = ".voxfs/stats.json"
SEGMENT = 64 << 20  # hash_in_child also reports one sha256 per 64 MiB


@contextmanager
def mounted(tmp: Path, mounts: dict, env: dict | None = None, name: str = "m",
            cache_size: str = "1GiB"):
    """A daemonized mount of ``mounts`` (key -> source or long-form dict) with its own
    cache directory under ``tmp``. Its log tail goes into the report of a failing test
    (also after the mount closed, until ``release_logs()``)."""
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = P.write_config(tmp / f"{name}.yaml", mounts,
                         cache={"dir": str(tmp / f"{name}-cache"), "size": cache_size})
    m = P.VoxfsMount(cfg, tmp / f"{name}-mnt", log_file=tmp / f"{name}.log", env=env)
    conftest._active_mounts.append(m)  # from here on a failing test's report shows the log
    try:
        m.open()
        yield m
    finally:
        m.close()
        _closed.append(m)


_closed: list = []


def release_logs() -> None:
    """Stop attaching the logs of closed mounts (call after the test's report is made,
    i.e. from an autouse fixture's teardown)."""
    for m in _closed:
        if m in conftest._active_mounts:
            conftest._active_mounts.remove(m)
    _closed.clear()


def stats(mp: Path) -> dict:
    """The mount's ``/.voxfs/stats.json`` (a fresh snapshot per open)."""
    return json.loads((Path(mp) / STATS).read_bytes())


def net(mp: Path) -> tuple:
    """(network.requests, network.bytes_fetched) of the mount's daemon."""
    n = stats(mp)["network"]
    return n["requests"], n["bytes_fetched"]


# ---------------------------------------------------------------- children

def _run_child(code: str, args: list, stdin: str = "", timeout: float = 120) -> str:
    code_, out, err = P.run_python_child(code, args, stdin, timeout)
    if code_ != 0:
        raise RuntimeError(f"child failed ({code_}): {err}")
    return out


_HASHER = r"""
import hashlib, json, sys
SEG = int(sys.argv[1])
out = {}
for p in json.loads(sys.stdin.read()):
    h, seg, segs, n = hashlib.sha256(), hashlib.sha256(), [], 0
    try:
        with open(p, "rb", buffering=0) as f:
            while True:
                b = f.read(4 << 20)
                if not b:
                    break
                h.update(b)
                while b:
                    take = min(len(b), SEG - n % SEG)
                    seg.update(b[:take]); n += take; b = b[take:]
                    if n % SEG == 0:
                        segs.append(seg.hexdigest()); seg = hashlib.sha256()
        if n % SEG or n == 0:
            segs.append(seg.hexdigest())
        out[p] = {"sha256": h.hexdigest(), "size": n, "segments": segs}
    except OSError as e:
        out[p] = {"errno": e.errno, "size": n}
print(json.dumps(out))
"""


def hash_in_child(paths: list, timeout: float = 120) -> dict:
    """path -> {"sha256", "size", "segments"} or {"errno"}; read in 4 MiB reads."""
    out = _run_child(_HASHER, [SEGMENT], json.dumps([str(p) for p in paths]), timeout)
    return {Path(k): v for k, v in json.loads(out).items()}


_LISTER = r"""
import json, os, sys
try:
    print(json.dumps({"names": sorted(os.listdir(sys.argv[1]))}))
except OSError as e:
    print(json.dumps({"errno": e.errno}))
"""


def list_in_child(path: Path, timeout: float = 60) -> tuple:
    """("OK", sorted names) or ("ERR", errno) for ``os.listdir(path)`` in a child."""
    r = json.loads(_run_child(_LISTER, [path], "", timeout))
    return ("OK", r["names"]) if "names" in r else ("ERR", r["errno"])


def raw_readdir(path: Path, timeout: float = 60) -> list:
    """Every name readdir returns, ``.`` and ``..`` and duplicates included
    (``os.listdir`` hides those); raises OSError-like RuntimeError if ls fails."""
    r = subprocess.run(["ls", "-f", "-1", "--quoting-style=literal", str(path)], capture_output=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"ls -f {path}: {r.stderr.decode(errors='replace').strip()}")
    return [line for line in r.stdout.decode(errors="surrogateescape").split("\n") if line]


def ls_l(path: Path, timeout: float = 60) -> dict:
    """``ls -lA`` of a directory: name -> (type char, size)."""
    r = subprocess.run(["ls", "-l", "-A", "--time-style=+%s", "--quoting-style=literal", str(path)],
                       capture_output=True, timeout=timeout)
    assert r.returncode == 0, f"ls -l {path}: {r.stderr.decode(errors='replace').strip()}"
    out = {}
    for line in r.stdout.decode(errors="surrogateescape").splitlines():
        if line.startswith("total "):
            continue
        mode, _links, _user, _group, size, _mtime, name = line.split(maxsplit=6)
        out[name] = (mode[0], int(size))
    return out
