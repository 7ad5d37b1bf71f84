"""Everyday use (issue 11): ``voxfs check``, ``voxfs status``, ``voxfs prefetch``,
``mount -t fuse.voxfs`` / fstab, start-up failures on the terminal, and one log line
(URL, status, tries) per EIO.

Every mount here is its own small daemon (tree_mounts.mounted or a VoxfsMount in a
``with``), so no test depends on another's traffic or order. Tests that stop a server
start their own nginx over a copy of the data.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml

import checks as C
import seg_volumes as SV
import tree_mounts as TM
import voxfs_proc as P
from nginx_server import NginxServer, free_port

MOUNTCONFIGS = sorted((P.REPO / "mountconfigs").glob("*.yaml"))
SEG_TEMPLATE = "seg/ts-u64-murmur-gz"  # copied under EV_SEG so this module owns its files
EV_SEG = "everyday/seg-u64"
EV_TREE = "idx/everyday"  # under the session nginx's root: an autoindex tree of our own


@pytest.fixture(autouse=True)
def _mount_logs():
    yield  # the report of the test is made before this teardown
    TM.release_logs()


# ---------------------------------------------------------------- data of this module

def _random_bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8).tobytes()


# name -> bytes of the small file tree (served by nginx autoindex under /idx/...)
TREE_FILES = {
    "big.bin": _random_bytes(3 * (1 << 20) + 12345, 1101),  # several 1 MiB blocks and an odd tail
    "note.txt": b"everyday voxfs\n",
    "sub/a.bin": _random_bytes(200_001, 1102),
    "sub/deeper/b.bin": _random_bytes(70_000, 1103),
    "other.bin": _random_bytes(150_000, 1104),  # never prefetched: reads EIO with the server down
}


def _write_tree(root: Path) -> Path:
    for rel, data in TREE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def ev_tree(nginx_server) -> str:
    """URL (ending in /) of TREE_FILES under the session nginx's autoindex."""
    _write_tree(nginx_server.root / EV_TREE)
    return f"{nginx_server.url}/{EV_TREE}/"


@pytest.fixture(scope="module")
def seg_volume(nginx_server):
    """A sharded uint64 compressed_segmentation layer (2 scales) of our own."""
    template = next(s for s in SV.SEG_VOLUMES if s.name == SEG_TEMPLATE)
    return SV.write_volume(dataclasses.replace(template, name=EV_SEG), nginx_server.root, nginx_server.url)


def _lines(s: str) -> list:
    return [line for line in s.splitlines() if line.strip()]


# ================================================================ 1. voxfs check (offline)

DEAD = "http://127.0.0.1:9"  # offline check must not fetch: nothing listens there


@dataclasses.dataclass(frozen=True)
class OneOf:
    """A message ending in a list that grows with new features (keys, source formats):
    ``prefix`` + items joined by ", " + ``suffix``, where the items include ``required``
    (and are sorted, for ``sort``)."""

    prefix: str
    required: tuple
    suffix: str = ")"
    sort: bool = True

    def matches(self, text: str) -> bool:
        if not (text.startswith(self.prefix) and text.endswith(self.suffix)):
            return False
        items = text[len(self.prefix):len(text) - len(self.suffix)].split(", ")
        return set(self.required) <= set(items) and (not self.sort or items == sorted(items))


def _matches(expected, text: str) -> bool:
    return expected.matches(text) if isinstance(expected, OneOf) else text == expected


MOUNT_KEYS = ("block_size", "fill_missing", "readahead", "source")
TREE_FORMATS = ("webdav+http://", "webdav+https://", "http://", "https://", "s3://", "gs://", "file:///")


def _unknown_format(key: str, src: str, scheme: str) -> OneOf:
    # "(known: precomputed://, ..., or a file tree: webdav+http://, ...)": the file-tree part is
    # the list; the formats before it grow with new sources
    return OneOf(f"{key}: source '{src}': unknown format '{scheme}' (known: precomputed://, ",
                 ("or a file tree: webdav+http://",) + TREE_FORMATS[1:], sort=False)


# name -> (config text, line the error must name, text after "<path>:<line>: ",
#          a substring of the named line (a check of this table itself))
BROKEN = {
    "unknown_key": (
        f"mounts:\n  /a:\n    source: precomputed://{DEAD}/a\n    sorce: x\n",
        4, OneOf("mounts./a.sorce: unknown key 'sorce' (expected one of: ", MOUNT_KEYS), "sorce:"),
    "unknown_top_key": (
        f"mounts:\n  /a: precomputed://{DEAD}/a\nbogus: 1\n",
        3, OneOf("bogus: unknown key 'bogus' (expected one of: ", ("cache", "mounts")), "bogus:"),
    "unknown_cache_key": (
        f"mounts:\n  /a: precomputed://{DEAD}/a\ncache:\n  dir: /tmp/x\n  colour: red\n",
        5, OneOf("cache.colour: unknown key 'colour' (expected one of: ", ("dir", "size")), "colour:"),
    "bad_source_scheme": (
        f"mounts:\n  /a: zarr://{DEAD}/a\n",
        2, _unknown_format("mounts./a", f"zarr://{DEAD}/a", "zarr://"), "zarr://"),
    "bad_source_scheme_long_form": (
        f"# a comment\n\nmounts:\n  /ok: precomputed://{DEAD}/a   # fine\n  /b:\n    # where\n"
        "    source: ftp://example.org/x\n    fill_missing: false\n",
        7, _unknown_format("mounts./b", "ftp://example.org/x", "ftp://"), "ftp://"),
    "empty_storage_url": (
        "mounts:\n  /a: precomputed://\n",
        2, "mounts./a: source 'precomputed://': unsupported storage URL '' (expected http://, https://, file:///, "
           "gs:// or s3://)", "precomputed://"),
    "bad_cache_size": (
        f"mounts:\n  /a: precomputed://{DEAD}/a\ncache:\n  dir: /tmp/x\n  size: lots\n",
        5, "cache.size: 'lots' is not a size like 20GiB", "lots"),
    "bad_block_size": (
        f"mounts:\n  /t:\n    source: {DEAD}/idx/\n    block_size: big\n",
        4, "mounts./t.block_size: 'big' is not a size from 4096 to 67108864 bytes, like 4MiB", "block_size: big"),
    "block_size_too_small": (
        f"mounts:\n  /t:\n    source: {DEAD}/idx/\n    block_size: 1KiB\n",
        4, "mounts./t.block_size: '1KiB' is not a size from 4096 to 67108864 bytes, like 4MiB", "1KiB"),
    "block_size_on_precomputed": (
        f"mounts:\n  /a:\n    source: precomputed://{DEAD}/a\n    block_size: 4MiB\n",
        4, "mounts./a.block_size: only file trees are read in blocks", "block_size"),
    "bad_fill_missing": (
        f"mounts:\n  /a:\n    source: precomputed://{DEAD}/a\n    fill_missing: maybe\n",
        4, "mounts./a.fill_missing: expected true or false", "maybe"),
    "overlapping_mounts": (
        f"mounts:\n  /a: precomputed://{DEAD}/a\n  /a/b: precomputed://{DEAD}/b\n",
        3, "mounts./a/b: overlaps mounts./a; one source per directory", "/a/b:"),
    "relative_mount_path": (
        f"mounts:\n  rel: precomputed://{DEAD}/a\n",
        2, "mounts.rel: mount paths must be absolute, like /rel", "rel:"),
    "dotdot_mount_path": (
        f"mounts:\n  /a/../b: precomputed://{DEAD}/a\n",
        2, "mounts./a/../b: path component '..' is not allowed", "/a/../b"),
    "root_mount_path": (
        f"mounts:\n  /: precomputed://{DEAD}/a\n",
        2, "mounts./: cannot mount a source at the root '/'", "/:"),
    "source_not_a_string": (
        "mounts:\n  /a: [1, 2]\n",
        2, "mounts./a: expected a source URL or a mapping with 'source'", "[1, 2]"),
    "missing_source": (
        "mounts:\n  /a:\n    fill_missing: true\n",
        3, "mounts./a: missing key 'source'", "fill_missing"),
    "yaml_syntax_error": (
        "mounts: [unclosed\n",
        2, "not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence from line 1)", ""),
    "yaml_tab_indent": (
        "mounts:\n\t/a: x\n",
        2, "not valid YAML: found character that cannot start any token (while scanning for the next token from "
           "line 2)", "\t"),
    "missing_mounts": (
        "cache:\n  dir: /tmp/x\n",
        1, "missing key 'mounts'", "cache:"),
    "empty_mounts": (
        "mounts: {}\n",
        1, "'mounts' must map virtual paths to sources", "mounts"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_broken_config(case, voxfs_bin, tmp_path):
    text, line, message, marker = BROKEN[case]
    named_line = (text.split("\n") + [""])[line - 1]  # line 2 of "mounts: [unclosed\n" is the empty last line
    assert marker in named_line, f"test table: line {line} of {case} is {named_line!r}, no {marker!r}"
    cfg = tmp_path / f"{case}.yaml"
    cfg.write_text(text)
    r = P.run_voxfs("check", cfg, timeout=30)
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"voxfs: {cfg}:{line}: "), r.stderr
    assert _matches(message, lines[0][len(f"voxfs: {cfg}:{line}: "):]), f"{lines[0]!r}\nwant {message!r}"


@pytest.mark.parametrize("text,line", [
    # the same path twice: the second entry (line 4) is the one at fault
    (f"mounts:\n  /a: precomputed://{DEAD}/a\n  /b: precomputed://{DEAD}/b\n  /a: precomputed://{DEAD}/c\n", 4),
    # "/a/" is "/a" again: line 3
    (f"mounts:\n  /a: precomputed://{DEAD}/a\n  /a/: precomputed://{DEAD}/b\n", 3),
], ids=["same_key_twice", "trailing_slash"])
def test_check_duplicate_mount_path_names_the_second_entry(text, line, voxfs_bin, tmp_path):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text(text)
    r = P.run_voxfs("check", cfg, timeout=30)
    assert r.returncode == 1
    msg = r.stderr.strip()
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"voxfs: {cfg}:{line}: mounts./a"), msg


def test_check_relative_config_path(voxfs_bin, tmp_path):
    """Run from the config's directory with a relative name: the message names the file
    (as given or made absolute) and the same line."""
    text, line, message, _ = BROKEN["unknown_key"]
    (tmp_path / "rel.yaml").write_text(text)
    r = subprocess.run([str(voxfs_bin), "check", "rel.yaml"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    prefix = next((p for p in (f"voxfs: rel.yaml:{line}: ", f"voxfs: {tmp_path}/rel.yaml:{line}: ")
                   if lines[0].startswith(p)), None)
    assert prefix and _matches(message, lines[0][len(prefix):]), r.stderr


def test_check_missing_config_file(voxfs_bin, tmp_path):
    cfg = tmp_path / "nope.yaml"
    r = P.run_voxfs("check", cfg, timeout=30)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and str(cfg) in r.stderr, r.stderr


def test_check_ok_offline(voxfs_bin, tmp_path):
    """Offline check never fetches: sources on a closed port are fine."""
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(f"mounts:\n  /a: precomputed://{DEAD}/a\n  /t:\n    source: {DEAD}/idx/\n    block_size: 4MiB\n"
                   "    readahead: 16MiB\ncache:\n  dir: /tmp/x\n  size: 2GiB\n")
    r = P.run_voxfs("check", cfg, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{cfg}: OK, 2 mounts\n", "")
    one = tmp_path / "one.yaml"
    one.write_text(f"mounts:\n  /a: precomputed://{DEAD}/a\n")
    r = P.run_voxfs("check", one, timeout=30)
    assert (r.returncode, r.stdout) == (0, f"{one}: OK, 1 mount\n"), r.stderr


@pytest.mark.parametrize("cfg", MOUNTCONFIGS, ids=[p.name for p in MOUNTCONFIGS])
def test_shipped_configs_pass_check(cfg, voxfs_bin):
    n = len(yaml.safe_load(cfg.read_text())["mounts"])
    r = P.run_voxfs("check", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{cfg}: OK, {n} mount{'s' if n != 1 else ''}\n"


# ================================================================ 1. voxfs check --online

def _table(stdout: str) -> dict:
    """The table of ``check --online``: path -> {column: cell}."""
    lines = _lines(stdout)
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header == ["path", "kind", "scales", "data type", "size (voxels)", "chunk", "encoding"], lines[0]
    rows = {}
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), f"row {line!r}"
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def _xyz(v) -> str:
    return "×".join(str(int(a)) for a in v)


def _volume_row(info: dict, kind: str, dtype: str) -> dict:
    s0 = info["scales"][0]
    keys = [s["key"] for s in info["scales"]]
    chunk = s0["chunk_sizes"][0]
    return {"kind": kind, "scales": f"1: {keys[0]}" if len(keys) == 1 else f"{len(keys)}: {keys[0]}…{keys[-1]}", "data type": dtype,
            "size (voxels)": _xyz(s0["size"]), "chunk": _xyz(chunk), "encoding": s0["encoding"]}


def test_check_online_describes_sources(voxfs_bin, volumes, seg_volume, ev_tree, tmp_path):
    em, rgb = volumes["cv/u16"], volumes["ts/rgb"]
    cfg = P.write_config(tmp_path / "online.yaml", {
        "/em": "precomputed://" + em.url,
        "/seg": "precomputed://" + seg_volume.url,
        "/rgb": "precomputed://" + rgb.url,
        "/tree": ev_tree,
        "/one": ev_tree + "note.txt",
        "/sub": {"source": ev_tree + "sub/", "block_size": "64KiB"},
    })
    r = P.run_voxfs("check", cfg, "--online", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    rows = _table(r.stdout)
    assert list(rows) == ["/em", "/seg", "/rgb", "/tree", "/one", "/sub"], r.stdout

    def without_path(row):
        return {k: v for k, v in row.items() if k != "path"}

    assert without_path(rows["/em"]) == _volume_row(em.info, "image", "uint16"), r.stdout
    assert rows["/em"]["scales"] == "3: 8_8_40…32_32_40" and rows["/em"]["size (voxels)"] == "300×200×40"
    assert without_path(rows["/seg"]) == _volume_row(seg_volume.info, "segmentation", "uint64"), r.stdout
    assert rows["/seg"]["size (voxels)"] == "200×150×40" and rows["/seg"]["chunk"] == "64×64×16"
    assert rows["/seg"]["encoding"] == "compressed_segmentation"
    assert without_path(rows["/rgb"]) == _volume_row(rgb.info, "image", "uint8×3"), r.stdout
    top = {rel.split("/")[0] for rel in TREE_FILES}
    assert (rows["/tree"]["kind"], rows["/tree"]["size (voxels)"]) == ("files", f"{len(top)} entries"), r.stdout
    assert rows["/tree"]["chunk"] == f"{1 << 20} B blocks"
    assert (rows["/one"]["kind"], rows["/one"]["size (voxels)"]) == ("file", f"{len(TREE_FILES['note.txt'])} bytes")
    assert (rows["/sub"]["kind"], rows["/sub"]["size (voxels)"], rows["/sub"]["chunk"]) == (
        "files", "2 entries", f"{64 << 10} B blocks"), r.stdout


def test_check_online_404_names_mount_and_url(voxfs_bin, volumes, nginx_server, tmp_path):
    gone_vol = f"{nginx_server.url}/everyday/no-such-layer"
    gone_tree = f"{nginx_server.url}/idx/everyday-no-such-dir/"
    cfg = P.write_config(tmp_path / "c.yaml", {
        "/em": "precomputed://" + volumes["cv/u8"].url,
        "/gone": "precomputed://" + gone_vol,
        "/gonetree": gone_tree,
    })
    r = P.run_voxfs("check", cfg, "--online", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    rows = _table(r.stdout)
    assert rows["/em"]["kind"] == "image"
    assert rows["/gone"]["kind"] == "FAILED" and rows["/gonetree"]["kind"] == "FAILED"
    err = r.stderr.splitlines()
    assert len(err) == 2, r.stderr
    # lines 3 and 4 of the config hold /gone and /gonetree
    assert err[0].startswith(f"voxfs: {cfg}:3: mounts./gone: ") and gone_vol in err[0] and "404" in err[0], err[0]
    assert err[1].startswith(f"voxfs: {cfg}:4: mounts./gonetree: ") and gone_tree in err[1] and "404" in err[1], err[1]


# ================================================================ 2. voxfs status

def _stats(mp: Path) -> dict:
    return json.loads((Path(mp) / ".voxfs/stats.json").read_bytes())


def test_status_of_a_live_mount(voxfs_bin, volumes, ev_tree, tmp_path):
    vol = volumes["cv/u8"]
    with TM.mounted(tmp_path, {"/em": "precomputed://" + vol.url, "/files": ev_tree}, name="st",
                    cache_size="64MiB") as m:
        mp = m.mountpoint
        # traffic: one slice and one file
        assert np.array_equal(np.load(C.slice_path(mp / "em", vol, 0, 5, "npy")), vol.written[0][:, :, 5, 0].T)
        assert (mp / "files/sub/a.bin").read_bytes() == TREE_FILES["sub/a.bin"]
        s = _stats(mp)
        r = P.run_voxfs("status", mp, timeout=30)
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        cache_dir = tmp_path / "st-cache"

        assert s["mount"] == {"config": str(m.config), "mounts": ["/em", "/files"], "pid": s["mount"]["pid"]}
        assert s["mount"]["pid"] in m.pids, (s["mount"], m.pids)
        assert s["file_blocks"]["misses"] >= 1 and s["file_blocks"]["bytes"] > 0, s["file_blocks"]
        assert {"hits", "misses", "bytes", "capacity", "evictions"} <= set(s["file_blocks"])
        assert s["disk"]["directory"] == str(cache_dir)
        assert 0 < s["disk"]["used_bytes"] <= s["disk"]["capacity"] == 64 << 20, s["disk"]

        assert out[0] == f"{mp}  (pid {s['mount']['pid']})", r.stdout
        assert out[1] == f"  config      {m.config}"
        assert out[2] == "  mounts      /em, /files"
        assert re.fullmatch(rf"  cache       [\d.]+ \S+ of 64\.0 MiB in {re.escape(str(cache_dir))}", out[3]), out[3]
        assert re.fullmatch(r"  hit rate    chunks (\d+%|-) in memory, file blocks (\d+%|-) in memory, (\d+%|-) on disk",
                            out[4]), out[4]
        f = re.fullmatch(r"  fetched     [\d.]+ \S+ in (\d+) requests, (\d+) in flight, (\d+) retries", out[5])
        assert f and int(f.group(1)) >= s["network"]["requests"] > 0, out[5]
        assert out[6] == "  errors      0 network, 0 reads answered EIO"
        assert re.fullmatch(r"  served      [\d.]+ \S+ in \d+ reads", out[7]), out[7]

        # without an argument: every live voxfs mount, this one among them
        r = P.run_voxfs("status", timeout=30)
        assert r.returncode == 0 and f"{mp}  (pid {s['mount']['pid']})" in r.stdout.splitlines(), r.stdout + r.stderr


@pytest.mark.parametrize("path", ["/not/a/mount", "/proc"])
def test_status_not_a_mount(path, voxfs_bin):
    r = P.run_voxfs("status", path, timeout=30)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"voxfs: {path} is not a voxfs mount"]


# ================================================================ 3. voxfs prefetch

_REGION_READER = r"""
import errno, sys
import numpy as np
src, out = sys.argv[1], sys.argv[2]
z0, z1, y0, y1, x0, x1 = map(int, sys.argv[3:9])
try:
    a = np.load(src, mmap_mode="r")
    np.save(out, np.array(a[z0:z1, y0:y1, x0:x1]))
    print("OK")
except OSError as e:
    print("ERR", e.errno, errno.errorcode.get(e.errno, "?"))
"""


def read_region(volume_npy: Path, scale: dict, region: tuple, out: Path):
    """``region`` ((x0, x1), (y0, y1), (z0, z1)) in absolute voxels, read from volume.npy with
    np.load(mmap_mode='r') in a child (a failed page fault is SIGBUS). Returns the (Z, Y, X)
    array, or a string saying why not."""
    off = scale["voxel_offset"]
    (x0, x1), (y0, y1), (z0, z1) = region
    idx = [z0 - off[2], z1 - off[2], y0 - off[1], y1 - off[1], x0 - off[0], x1 - off[0]]
    code, stdout, stderr = P.run_python_child(_REGION_READER, [volume_npy, out, *idx], timeout=90)
    if code != 0 or stdout.split()[:1] != ["OK"]:
        return f"reader exit {code} ({'SIGBUS' if code == -signal.SIGBUS else ''}): {stdout.strip()} {stderr.strip()[-400:]}"
    return np.load(out)


def _region_arg(region: tuple) -> str:
    return "_".join(f"{a}-{b}" for a, b in region)


def _expected_region(ref: np.ndarray, scale: dict, region: tuple) -> np.ndarray:
    """ref: a whole scale (X, Y, Z, C) -> the region as voxfs serves it, (Z, Y, X)."""
    off = scale["voxel_offset"]
    (x0, x1), (y0, y1), (z0, z1) = region
    box = ref[x0 - off[0]:x1 - off[0], y0 - off[1]:y1 - off[1], z0 - off[2]:z1 - off[2], 0]
    return np.ascontiguousarray(box.transpose(2, 1, 0))


def _check_prefetch_output(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0, f"prefetch exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stdout.splitlines()
    assert lines and lines[-1].startswith("prefetched "), r.stdout
    assert "\r" not in r.stdout and "\x1b" not in r.stdout, f"terminal control codes on a pipe: {r.stdout!r}"
    assert all(line.startswith("prefetch") for line in lines), r.stdout


@pytest.fixture
def own_nginx(tmp_path):
    """An nginx of this test's own (so it can be stopped)."""
    srv = NginxServer(tmp_path / "www", tmp_path / "nginx").start()
    yield srv
    srv.stop()


def test_prefetch_region_then_read_with_server_down(voxfs_bin, volumes, references, own_nginx, tmp_path):
    vol = volumes["cv/u16"]  # offset (17, 33, 95), 300x200x40, 3 scales, chunks 64x64x16
    shutil.copytree(vol.path, own_nginx.root / "v")
    mounts = {"/v": f"precomputed://{own_nginx.url}/v"}
    # (how the layer is named, --scale, mip, region): not chunk aligned, inside each scale
    jobs = [
        ("layer", None, 0, ((90, 230), (60, 130), (100, 120))),
        ("layer", "16_16_40", 1, ((20, 70), (30, 80), (96, 130))),
        ("scale", None, 2, ((10, 40), (20, 45), (110, 111))),
    ]
    with TM.mounted(tmp_path, mounts, name="pf", cache_size="256MiB") as m:
        layer = m.mountpoint / "v"
        for how, scale, mip, region in jobs:
            target = layer if how == "layer" else layer / vol.scale(mip)["key"]
            args = ["prefetch", target, "--region", _region_arg(region)] + (["--scale", scale] if scale else [])
            _check_prefetch_output(P.run_voxfs(*args, timeout=120))
        assert _stats(m.mountpoint)["network"]["requests"] > 0
    own_nginx.stop()

    with TM.mounted(tmp_path, mounts, name="pf", cache_size="256MiB") as m:  # same cache dir, server down
        layer = m.mountpoint / "v"
        for i, (_, _, mip, region) in enumerate(jobs):
            scale = vol.scale(mip)
            got = read_region(layer / scale["key"] / "volume.npy", scale, region, tmp_path / f"r{i}.npy")
            assert not isinstance(got, str), f"mip {mip} region {region} with the server down: {got}\n{m.log_tail()}"
            assert np.array_equal(got, _expected_region(references("cv/u16", mip), scale, region)), (mip, region)
        # (no assertion on served.errors: the kernel's read-around of the mmap, 1 MiB, also asks
        # for pages outside the region; those fail with the server down, and the faulting page
        # is then read alone)
        # negative control: what was not prefetched cannot be read now
        scale = vol.scale(0)
        far = ((17, 60), (33, 60), (130, 135))
        assert isinstance(read_region(layer / scale["key"] / "volume.npy", scale, far, tmp_path / "far.npy"), str)


@pytest.mark.parametrize("shape", ["tree", "single_file"])
def test_prefetch_files_then_read_with_server_down(shape, voxfs_bin, own_nginx, tmp_path):
    """Prefetch whole files (a file and a directory of a tree, or a mount of one file), stop
    the server, mount again on the same cache: the prefetched files read back (and, in the
    tree, a file never read gives EIO: the server really is down)."""
    _write_tree(own_nginx.root / "idx" / "t")
    base = f"{own_nginx.url}/idx/t/"
    if shape == "tree":
        mounts, top = {"/t": base}, "t"
        files, targets, unread = ["big.bin", "sub/a.bin", "sub/deeper/b.bin"], ["big.bin", "sub"], ["other.bin"]
    else:
        mounts, top = {"/one/big.bin": base + "big.bin"}, "one"
        files, targets, unread = ["big.bin"], ["big.bin"], []
    with TM.mounted(tmp_path, mounts, name="pf", cache_size="256MiB") as m:
        t = m.mountpoint / top
        _check_prefetch_output(P.run_voxfs("prefetch", *[t / x for x in targets], timeout=120))
        s = _stats(m.mountpoint)
        want = sum(len(TREE_FILES[f]) for f in files)
        assert s["network"]["bytes_fetched"] >= want
        assert s["disk"]["counters"]["bytes_written"] >= want, s["disk"]  # random bytes: zstd cannot shrink them
    own_nginx.stop()

    with TM.mounted(tmp_path, mounts, name="pf", cache_size="256MiB") as m:  # same cache dir, server down
        t = m.mountpoint / top
        got = TM.hash_in_child([t / rel for rel in files + unread])
        for rel in files:
            assert got[t / rel].get("sha256") == hashlib.sha256(TREE_FILES[rel]).hexdigest(), (rel, got[t / rel])
        for rel in unread:
            assert got[t / rel].get("errno") == errno.EIO, (rel, got[t / rel])


def test_cache_size_zero_runs_without_a_disk_cache(voxfs_bin, own_nginx, tmp_path):
    """``cache.size: 0`` turns the disk tier off (rclone's ``--vfs-cache-mode off``): files
    read right, nothing is written under the cache directory, the statistics have no disk
    section, and ``voxfs prefetch`` refuses with a message saying why."""
    _write_tree(own_nginx.root / "idx" / "nc")
    with TM.mounted(tmp_path, {"/t": f"{own_nginx.url}/idx/nc/"}, name="nc", cache_size="0") as m:
        got = TM.hash_in_child([m.mountpoint / "t" / rel for rel in TREE_FILES])
        for rel, data in TREE_FILES.items():
            assert got[m.mountpoint / "t" / rel].get("sha256") == hashlib.sha256(data).hexdigest(), (rel, got)
        s = _stats(m.mountpoint)
        assert s.get("disk") is None, s
        assert s["network"]["bytes_fetched"] >= sum(map(len, TREE_FILES.values())), s["network"]
        r = P.run_voxfs("prefetch", m.mountpoint / "t" / "big.bin", timeout=30)
        assert r.returncode == 1 and "without a disk cache" in r.stderr, r.stderr
    cache = tmp_path / "nc-cache"
    assert not cache.exists() or not any(cache.rglob("*")), sorted(cache.rglob("*"))
    assert "no disk cache" in (tmp_path / "nc.log").read_text()


@pytest.fixture
def small_mount(voxfs_bin, volumes, tmp_path):
    vol = volumes["cv/u16"]
    with TM.mounted(tmp_path, {"/v": "precomputed://" + vol.url}, name="sm", cache_size="64MiB") as m:
        yield m, vol


@pytest.mark.parametrize("region", ["1-2_3-4", "0-10_0-10", "a-b_0-1_0-1", "5-5_0-10_0-10", "9-3_0-10_0-10",
                                    "0-10_0-10_0-10_0-10", "0:10_0:10_0:10", ""])
def test_prefetch_malformed_region(region, small_mount):
    m, _ = small_mount
    r = P.run_voxfs("prefetch", m.mountpoint / "v", "--region", region, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    msg = r.stderr.strip()
    assert len(msg.splitlines()) == 1 and "--region" in msg and f"'{region}'" in msg, msg
    assert not r.stdout.startswith("prefetched")


def test_prefetch_bad_targets(small_mount, tmp_path):
    m, _ = small_mount
    layer = m.mountpoint / "v"
    # a region outside the scale (absolute coordinates: the scale starts at 17, 33, 95)
    r = P.run_voxfs("prefetch", layer, "--region", "0-10_0-10_0-10", timeout=30)
    assert r.returncode == 1 and "--region" in r.stderr and "8_8_40" in r.stderr, r.stderr
    # a scale that does not exist
    r = P.run_voxfs("prefetch", layer, "--scale", "99_99_99", "--region", "20-30_40-50_100-101", timeout=30)
    assert r.returncode == 1 and "99_99_99" in r.stderr and "8_8_40" in r.stderr, r.stderr
    # a path outside any voxfs mount
    (tmp_path / "plain").mkdir()
    r = P.run_voxfs("prefetch", tmp_path / "plain", timeout=30)
    assert r.returncode == 1 and str(tmp_path / "plain") in r.stderr, r.stderr
    # a missing path inside the mount
    r = P.run_voxfs("prefetch", layer / "nope", timeout=30)
    assert r.returncode == 1 and str(layer / "nope") in r.stderr, r.stderr


def test_prefetch_progress_on_a_terminal(small_mount):
    """On a TTY the progress is a bar redrawn in place; the summary still ends it."""
    import pty

    m, _ = small_mount
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(P.voxfs_bin()), "prefetch", str(m.mountpoint / "v"), "--region", "17-317_33-233_95-135"],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not b:
                break
            out += b
        rc = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
    text = out.decode(errors="replace")
    assert rc == 0, text
    assert "\r[" in text and "#" in text, repr(text)
    assert text.replace("\r\n", "\n").rstrip("\n").split("\n")[-1].startswith("prefetched "), repr(text)


class _SlowHandler(SimpleHTTPRequestHandler):
    delay = 0.5

    def do_GET(self):
        if not self.path.endswith("/info"):
            time.sleep(self.delay)
        super().do_GET()

    def log_message(self, *a):
        pass


@pytest.fixture
def slow_server(volumes, tmp_path):
    """A static server answering each chunk after 0.5 s, over a copy of cv/u16."""
    root = tmp_path / "slow"
    shutil.copytree(volumes["cv/u16"].path, root / "v")
    handler = lambda *a, **k: _SlowHandler(*a, directory=str(root), **k)  # noqa: E731
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v"
    srv.shutdown()
    srv.server_close()


def test_prefetch_sigint_stops_cleanly(voxfs_bin, volumes, slow_server, tmp_path):
    vol = volumes["cv/u16"]
    with TM.mounted(tmp_path, {"/v": "precomputed://" + slow_server}, name="int", cache_size="64MiB") as m:
        whole = ((17, 317), (33, 233), (95, 135))  # 60 chunks at 0.5 s each
        proc = subprocess.Popen([str(voxfs_bin), "prefetch", str(m.mountpoint / "v"), "--region", _region_arg(whole)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
        try:
            first = lines.get(timeout=30)  # the first progress line: the prefetch is under way
            assert first.startswith("prefetch"), first
            assert proc.poll() is None, "prefetch finished before it could be interrupted"
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=30)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        time.sleep(0.2)
        out = [first]
        while not lines.empty():
            out.append(lines.get())
        err = proc.stderr.read()
        proc.stderr.close()
        assert rc == 130, f"exit {rc} after SIGINT\nstdout: {''.join(out)}\nstderr: {err}"
        assert took < 10, f"took {took:.1f} s to stop"
        assert not any(line.startswith("prefetched") for line in out), out
        assert out[-1].startswith("stopped after "), out
        assert err.strip() == "", err
        # the mount is unharmed: a slice reads right afterwards
        p = C.slice_path(m.mountpoint / "v", vol, 0, 96, "npy")
        assert np.array_equal(np.load(p), vol.written[0][:, :, 1, 0].T)


# ================================================================ 4. mount -t fuse.voxfs

LINK = Path("/usr/local/bin/voxfs")


@pytest.fixture
def voxfs_on_path(voxfs_bin):
    """``voxfs`` on the system PATH for mount.fuse3 (a symlink to the binary under test)."""
    if os.geteuid() != 0:
        pytest.skip("mount -t fuse.voxfs needs root")
    if not shutil.which("mount.fuse3", path="/sbin:/usr/sbin:/usr/bin:/bin"):
        pytest.skip("no mount.fuse3")
    created = False
    if LINK.is_symlink() or LINK.exists():
        if os.path.realpath(LINK) != os.path.realpath(voxfs_bin):
            pytest.skip(f"{LINK} exists and is not the binary under test")
    else:
        LINK.symlink_to(os.path.realpath(voxfs_bin))
        created = True
    env = {**os.environ, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        yield env
    finally:
        if created and LINK.is_symlink():
            LINK.unlink()


def _check_fuse_voxfs_mount(mp: Path, vol, log: Path) -> None:
    entry = P.mount_entry(mp)
    assert entry, f"{mp} not in /proc/mounts"
    assert entry[2] == "fuse.voxfs", entry
    opts = entry[3].split(",")
    assert {"ro", "nosuid", "nodev", "noatime"} <= set(opts), entry
    assert os.listdir(mp) == ["v"]
    assert np.array_equal(np.load(C.slice_path(mp / "v", vol, 0, 7, "npy")), vol.written[0][:, :, 7, 0].T)
    pids = P.pids_for_mountpoint(mp)
    assert pids, "no daemon"
    argv = (Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0"))
    assert str(256 << 20).encode() in argv, f"memory=256MiB not passed on: {argv}"
    text = log.read_text()
    assert re.search(rf" info mounted /v at {re.escape(str(mp))}", text), text


def test_mount_t_fuse_voxfs(voxfs_on_path, volumes, tmp_path):
    vol = volumes["cv/u8"]
    cfg = P.write_config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url},
                         cache={"dir": str(tmp_path / "cache"), "size": "64MiB"})
    mp, log = tmp_path / "mnt", tmp_path / "m.log"
    mp.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "fuse.voxfs", str(cfg), str(mp), "-o",
                            f"noatime,_netdev,memory=256MiB,log_file={log},log_level=debug"],
                           env=voxfs_on_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        _check_fuse_voxfs_mount(mp, vol, log)
        pids = P.pids_for_mountpoint(mp)
        assert b"debug" in Path(f"/proc/{pids[0]}/cmdline").read_bytes(), "log_level=debug not passed on"
        u = subprocess.run(["umount", str(mp)], capture_output=True, text=True, timeout=60)
        assert u.returncode == 0, u.stderr
        assert not P.is_mounted(mp)
        assert P.wait_until(lambda: not any(P._alive(p) for p in pids), 20), "daemon alive after umount"
        assert "info unmounted" in log.read_text()
    finally:
        P.force_unmount(mp)


def test_mount_t_fuse_voxfs_failure_reaches_the_terminal(voxfs_on_path, tmp_path):
    """A bad config through mount(8) and mount.fuse3: non-zero exit, voxfs's line on stderr."""
    text, line, message, _ = BROKEN["unknown_key"]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    mp, log = tmp_path / "mnt", tmp_path / "m.log"
    mp.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "fuse.voxfs", str(cfg), str(mp), "-o", f"log_file={log}"],
                           env=voxfs_on_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode != 0, r.stdout + r.stderr
        assert f"voxfs: {cfg}:{line}: mounts./a.sorce: unknown key 'sorce'" in r.stderr, r.stderr
        assert not P.is_mounted(mp)
    finally:
        P.force_unmount(mp)


def test_mount_from_fstab_line(voxfs_on_path, volumes, tmp_path):
    vol = volumes["cv/u8"]
    cfg = P.write_config(tmp_path / "c.yaml", {"/v": "precomputed://" + vol.url},
                         cache={"dir": str(tmp_path / "cache"), "size": "64MiB"})
    mp, log = tmp_path / "mnt", tmp_path / "m.log"
    mp.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(f"# test fstab\n{cfg} {mp} fuse.voxfs noauto,nofail,_netdev,noatime,x-systemd.automount,"
                     f"memory=256MiB,log_file={log} 0 0\n")
    try:
        r = subprocess.run(["mount", "-T", str(fstab), str(mp)], env=voxfs_on_path, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        _check_fuse_voxfs_mount(mp, vol, log)
        u = subprocess.run(["umount", str(mp)], capture_output=True, text=True, timeout=60)
        assert u.returncode == 0 and not P.is_mounted(mp), u.stderr
    finally:
        P.force_unmount(mp)


# ================================================================ 5. start-up failures on the terminal

def _mount_fails(cfg: Path, mp: Path, *extra, log: Path, busy: bool = False) -> str:
    """Runs ``voxfs mount`` expecting failure; returns its one stderr line. ``busy``: ``mp``
    is a mount of the test's own, left alone."""
    try:
        r = P.run_voxfs("mount", cfg, mp, *extra, "--log-file", log, timeout=60)
    finally:
        if not busy and mp.is_dir():
            P.force_unmount(mp)
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"not one line on the terminal: {r.stderr!r}"
    return lines[0]


def test_startup_bad_config(voxfs_bin, tmp_path):
    text, line, message, _ = BROKEN["unknown_key"]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    mp = tmp_path / "mnt"
    mp.mkdir()
    msg = _mount_fails(cfg, mp, log=tmp_path / "log")
    assert msg.startswith(f"voxfs: {cfg}:{line}: ") and _matches(message, msg[len(f"voxfs: {cfg}:{line}: "):]), msg
    assert not P.is_mounted(mp)


def test_startup_unreachable_source(voxfs_bin, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/vol"
    cfg = P.write_config(tmp_path / "c.yaml", {"/dead": "precomputed://" + url})
    mp = tmp_path / "mnt"
    mp.mkdir()
    t0 = time.monotonic()
    msg = _mount_fails(cfg, mp, log=tmp_path / "log")
    assert time.monotonic() - t0 < 30
    assert msg.startswith("voxfs: ") and "mounts./dead" in msg and url in msg, msg
    assert not P.is_mounted(mp)


def test_startup_mountpoint_busy(voxfs_bin, volumes, tmp_path):
    vol = volumes["cv/u8"]
    with TM.mounted(tmp_path, {"/v": "precomputed://" + vol.url}, name="busy", cache_size="64MiB") as m:
        msg = _mount_fails(m.config, m.mountpoint, log=tmp_path / "log2", busy=True)
        assert msg == f"voxfs: mount point {m.mountpoint} is already a FUSE mount"
        assert (m.mountpoint / "v" / "info").read_bytes()  # the first mount still answers


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_startup_mountpoint_unusable(kind, voxfs_bin, volumes, tmp_path):
    cfg = P.write_config(tmp_path / "c.yaml", {"/v": "precomputed://" + volumes["cv/u8"].url})
    if kind == "missing":
        mp = tmp_path / "no" / "such"
        want = f"voxfs: mount point {mp} does not exist"
    else:
        mp = tmp_path / "afile"
        mp.write_text("x")
        want = f"voxfs: mount point {mp} is not a directory"
    assert _mount_fails(cfg, mp, log=tmp_path / "log") == want


@pytest.mark.parametrize("how", [("--memory", "64MiB"), ("-o", "memory=64MiB")], ids=["flag", "option"])
def test_startup_memory_too_small(how, voxfs_bin, volumes, tmp_path):
    cfg = P.write_config(tmp_path / "c.yaml", {"/v": "precomputed://" + volumes["cv/u8"].url})
    mp = tmp_path / "mnt"
    mp.mkdir()
    msg = _mount_fails(cfg, mp, *how, log=tmp_path / "log")
    assert msg == "voxfs: memory: '64MiB' is not a size of at least 128MiB"
    assert not P.is_mounted(mp)


# ================================================================ 6. every EIO has a log line

def test_eio_log_line_names_url_status_tries(voxfs_bin, volumes, nginx_server, tmp_path):
    vol = volumes["broken/u8"]  # every chunk answers 500 (nginx_server.py)
    with TM.mounted(tmp_path, {"/b": "precomputed://" + vol.url}, name="eio", cache_size="64MiB") as m:
        p = C.slice_path(m.mountpoint / "b", vol, 0, 17, "npy")
        assert P.read_in_child(p, timeout=90) == ("ERR", errno.EIO)
        s = _stats(m.mountpoint)
        status = P.run_voxfs("status", m.mountpoint, timeout=30).stdout
        log = m.log_file.read_text()
    errors = [line for line in log.splitlines() if " error " in line]
    assert errors, log
    chunk = re.escape(vol.url) + r"/8_8_40/\d+-\d+_\d+-\d+_16-32"
    for line in errors:
        assert re.search(rf"read /b/8_8_40/z17\.npy .*HTTP 500 from {chunk} after 4 tries$", line), line
    # one line per read answered EIO
    assert s["served"]["errors"] == len(errors) >= 1, (s["served"], errors)
    assert f", {len(errors)} reads answered EIO" in status, status
    # the server really saw 4 tries of each chunk named
    access = nginx_server.access_log.read_text()
    for line in errors:
        url = re.search(rf"({chunk})", line).group(1)
        path = url[len(nginx_server.url):]
        assert access.count(f'"GET {path} HTTP/1.1" 500') >= 4, path
