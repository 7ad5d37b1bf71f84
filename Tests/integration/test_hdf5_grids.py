"""Grids of HDF5 cubes as volumes, and cutout files of every volume layer (issue 6).

``hdf5grid+<file-tree URL>`` mounts a directory of cube files (L4dense's
``x{x}y{y}z{z}.hdf5``) as a precomputed-like image layer: ``P/info``, one scale directory
named from the resolution, ``z<N>.png|.tif|.npy`` and ``volume.npy``. Every volume layer
(precomputed too) also answers ``P/<scale>/cutout/<x0>-<x1>_<y0>-<y1>_<z0>-<z1>.h5|.npy|.tif``
(absolute voxels, end exclusive; looked up, never listed).

The grids (hdf5_grids.py) are written with h5py and served by wsgidav (the main case),
nginx autoindex (``/n/u8``) and as local files (``/f/u8``); the precomputed layers are
the session's cloud-volume volumes (volumes.py). Everything read is compared voxel for
voxel with the arrays written (grids) or what cloud-volume / tensorstore read (precomputed).

Mounts: ``main`` (every good grid, one daemon), ``pc`` (three precomputed layers, and one
with a small ``max_cutout``: cutouts of precomputed layers do not depend on hdf5grid),
``errs`` (strict missing cube, lzf and corrupt cubes, small ``max_cutout``), ``big`` (the
byte-count grid, fresh counters). Reads of the mount run in child processes with timeouts, so a
hanging daemon fails a test instead of freezing the session.

Run alone:  .venv/bin/python -m pytest Tests/integration/test_hdf5_grids.py -q
The first tests check the written grids and the servers themselves and need no voxfs binary.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import requests

import checks as C
import hdf5_grids as H
import tree_mounts as M
import voxfs_proc as P
from hdf5_grids import big_grid, grid_dav, grid_set  # noqa: F401  (fixtures)

# ---------------------------------------------------------------- what is mounted where

# main mount: key -> grid name (grids over WebDAV unless the key says otherwise)
MAIN_GRIDS = {
    "/g/u8": "u8", "/g/u32gz": "u32gz", "/g/u16be": "u16be", "/g/f32": "f32",
    "/g/holes": "holes",  # fill_missing: true written out
    "/g/holes-default": "holes",  # fill_missing left to its default (true)
    "/g/fill": "fill",
    **{f"/g/{s.name}": s.name for s in H.GRIDS if s.name.startswith("t_")},
    "/n/u8": "u8",  # nginx autoindex
    "/f/u8": "u8",  # file://
}
TRANSPORT = {"/n/u8": "nginx", "/f/u8": "file"}
PRECOMPUTED = {"/pc/u16": "cv/u16", "/pc/rgbjpeg": "cv/rgbjpeg", "/pc/u64": "cv/u64"}

# errs mount
STRICT = "/e/holes-strict"  # holes, fill_missing: false
LZF = "/e/lzf"
CORRUPT = "/e/corrupt"
SMALL_GRID = "/e/small"  # u8 with max_cutout: 100KiB
SMALL_GRID_LIMIT = 100 << 10
SMALL_PC = "/e/small-pc"  # cv/u16 with max_cutout: 1MiB
SMALL_PC_LIMIT = 1 << 20

CUTOUT_EXTS = ("h5", "npy", "tif")


@pytest.fixture(autouse=True)
def _mount_logs():
    yield  # the report of the test is made before this teardown
    M.release_logs()


def _main_table(gs: H.GridSet) -> dict:
    t = {}
    for key, name in MAIN_GRIDS.items():
        extra = {"fill_missing": True} if key == "/g/holes" else {}
        t[key] = H.BY_NAME[name].config(gs.url(name, TRANSPORT.get(key, "dav")), **extra)
    return t


def _pc_table(volumes: dict) -> dict:
    t = {key: "precomputed://" + volumes[vname].url for key, vname in PRECOMPUTED.items()}
    t[SMALL_PC] = {"source": "precomputed://" + volumes["cv/u16"].url, "max_cutout": "1MiB"}
    return t


def _errs_table(gs: H.GridSet) -> dict:
    return {
        STRICT: H.BY_NAME["holes"].config(gs.url("holes", "dav"), fill_missing=False),
        LZF: H.BY_NAME["lzf"].config(gs.url("lzf", "dav")),
        CORRUPT: H.BY_NAME["corrupt"].config(gs.url("corrupt", "dav")),
        SMALL_GRID: H.BY_NAME["u8"].config(gs.url("u8", "dav"), max_cutout="100KiB"),
    }


class Mounted:
    def __init__(self, handle, gs: H.GridSet | None, table: dict):
        self.handle = handle
        self.mp = handle.mountpoint
        self.gs = gs
        self.table = table

    def layer(self, key: str) -> Path:
        return self.mp / key.lstrip("/")


@pytest.fixture(scope="module")
def main(voxfs_bin, grid_dav, tmp_path_factory):
    table = _main_table(grid_dav)
    with M.mounted(tmp_path_factory.mktemp("h5grid-main"), table, name="main") as h:
        yield Mounted(h, grid_dav, table)


@pytest.fixture(scope="module")
def pc(voxfs_bin, volumes, tmp_path_factory):
    table = _pc_table(volumes)
    with M.mounted(tmp_path_factory.mktemp("h5grid-pc"), table, name="pc") as h:
        yield Mounted(h, None, table)


@pytest.fixture(scope="module")
def errs(voxfs_bin, grid_dav, tmp_path_factory):
    table = _errs_table(grid_dav)
    with M.mounted(tmp_path_factory.mktemp("h5grid-errs"), table, name="errs") as h:
        yield Mounted(h, grid_dav, table)


# ---------------------------------------------------------------- reading in a child

_FETCH = r"""
import json, os, stat, sys
out = {}
for src, dst in json.loads(sys.stdin.read()):
    r = {}
    out[src] = r
    try:
        st = os.stat(src)
        r["st_size"], r["isdir"] = st.st_size, stat.S_ISDIR(st.st_mode)
    except OSError as e:
        r.update(stage="stat", errno=e.errno)
        continue
    if dst is None:
        continue
    try:
        fd = os.open(src, os.O_RDONLY)
    except OSError as e:
        r.update(stage="open", errno=e.errno)
        continue
    n = 0
    try:
        with open(dst, "wb") as o:
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                o.write(b)
                n += len(b)
        r["size"] = n
    except OSError as e:
        r.update(stage="read", errno=e.errno, size=n)
    finally:
        os.close(fd)
print(json.dumps(out))
"""


def fetch(paths: list, dest: Path | None, timeout: float = 90) -> dict:
    """Path -> {"st_size", "isdir", "size", "local"} or {"stage": stat|open|read, "errno"}:
    each path stat-ed and (``dest`` given) read whole into a local copy, in one child."""
    jobs = []
    for n, p in enumerate(paths):
        local = None if dest is None else str(Path(dest) / f"f{n}-{Path(p).name}")
        jobs.append((str(p), local))
    code, out, err = P.run_python_child(_FETCH, [], json.dumps(jobs), timeout=timeout)
    if code != 0:
        raise RuntimeError(f"reader child failed ({code}): {err}")
    res = json.loads(out)
    for (src, local) in jobs:
        if local is not None and "errno" not in res[src]:
            res[src]["local"] = Path(local)
    return {Path(k): v for k, v in res.items()}


def fetched(r: dict, p: Path) -> Path:
    """The local copy of ``p``; fails unless stat and read worked and sizes agree."""
    assert "errno" not in r, (f"{p}: {r['stage']} failed with errno {r['errno']} "
                              f"({errno.errorcode.get(r['errno'], '?')})")
    assert not r["isdir"], f"{p}: is a directory"
    assert r["st_size"] == r["size"], f"{p}: st_size {r['st_size']} but read {r['size']} bytes"
    return r["local"]


def expect_errno(r: dict, p: Path, want: int, stages=("stat", "open", "read")) -> None:
    name = errno.errorcode[want]
    if "errno" not in r:
        what = f"read {r.get('size')} bytes" if "size" in r else f"stat gave size {r['st_size']}"
        pytest.fail(f"{p}: {what}; want {name}")
    got = errno.errorcode.get(r["errno"], str(r["errno"]))
    assert r["errno"] == want and r["stage"] in stages, f"{p}: {r['stage']} gave {got}, want {name} at {stages}"


_VOLUME = r"""
import json, sys
import numpy as np
p, out, sub = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    a = np.load(p, mmap_mode=None)
    np.save(out + ".full.npy", a)
    mm = np.load(p, mmap_mode="r")
    np.save(out + ".sub.npy", np.array(mm[tuple(slice(*s) for s in sub)]))
    del mm
    with open(p, "rb") as f:
        head = f.read(8)
    print(json.dumps({"dtype": a.dtype.str, "shape": a.shape, "head": head.hex()}))
except OSError as e:
    print(json.dumps({"errno": e.errno}))
"""


def load_volume_npy(p: Path, tmp: Path, sub: list, timeout: float = 90) -> tuple:
    """(whole array by np.load(mmap_mode=None), sub-box by np.load(mmap_mode='r'), meta), in a child."""
    out = tmp / "vol"
    code, stdout, err = P.run_python_child(_VOLUME, [p, out, json.dumps(sub)], timeout=timeout)
    assert code == 0, f"child failed: {err[-2000:]}"
    meta = json.loads(stdout)
    assert "errno" not in meta, f"{p}: np.load failed with errno {meta.get('errno')}"
    return np.load(str(out) + ".full.npy"), np.load(str(out) + ".sub.npy"), meta


_PREAD = r"""
import json, os, sys
p, off, n, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
try:
    size = os.stat(p).st_size
    fd = os.open(p, os.O_RDONLY)
    try:
        got = b""
        while len(got) < n:
            b = os.pread(fd, n - len(got), off + len(got))
            if not b:
                break
            got += b
    finally:
        os.close(fd)
    open(dst, "wb").write(got)
    print(json.dumps({"st_size": size, "n": len(got)}))
except OSError as e:
    print(json.dumps({"errno": e.errno}))
"""


def pread_in_child(p: Path, off: int, n: int, tmp: Path) -> bytes:
    dst = tmp / f"pread-{off}-{n}"
    code, out, err = P.run_python_child(_PREAD, [p, off, n, dst], timeout=90)
    assert code == 0, err
    r = json.loads(out)
    assert "errno" not in r, f"{p}: pread({n}, {off}) failed with errno {r['errno']}"
    return dst.read_bytes()


# ---------------------------------------------------------------- decoding cutouts

def cutout_name(b: tuple, ext: str) -> str:
    x0, x1, y0, y1, z0, z1 = b
    return f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}.{ext}"


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("="), copy=False) if a.dtype.byteorder not in "=|" else a


def decode_cutout(ext: str, local: Path, expected: np.ndarray, what: str) -> tuple:
    """(array as (Z, Y, X[, C]), h5 attributes or None), checking the format's contract."""
    if ext == "npy":
        with open(local, "rb") as f:
            assert f.read(6) == b"\x93NUMPY", f"{what}: not an NPY file"
        a = np.load(local, allow_pickle=False)
        assert a.dtype.byteorder in "<|" or (a.dtype.byteorder == "=" and np.little_endian), \
            f"{what}: NPY dtype {a.dtype.str} is not little-endian"
        return a, None
    if ext == "h5":
        import h5py

        with h5py.File(local, "r") as f:
            assert "data" in f, f"{what}: no dataset /data (has {list(f)})"
            d = f["data"]
            a = _native(d[()])
            attrs = {k: d.attrs[k] for k in d.attrs}
            if not attrs and f.attrs:
                pytest.fail(f"{what}: attributes {sorted(f.attrs)} are on the file root, not on /data")
        return a, attrs
    if ext == "tif":
        import tifffile

        with tifffile.TiffFile(local) as t:
            pages = [p.asarray() for p in t.pages]
        z = expected.shape[0]
        assert len(pages) == z, f"{what}: {len(pages)} TIFF pages for {z} z"
        stack = np.stack([_native(p) for p in pages])
        if z > 1:
            whole = _native(tifffile.imread(local))
            assert whole.shape == expected.shape, f"{what}: tifffile.imread shape {whole.shape}, want {expected.shape}"
            C.assert_same(whole, stack, what=f"{what} (imread vs pages)")
        return stack, None
    raise ValueError(ext)


def check_h5_attrs(attrs: dict, resolution, box: tuple, source_cfg: str, what: str) -> None:
    for k in ("resolution", "offset", "source"):
        assert k in attrs, f"{what}: no attribute {k!r} on /data (has {sorted(attrs)})"
    res = np.asarray(attrs["resolution"])
    assert res.shape == (3,) and res.dtype.kind == "f", f"{what}: resolution {attrs['resolution']!r}"
    assert np.allclose(res, [float(r) for r in resolution]), f"{what}: resolution {res}, want {resolution}"
    off = np.asarray(attrs["offset"])
    assert off.shape == (3,) and off.dtype.kind in "iu", f"{what}: offset {attrs['offset']!r}"
    assert off.tolist() == [box[0], box[2], box[4]], f"{what}: offset {off.tolist()}, want {[box[0], box[2], box[4]]}"
    src = attrs["source"]
    if isinstance(src, np.ndarray) and src.shape == ():
        src = src[()]
    if isinstance(src, (bytes, np.bytes_)):
        src = bytes(src).decode()
    assert isinstance(src, str) and src, f"{what}: source {attrs['source']!r} is not a string"
    # the config's source URL, or the storage URL inside it
    assert src == source_cfg or (source_cfg.endswith(src) and "://" in src), \
        f"{what}: source {src!r}, want {source_cfg!r}"


# ---------------------------------------------------------------- grid geometry for the tests

def grid_interesting_z(spec: H.GridSpec) -> list:
    zr, cz = spec.z_range, spec.cube[2]
    cand = {zr[0], zr[-1], zr[len(zr) // 2], zr[0] + cz - 1, zr[0] + cz}
    return sorted(z for z in cand if z in zr)


def grid_boxes(spec: H.GridSpec) -> list:
    """Cutout boxes: the whole volume, one across the first cube border of every axis,
    1x1x1 at the first voxel of a later cube, the last voxel, one inside a cube."""
    (ox, oy, oz), (sx, sy, sz), (cx, cy, cz) = spec.voxel_offset, spec.size, spec.cube

    def cross(o, s, c):
        return (o + c - 3, o + c + 4) if s > c else (o + 2, o + s - 1)

    def at(o, s, c):
        return o + c if s > c else o + c // 2

    ax, ay, az = at(ox, sx, cx), at(oy, sy, cy), at(oz, sz, cz)
    boxes = [
        (ox, ox + sx, oy, oy + sy, oz, oz + sz),
        (*cross(ox, sx, cx), *cross(oy, sy, cy), *cross(oz, sz, cz)),
        (ax, ax + 1, ay, ay + 1, az, az + 1),
        (ox + sx - 1, ox + sx, oy + sy - 1, oy + sy, oz + sz - 1, oz + sz),
        (ox + 1, ox + cx - 1, oy + 1, oy + cy - 2, oz + 1, oz + 2),
    ]
    for ix in spec.missing():
        mx0, mx1, my0, my1, mz0, mz1 = spec.cube_box(ix)
        boxes.append((mx0, mx1, my0, my1, mz0, mz1))  # exactly the missing cube: zeros
        boxes.append((mx0 - 10, mx1 + 10, my0 + 10, my1 + 10, mz0 + 3, mz1 - 7))  # touching it
    return boxes


def _source(m: Mounted, key: str) -> str:
    v = m.table[key]
    return v["source"] if isinstance(v, dict) else v


# ================================================================ the data and servers (no voxfs)

@pytest.mark.parametrize("name", [s.name for s in H.GRIDS])
def test_grid_written_as_designed(grid_set, name):
    """The cube files hold what the tests expect voxfs to show (h5py reads them back)."""
    import h5py

    g = grid_set.grids[name]
    spec = g.spec
    cx, cy, cz = spec.cube
    rx = re.escape(spec.pattern)
    for c in "xyz":
        rx = rx.replace(re.escape("{" + c + "}"), rf"(?P<{c}>\d+)")
    pat = re.compile(f"^{rx}$")
    present = {tuple(int(pat.match(n)[c]) for c in "xyz") for n in os.listdir(g.path) if pat.match(n)}
    assert present == set(spec.indices), "cube files on disk differ from the spec"
    for extra in spec.extra_files:
        assert (g.path / extra).is_file() and not pat.match(extra), extra
    for ix, p in g.files.items():
        kind = spec.special.get(ix, "ok")
        want = g.expected(*spec.cube_box(ix))
        if kind == "garbage":
            assert b"\x89HDF" not in p.read_bytes()
            with pytest.raises(OSError):
                h5py.File(p, "r")
            continue
        if kind == "truncated":
            with pytest.raises(OSError):
                with h5py.File(p, "r") as f:
                    f[spec.h5_dataset][()]
            continue
        with h5py.File(p, "r") as f:
            if kind == "no_dataset":
                assert spec.h5_dataset.strip("/") not in f
                continue
            d = f[spec.h5_dataset]
            if kind == "wrong_shape":
                assert d.shape == (cz, cy, cx - 1)
                continue
            assert d.shape == (cz, cy, cx) and d.dtype == np.dtype(spec.dtype), (d.shape, d.dtype)
            chunks = spec.storage.get("chunks")
            if kind == "contiguous" or (not chunks and kind != "lzf"):
                assert d.chunks is None
            elif kind == "lzf":
                assert d.compression == "lzf"
            else:
                assert d.chunks == chunks and d.compression == spec.storage.get("compression")
                assert bool(d.shuffle) == bool(spec.storage.get("shuffle"))
                assert bool(d.fletcher32) == bool(spec.storage.get("fletcher32"))
            if kind == "partial":
                n_chunks = int(np.prod([-(-a // b) for a, b in zip(d.shape, d.chunks)]))
                assert 0 < d.id.get_num_chunks() < n_chunks, "every chunk got written"
                assert d.fillvalue == spec.fillvalue
                assert (want == spec.fillvalue).mean() > 0.5
            C.assert_same(_native(d[()]), want, what=str(p))
    for ix in spec.missing():
        assert not g.expected(*spec.cube_box(ix)).any()


def test_chunks_do_not_divide_cubes():
    """The chunked grids really use chunk shapes that do not divide the cube."""
    for name in ("u32gz", "u16be"):
        spec = H.BY_NAME[name]
        cz, cy, cx = spec.storage["chunks"]
        assert spec.cube[0] % cx and spec.cube[1] % cy and spec.cube[2] % cz, name


@pytest.mark.parametrize("how", ["dav", "nginx"])
def test_servers_serve_the_grids(grid_dav, how):
    """WebDAV and nginx list the u8 grid's files with their sizes and answer ranged GETs."""
    g = grid_dav.grids["u8"]
    url = grid_dav.url("u8", how).split("+", 1)[-1]
    names = {p.name: p.stat().st_size for p in g.path.iterdir()}
    if how == "dav":
        r = requests.request("PROPFIND", url, headers={"Depth": "1"}, timeout=10)
        assert r.status_code == 207, r.status_code
        for name, size in names.items():
            assert f"/{name}</" in r.text and f">{size}<" in r.text, name
    else:
        r = requests.get(url, timeout=10)
        assert r.status_code == 200
        for name in names:
            assert f'href="{name}"' in r.text, name
    p = g.files[(1, 0, 1)]
    raw = p.read_bytes()
    r = requests.get(url + p.name, headers={"Range": "bytes=100-4195"}, timeout=10)
    assert r.status_code == 206 and r.content == raw[100:4196]


# ================================================================ config (voxfs check, offline)

DEAD = "http://127.0.0.1:9"
_GOOD_GRID = [
    "mounts:",
    "  /g/u8:",
    f"    source: hdf5grid+webdav+{DEAD}/grids/u8/",
    '    pattern: "x{x}y{y}z{z}.hdf5"',
    "    cube: [64, 48, 32]",
    "    resolution: [11.24, 11.24, 28]",
]
K = "mounts./g/u8"

# case -> (lines replacing/adding to _GOOD_GRID: {line number: text or None to drop},
#          the line the message must name (None: any), what the message must start with, or
#          (start, a substring) for a missing key: "mounts./g/u8: missing key 'pattern'")
CONFIG_ERRORS = {
    "missing_pattern": ({4: None}, None, (K, "'pattern'")),
    "missing_cube": ({5: None}, None, (K, "'cube'")),
    "missing_resolution": ({6: None}, None, (K, "'resolution'")),
    "pattern_without_z": ({4: '    pattern: "x{x}y{y}.hdf5"'}, 4, f"{K}.pattern"),
    "pattern_not_a_string": ({4: "    pattern: [1, 2]"}, 4, f"{K}.pattern"),
    "cube_zero": ({5: "    cube: [0, 1, 1]"}, 5, f"{K}.cube"),
    "cube_two_numbers": ({5: "    cube: [64, 48]"}, 5, f"{K}.cube"),
    "cube_not_integers": ({5: "    cube: [64, 48.5, 32]"}, 5, f"{K}.cube"),
    "resolution_two_numbers": ({6: "    resolution: [1, 2]"}, 6, f"{K}.resolution"),
    "origin_two_numbers": ({7: "    origin: [1, 1]"}, 7, f"{K}.origin"),
    "bad_max_cutout": ({7: "    max_cutout: lots"}, 7, f"{K}.max_cutout"),
    "bad_fill_missing": ({7: "    fill_missing: maybe"}, 7, f"{K}.fill_missing"),
    "dataset_not_a_string": ({7: "    dataset: [1]"}, 7, f"{K}.dataset"),
    "unknown_key": ({7: "    colour: red"}, 7, f"{K}.colour: unknown key 'colour'"),
}


def _config_text(changes: dict) -> str:
    lines = list(_GOOD_GRID) + [""] * max(0, max(changes) - len(_GOOD_GRID))
    for n, text in changes.items():
        lines[n - 1] = text
    return "\n".join(line for line in lines if line is not None and line != "") + "\n"


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_check_hdf5grid_config_error(case, voxfs_bin, tmp_path):
    """A wrong hdf5grid mount entry: exit 1, one line naming the file, line and key at fault."""
    changes, line, start = CONFIG_ERRORS[case]
    text = _config_text(changes)
    if line is not None:
        assert text.split("\n")[line - 1] == changes[line], "test table: wrong line number"
    cfg = tmp_path / f"{case}.yaml"
    cfg.write_text(text)
    r = P.run_voxfs("check", cfg, timeout=30)
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    m = re.match(rf"voxfs: {re.escape(str(cfg))}:(\d+): (.*)$", lines[0])
    assert m, lines[0]
    if line is not None:
        assert int(m.group(1)) == line, f"names line {m.group(1)}, want {line}: {lines[0]}"
    start, needle = start if isinstance(start, tuple) else (start, "")
    assert m.group(2).startswith(start) and needle in m.group(2), \
        f"{lines[0]!r}\nwant it to start with {start!r}" + (f" and name {needle}" if needle else "")


def test_check_volume_configs_ok(voxfs_bin, tmp_path):
    """Every hdf5grid key, every tree form, and max_cutout on every volume source pass check."""
    text = "\n".join([
        "mounts:",
        "  /g/dav:",
        f"    source: hdf5grid+webdav+{DEAD}/grids/u8/",
        '    pattern: "x{x}y{y}z{z}.hdf5"',
        "    dataset: /data",
        "    cube: [64, 48, 32]",
        "    resolution: [11.24, 11.24, 28]",
        "    origin: [1, 1, 1]",
        "    fill_missing: false",
        "    max_cutout: 2GiB",
        "  /g/idx:",
        f"    source: hdf5grid+{DEAD}/idx/grids/u8/",
        '    pattern: "c_{z}_{y}_{x}.h5"',
        "    cube: [40, 24, 16]",
        "    resolution: [8, 8, 40]",
        "  /g/file:",
        "    source: hdf5grid+file:///tmp/grids/u8/",
        '    pattern: "x{x}y{y}z{z}.hdf5"',
        "    cube: [40, 24, 16]",
        "    resolution: [8.0, 8.0, 40.0]",
        "  /pc:",
        f"    source: precomputed://{DEAD}/a",
        "    max_cutout: 1MiB",
        "  /ocp:",
        f"    source: ocp+{DEAD}/ocp/ca/tok",
        "    max_cutout: 512MiB",
        "  /boss:",
        "    source: bossdb://c/e/ch",
        f"    api: {DEAD}",
        "    max_cutout: 100MiB",
    ]) + "\n"
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(text)
    r = P.run_voxfs("check", cfg, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{cfg}: OK, 6 mounts\n", "")


# ================================================================ layout and data (main mount)

GRID_KEYS = list(MAIN_GRIDS)


@pytest.mark.parametrize("key", GRID_KEYS)
def test_info(main, key, tmp_path):
    """P/info is a precomputed info: one scale with the grid's type, resolution, offset, size."""
    spec = H.BY_NAME[MAIN_GRIDS[key]]
    p = main.layer(key) / "info"
    res = fetch([p], tmp_path)
    info = json.loads(fetched(res[p], p).read_bytes())
    assert info["data_type"] == spec.data_type, info
    assert info["num_channels"] == 1, info
    assert len(info["scales"]) == 1, info["scales"]
    s = info["scales"][0]
    assert np.allclose(s["resolution"], [float(r) for r in spec.resolution]), s
    assert list(s["voxel_offset"]) == list(spec.voxel_offset), s
    assert list(s["size"]) == list(spec.size), s


@pytest.mark.parametrize("key", GRID_KEYS)
def test_listing(main, key):
    """P holds info and one scale directory named from the resolution; the scale lists every z
    (zero-padded) in each format, volume.npy and cutout; cutout/ lists nothing."""
    spec = H.BY_NAME[MAIN_GRIDS[key]]
    root = main.layer(key)
    assert M.list_in_child(root) == ("OK", sorted(["info", spec.scale_key]))
    w = C.z_width(spec.z_range)
    want = {C.slice_name(z, w, ext) for z in spec.z_range for ext in spec.formats} | {"volume.npy", "cutout"}
    kind, names = M.list_in_child(root / spec.scale_key)
    assert kind == "OK", f"listing failed with errno {names}"
    assert len(names) == len(set(names)), "duplicate names"
    assert set(names) == want, f"missing {sorted(want - set(names))[:8]}, extra {sorted(set(names) - want)[:8]}"
    assert M.list_in_child(root / spec.scale_key / "cutout") == ("OK", [])
    r = fetch([root / spec.scale_key / "cutout"], None)
    assert r[root / spec.scale_key / "cutout"].get("isdir") is True


SLICE_CASES = [(k, ext) for k in GRID_KEYS for ext in H.BY_NAME[MAIN_GRIDS[k]].formats]


@pytest.mark.parametrize("key, ext", SLICE_CASES)
def test_slices(main, key, ext, tmp_path):
    """z<N> files (first, last, middle, both sides of a cube border) equal the cubes' planes."""
    g = main.gs.grids[MAIN_GRIDS[key]]
    spec = g.spec
    w = C.z_width(spec.z_range)
    zs = grid_interesting_z(spec)
    paths = [main.layer(key) / spec.scale_key / C.slice_name(z, w, ext) for z in zs]
    res = fetch(paths, tmp_path)
    for z, p in zip(zs, paths):
        arr = C.decode(ext, fetched(res[p], p).read_bytes(), spec.data_type, 1)
        C.assert_same(arr, g.slice(z), what=str(p))


@pytest.mark.parametrize("key", GRID_KEYS)
def test_volume_npy(main, key, tmp_path):
    """volume.npy: np.load gives the whole grid (Z, Y, X), little-endian; an mmap sub-box too."""
    g = main.gs.grids[MAIN_GRIDS[key]]
    Z, Y, X = g.volume.shape
    sub = [(Z // 3, Z // 3 + 3), (1, Y - 2), (X // 2 - 5, X - 1)]
    p = main.layer(key) / g.spec.scale_key / "volume.npy"
    whole, part, meta = load_volume_npy(p, tmp_path, sub)
    assert meta["dtype"][0] in "<|", f"volume.npy dtype {meta['dtype']}"
    C.assert_same(whole, g.volume, what=str(p))
    C.assert_same(part, g.volume[tuple(slice(*s) for s in sub)], what=f"{p} mmap {sub}")


CUTOUT_CASES = [(k, ext) for k in GRID_KEYS for ext in CUTOUT_EXTS]


@pytest.mark.parametrize("key, ext", CUTOUT_CASES)
def test_grid_cutouts(main, key, ext, tmp_path):
    """cutout/<box>.<ext> (whole volume, across cube borders, 1x1x1, last voxel, inside one
    cube, on and around a missing cube) equals the grid there; stat size is exact; .h5
    carries resolution, offset and source."""
    g = main.gs.grids[MAIN_GRIDS[key]]
    spec = g.spec
    d = main.layer(key) / spec.scale_key / "cutout"
    boxes = grid_boxes(spec)
    paths = [d / cutout_name(b, ext) for b in boxes]
    res = fetch(paths, tmp_path)
    for b, p in zip(boxes, paths):
        want = g.expected(*b)
        arr, attrs = decode_cutout(ext, fetched(res[p], p), want, str(p))
        C.assert_same(arr, want, what=str(p))
        if ext == "h5":
            check_h5_attrs(attrs, spec.resolution, b, _source(main, key), str(p))


def test_missing_cube_reads_as_zeros(main, tmp_path):
    """fill_missing (written out or default): a slice through the missing cube has zeros
    exactly there and the neighbours' data around it."""
    g = main.gs.grids["holes"]
    spec = g.spec
    x0, x1, y0, y1, _, _ = spec.cube_box((1, 0, 0))
    z = 7
    paths = [main.layer(k) / spec.scale_key / C.slice_name(z, C.z_width(spec.z_range), "npy")
             for k in ("/g/holes", "/g/holes-default")]
    res = fetch(paths, tmp_path)
    for p in paths:
        a = np.load(fetched(res[p], p))
        assert not a[y0:y1, x0:x1].any(), f"{p}: non-zero voxels where the cube is missing"
        assert a[y1:, x0:x1].any() and a[y0:y1, :x0].any(), f"{p}: zeros outside the missing cube"
        C.assert_same(a, g.slice(z), what=str(p))


def test_unwritten_chunks_read_as_fill_value(main, tmp_path):
    """Chunks never written in a cube read as the dataset's fill value (4242), not zeros."""
    g = main.gs.grids["fill"]
    spec = g.spec
    b = spec.cube_box((0, 0, 0))
    p = main.layer("/g/fill") / spec.scale_key / "cutout" / cutout_name(b, "npy")
    res = fetch([p], tmp_path)
    a = np.load(fetched(res[p], p))
    assert (a == spec.fillvalue).mean() > 0.5, "the fill value does not show"
    C.assert_same(a, g.expected(*b), what=str(p))


def test_same_grid_over_three_transports(main, tmp_path):
    """WebDAV, nginx autoindex and file:// show the same grid byte for byte."""
    spec = H.BY_NAME["u8"]
    rels = ["info", f"{spec.scale_key}/z17.npy", f"{spec.scale_key}/z01.png",
            f"{spec.scale_key}/cutout/" + cutout_name((38, 44, 20, 30, 15, 19), "npy")]
    paths = [main.layer(k) / r for k in ("/g/u8", "/n/u8", "/f/u8") for r in rels]
    res = fetch(paths, tmp_path)
    blobs = [fetched(res[p], p).read_bytes() for p in paths]
    n = len(rels)
    for i, rel in enumerate(rels):
        assert blobs[i] == blobs[n + i] == blobs[2 * n + i], f"{rel} differs between transports"


# ---------------------------------------------------------------- cutouts of precomputed layers

# (mount key, mip, boxes in absolute voxels)
PC_BOXES = {
    ("/pc/u16", 0): [(70, 150, 90, 110, 105, 115), (316, 317, 232, 233, 134, 135), (17, 317, 33, 233, 95, 97)],
    ("/pc/u16", 1): [(8, 158, 16, 116, 95, 100), (40, 41, 80, 81, 110, 111)],
    ("/pc/rgbjpeg", 0): [(50, 90, 60, 100, 10, 20), (10, 210, 20, 170, 0, 1)],
    ("/pc/u64", 0): [(0, 70, 0, 50, 1, 10), (60, 70, 40, 50, 5, 6)],
}
PC_CASES = [(k, mip, ext) for (k, mip) in PC_BOXES for ext in CUTOUT_EXTS]


@pytest.mark.parametrize("key, mip, ext", PC_CASES)
def test_precomputed_cutouts(pc, references, volumes, key, mip, ext, tmp_path):
    """Cutouts of a precomputed layer (absolute coordinates, offset layers, 3 channels,
    uint64) equal what cloud-volume / tensorstore read for the same box."""
    vol = volumes[PRECOMPUTED[key]]
    ref = references(vol.name, mip)  # (X, Y, Z, C) from voxel_offset
    scale = vol.scale(mip)
    ox, oy, oz = scale["voxel_offset"]
    d = pc.layer(key) / scale["key"] / "cutout"
    boxes = PC_BOXES[(key, mip)]
    paths = [d / cutout_name(b, ext) for b in boxes]
    res = fetch(paths, tmp_path)
    for b, p in zip(boxes, paths):
        x0, x1, y0, y1, z0, z1 = b
        want = ref[x0 - ox:x1 - ox, y0 - oy:y1 - oy, z0 - oz:z1 - oz, :].transpose(2, 1, 0, 3)
        want = np.ascontiguousarray(want[..., 0] if want.shape[-1] == 1 else want)
        arr, attrs = decode_cutout(ext, fetched(res[p], p), want, str(p))
        C.assert_same(arr, want, lossy=vol.spec.lossy, what=str(p))
        if ext == "h5":
            check_h5_attrs(attrs, scale["resolution"], b, _source(pc, key), str(p))


@pytest.mark.parametrize("key", list(PRECOMPUTED))
def test_precomputed_scales_list_cutout(pc, volumes, key):
    """Every scale of a precomputed layer lists ``cutout``, and cutout/ lists nothing."""
    vol = volumes[PRECOMPUTED[key]]
    for s in vol.info["scales"]:
        d = pc.layer(key) / s["key"]
        kind, names = M.list_in_child(d)
        assert kind == "OK" and "cutout" in names, (d, names if kind == "OK" else f"errno {names}")
        assert M.list_in_child(d / "cutout") == ("OK", []), d


# ---------------------------------------------------------------- names that do not exist

# (mount key, names that must be ENOENT, a name that must exist)
ENOENT_CASES = {
    "/g/u8": ([  # bounds x 1..81, y 1..49, z 1..33
        "0-10_1-5_1-5.npy", "1-82_1-5_1-5.npy", "1-10_1-50_1-5.h5", "1-10_1-5_0-5.tif", "1-10_1-5_30-34.npy",
        "10-5_1-5_1-5.npy", "5-5_1-5_1-5.npy", "1-5_3-3_1-5.h5", "1-5_1-5_9-8.tif",
        "1-2_1-2.npy", "a-b_1-2_1-2.h5", "1-2_1-2_1-2.png", "1-2_1-2_1-2", "1-2_1-2_1-2.npy.gz",
        "-1-2_1-2_1-2.npy", "1_2-1_2-1_2.npy", "1-2-3_1-2_1-2.npy", "1-2_1-2_1-2_1-2.npy", "1-2_1-2_1-2.jpg",
    ], "1-2_1-2_1-2.npy"),
    "/g/f32": ([  # bounds x 0..80, y 0..24, z 0..16: the names of the issue
        "1-2_3-4.npy", "a-b_0-1_0-1.h5", "0-1_0-1_0-1.png", "0-1_0-1_0-1", "0-81_0-1_0-1.npy", "0-1_0-25_0-1.h5",
        "0-1_0-1_0-17.tif",
    ], "0-1_0-1_0-1.npy"),
    "/pc/u16": ([  # mip 0 bounds x 17..317, y 33..233, z 95..135
        "0-10_33-40_95-96.npy", "16-20_33-40_95-96.npy", "17-318_33-40_95-96.h5", "17-20_33-40_94-96.tif",
        "17-20_33-40_135-136.npy", "20-17_33-40_95-96.npy", "17-20_33-40_95-95.npy",
    ], "17-20_33-40_95-96.npy"),
}


@pytest.mark.parametrize("key", list(ENOENT_CASES))
def test_cutout_names_not_found(request, volumes, key):
    """Boxes outside the scale, inverted or empty boxes and malformed names: ENOENT."""
    bad, good = ENOENT_CASES[key]
    if key in PRECOMPUTED:
        pcm = request.getfixturevalue("pc")
        d = pcm.layer(key) / volumes[PRECOMPUTED[key]].scale(0)["key"] / "cutout"
    else:
        main = request.getfixturevalue("main")
        d = main.layer(key) / H.BY_NAME[MAIN_GRIDS[key]].scale_key / "cutout"
    res = fetch([d / good] + [d / n for n in bad], None)
    assert "errno" not in res[d / good], f"{d / good}: errno {res[d / good].get('errno')} (the valid name)"
    wrong = [f"{n}: {'exists' if 'errno' not in res[d / n] else errno.errorcode.get(res[d / n]['errno'])}"
             for n in bad if res[d / n].get("errno") != errno.ENOENT]
    assert not wrong, "want ENOENT:\n" + "\n".join(wrong)


def test_cutout_stat_size_before_read(main, tmp_path):
    """st_size of a never-read cutout equals the bytes then read (npy size is exact arithmetic)."""
    spec = H.BY_NAME["u32gz"]
    b = (41, 77, 3, 44, 50, 61)
    d = main.layer("/g/u32gz") / spec.scale_key / "cutout"
    paths = [d / cutout_name(b, ext) for ext in CUTOUT_EXTS]
    sizes = fetch(paths, None)
    res = fetch(paths, tmp_path)
    nbytes = (b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4]) * 4
    for p in paths:
        assert sizes[p].get("st_size") == res[p].get("size"), (p, sizes[p], res[p])
        assert res[p]["size"] >= nbytes, p
    npy = paths[1]
    assert (res[npy]["size"] - nbytes) % 16 == 0 and res[npy]["size"] - nbytes <= 4096, res[npy]


# ================================================================ errors (errs mount)

def _log_has(handle, needle: str, timeout: float = 5) -> bool:
    def look():
        return handle.log_file.exists() and needle in handle.log_file.read_text(errors="replace")
    return P.wait_until(look, timeout, 0.1)


def _inside(b: tuple, margin: int = 2) -> tuple:
    x0, x1, y0, y1, z0, z1 = b
    return (x0 + margin, x1 - margin, y0 + margin, y1 - margin, z0 + margin, z1 - margin)


def test_strict_missing_cube_is_eio(errs, tmp_path):
    """fill_missing: false: reads touching the missing cube fail with EIO (slices, cutouts,
    volume.npy bytes there); boxes of present cubes read fine."""
    g = errs.gs.grids["holes"]
    spec = g.spec
    sd = errs.layer(STRICT) / spec.scale_key
    miss = spec.cube_box((1, 0, 0))
    good = [_inside(spec.cube_box((0, 0, 0))), _inside(spec.cube_box((2, 1, 0)), 3)]
    bad_boxes = [miss, (30, 50, 5, 10, 0, 4), (45, 46, 3, 4, 8, 9)]
    bad = [sd / "cutout" / cutout_name(b, e) for b in bad_boxes for e in ("npy", "h5")]
    bad.append(sd / C.slice_name(3, C.z_width(spec.z_range), "npy"))
    res = fetch(bad, tmp_path)
    for p in bad:
        expect_errno(res[p], p, errno.EIO, stages=("open", "read"))
    # the bytes of volume.npy over the missing cube
    vnpy = sd / "volume.npy"
    st = fetch([vnpy], None)[vnpy]
    assert "errno" not in st, st
    header = st["st_size"] - g.volume.nbytes
    Y, X = g.volume.shape[1:]
    off = header + (5 * Y + 3) * X * 2 + miss[0] * 2
    code, out, _ = P.run_python_child(
        "import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\n"
        "try:\n print('OK',len(os.pread(fd,64,int(sys.argv[2]))))\nexcept OSError as e:\n print('ERR',e.errno)\n",
        [vnpy, off], timeout=60)
    assert out.split() == ["ERR", str(errno.EIO)], f"volume.npy over the missing cube: {out!r}"
    paths = [sd / "cutout" / cutout_name(b, "npy") for b in good]
    res = fetch(paths, tmp_path)
    for b, p in zip(good, paths):
        C.assert_same(np.load(fetched(res[p], p)), g.expected(*b), what=str(p))


BAD_CASES = [(LZF, "lzf", "lzf")] + [(CORRUPT, "corrupt", k) for k in H.BAD_KINDS if k != "lzf"]


@pytest.mark.parametrize("key, grid, kind", BAD_CASES, ids=[c[2] for c in BAD_CASES])
def test_bad_cube_is_eio(errs, key, grid, kind, tmp_path):
    """A cube voxfs cannot decode (lzf filter, truncated, garbage, wrong shape, no dataset)
    reads as EIO with a log line naming it, never as wrong data or zeros; the good cube of
    the same grid still reads right afterwards."""
    g = errs.gs.grids[grid]
    spec = g.spec
    ix = H.bad_cubes(g)[kind]
    sd = errs.layer(key) / spec.scale_key
    bad = [sd / "cutout" / cutout_name(_inside(spec.cube_box(ix), m), e)
           for m, e in ((2, "npy"), (3, "h5"), (4, "tif"))]
    res = fetch(bad, tmp_path)
    for p in bad:
        expect_errno(res[p], p, errno.EIO, stages=("open", "read"))
    needle = f"{grid}/{g.files[ix].name}"
    assert _log_has(errs.handle, needle), f"no log line names {needle}"
    # a box of the good cube no other test reads
    n = H.BAD_KINDS.index(kind)
    b = (1 + n, 30 + n, 2, 20, 1 + n, 9 + n)
    p = sd / "cutout" / cutout_name(b, "npy")
    res = fetch([p], tmp_path)
    C.assert_same(np.load(fetched(res[p], p)), g.expected(*b), what=str(p))
    assert P.is_mounted(errs.mp)


@pytest.mark.parametrize("key, grid", [(LZF, "lzf"), (CORRUPT, "corrupt")])
def test_slices_over_bad_cubes_are_eio(errs, key, grid, tmp_path):
    """Every slice crosses the bad cubes: EIO in every format, and the next good read works."""
    g = errs.gs.grids[grid]
    spec = g.spec
    w = C.z_width(spec.z_range)
    sd = errs.layer(key) / spec.scale_key
    paths = [sd / C.slice_name(z, w, ext) for z, ext in ((5, "npy"), (6, "tif"), (11, "png"))]
    res = fetch(paths, tmp_path)
    for p in paths:
        expect_errno(res[p], p, errno.EIO, stages=("open", "read"))
    b = (3, 7, 3, 7, 12, 14)
    p = sd / "cutout" / cutout_name(b, "tif")
    res = fetch([p], tmp_path)
    want = g.expected(*b)
    C.assert_same(decode_cutout("tif", fetched(res[p], p), want, str(p))[0], want, what=str(p))


@pytest.mark.parametrize("which", ["hdf5grid", "precomputed"])
def test_max_cutout_efbig(which, request, references, volumes, tmp_path):
    """A box of more array bytes than max_cutout is EFBIG at stat (every format); a box of
    exactly max_cutout bytes reads right."""
    if which == "hdf5grid":
        m = request.getfixturevalue("errs")
        g = m.gs.grids["u8"]
        d = m.layer(SMALL_GRID) / g.spec.scale_key / "cutout"
        depth = SMALL_GRID_LIMIT // (80 * 48)  # u8: 80 x 48 voxels in x, y, 1 byte each
        assert 80 * 48 * depth <= SMALL_GRID_LIMIT < 80 * 48 * (depth + 1)
        at_limit = (1, 81, 1, 49, 1, 1 + depth)
        want = g.expected(*at_limit)
    else:
        m = request.getfixturevalue("pc")
        vol = volumes["cv/u16"]
        d = m.layer(SMALL_PC) / vol.scale(0)["key"] / "cutout"
        at_limit = (17, 273, 33, 161, 95, 111)  # 256 x 128 x 16 uint16 = 1 MiB
        assert 256 * 128 * 16 * 2 == SMALL_PC_LIMIT
        ref = references("cv/u16", 0)
        ox, oy, oz = vol.scale(0)["voxel_offset"]
        x0, x1, y0, y1, z0, z1 = at_limit
        want = np.ascontiguousarray(ref[x0 - ox:x1 - ox, y0 - oy:y1 - oy, z0 - oz:z1 - oz, 0].transpose(2, 1, 0))
    over = at_limit[:5] + (at_limit[5] + 1,)
    too_big = [d / cutout_name(over, e) for e in CUTOUT_EXTS]
    res = fetch(too_big, None)
    for p in too_big:
        expect_errno(res[p], p, errno.EFBIG, stages=("stat",))
    p = d / cutout_name(at_limit, "npy")
    res = fetch([p], tmp_path)
    C.assert_same(np.load(fetched(res[p], p)), want, what=str(p))


# ================================================================ fetching only what is needed

@pytest.fixture(scope="module")
def big(voxfs_bin, grid_dav, big_grid, tmp_path_factory):
    base = tmp_path_factory.mktemp("h5grid-big")
    with M.mounted(base, {"/big": H.BIG.config(grid_dav.url("big", "dav"))}, name="big") as h:
        yield h


def _warm_metadata(mp: Path) -> Path:
    layer = mp / "big"
    res = fetch([layer / "info"], None)
    assert "errno" not in res[layer / "info"], res
    assert M.list_in_child(layer / H.BIG.scale_key)[0] == "OK"
    return layer / H.BIG.scale_key


def test_one_slice_fetches_one_chunk_layer(big, big_grid, tmp_path):
    """Reading one z-slice of two 16 MiB cubes (64^3 gzip chunks) fetches about the one
    layer of chunks under it (a quarter of each file), not the cube files."""
    sd = _warm_metadata(big.mountpoint)
    z = 100
    p = sd / C.slice_name(z, C.z_width(H.BIG.z_range), "npy")
    r0, b0 = M.net(big.mountpoint)
    res = fetch([p], tmp_path)
    r1, b1 = M.net(big.mountpoint)
    C.assert_same(np.load(fetched(res[p], p)), big_grid.slice(z), what=str(p))
    total = sum(big_grid.sizes.values())
    need = sum(H.chunk_bytes_for_z(f, "/data", z) for f in big_grid.files.values())
    got = b1 - b0
    print(f"one slice: {got} bytes in {r1 - r0} requests; files {total} bytes, chunks under the slice {need}")
    assert 0 < got < 0.3 * total, (f"one slice fetched {got} bytes in {r1 - r0} requests; the files are {total} "
                                   f"bytes, the chunks under the slice {need}")


def test_reread_through_volume_npy_fetches_nothing(big, big_grid, tmp_path):
    """After a slice was read, the same plane of volume.npy is served without new fetches."""
    sd = _warm_metadata(big.mountpoint)
    z = 200
    p = sd / C.slice_name(z, C.z_width(H.BIG.z_range), "npy")
    res = fetch([p], tmp_path)
    C.assert_same(np.load(fetched(res[p], p)), big_grid.slice(z), what=str(p))
    vnpy = sd / "volume.npy"
    st = fetch([vnpy], None)[vnpy]
    assert "errno" not in st, st
    plane = big_grid.slice(z)
    header = st["st_size"] - big_grid.volume.nbytes
    r0, b0 = M.net(big.mountpoint)
    raw = pread_in_child(vnpy, header + z * plane.nbytes, plane.nbytes, tmp_path)
    r1, b1 = M.net(big.mountpoint)
    assert raw == plane.tobytes(), "volume.npy plane differs"
    assert (r1 - r0, b1 - b0) == (0, 0), f"re-reading plane {z} fetched {b1 - b0} bytes in {r1 - r0} requests"
