"""Segmentation layers (uint32/uint64, raw and compressed_segmentation) and sharded
layers (neuroglancer_uint64_sharded_v1, segmentation and image), compared voxel for
voxel with what tensorstore reads from the same nginx URL.

The volumes are in seg_volumes.py (written by tensorstore and cloud-volume).
Each volume gets its own mount (``/<name>`` in a config of its own, own cache
dir), made the first time a test needs it, so a layer voxfs cannot mount yet
fails only its own tests. ``test_all_layers_in_one_mount`` mounts them together.

Run alone:  /tmp/venv-probe/bin/python -m pytest Tests/integration/test_segmentation.py -q
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import checks as C
import conftest
import fake_layer
import seg_volumes as SV
import voxfs_proc as P

GOOD = [s for s in SV.SEG_VOLUMES if not s.corrupt]
CORRUPT = [s for s in SV.SEG_VOLUMES if s.corrupt]
SCALES = [(s.name, mip) for s in GOOD for mip in range(len(s.scales))]
SLICES = [(s.name, mip, ext) for s in GOOD for mip in range(len(s.scales)) for ext in s.formats]
BLOCKY = [s.name for s in GOOD if s.data in ("blocks", "unique")]
ALL_WIDTHS = {0, 1, 2, 4, 8, 16, 32}


def _id(case) -> str:
    return "-".join(str(c) for c in case) if isinstance(case, tuple) else str(case)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def seg_vols(nginx_server) -> dict:
    """Every volume written into nginx's root, its reference read over HTTP by
    tensorstore, then the corrupt ones damaged on the server."""
    vols = {}
    for spec in SV.SEG_VOLUMES:
        v = SV.write_volume(spec, nginx_server.root, nginx_server.url)
        v.reference = [SV.read_ts_http(v.url, mip) for mip in range(len(spec.scales))]
        vols[spec.name] = v
    for v in vols.values():
        if v.spec.corrupt:
            v.damaged = SV.apply_corruption(v)
    return vols


_borrowed: list = []  # mounts whose log tail a failing test should show


@pytest.fixture(autouse=True)
def _seg_log_tails():
    """conftest's report hook appends the log tail of every mount in
    ``conftest._active_mounts``; list there the mounts this test used."""
    yield
    while _borrowed:
        h = _borrowed.pop()
        if h in conftest._active_mounts:
            conftest._active_mounts.remove(h)


class SegMounts:
    def __init__(self, work: Path, vols: dict, binary: Path):
        self.work, self.vols, self.binary = work, vols, binary
        self.handles: dict = {}
        self.errors: dict = {}

    def mount(self, tag: str, names: list):
        """Mount ``names`` (each at /<name>) in one fresh daemon; raises on failure."""
        d = self.work / tag
        d.mkdir(parents=True, exist_ok=True)
        cfg = P.write_config(d / "voxfs.yaml", {"/" + n: "precomputed://" + self.vols[n].url for n in names},
                             cache={"dir": str(d / "cache"), "size": "1GiB"})
        return P.VoxfsMount(cfg, d / "mnt", log_file=d / "voxfs.log", binary=self.binary).open()

    def get(self, name: str):
        """(layer dir, mount handle) of the volume's own mount."""
        if name in self.errors:
            pytest.fail(f"(mount failed earlier) {self.errors[name]}", pytrace=False)
        if name not in self.handles:
            try:
                self.handles[name] = self.mount("m-" + name.replace("/", "_"), [name])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                self.errors[name] = f"mounting /{name} ({self.vols[name].url}): {e}"
                pytest.fail(self.errors[name], pytrace=False)
        h = self.handles[name]
        self.borrow(h)
        return h.mountpoint / name, h

    @staticmethod
    def borrow(h) -> None:
        if h not in conftest._active_mounts:
            conftest._active_mounts.append(h)
            _borrowed.append(h)

    def close(self) -> None:
        for h in self.handles.values():
            h.close()


@pytest.fixture(scope="module")
def seg_mounts(voxfs_bin, seg_vols, work_dir):
    m = SegMounts(work_dir / "seg", seg_vols, voxfs_bin)
    yield m
    m.close()


# ---------------------------------------------------------------- checks

def read_in_child_bytes(path: Path, offset: int, length: int, timeout: float = 60) -> tuple:
    """pread ``length`` bytes at ``offset`` in a child process, with readahead off
    (POSIX_FADV_RANDOM) so only the pages of the range are requested.
    Returns ("OK", bytes) or ("ERR", errno)."""
    code = r"""
import os, sys
path, off, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    out = bytearray()
    while len(out) < n:
        b = os.pread(fd, n - len(out), off + len(out))
        if not b:
            break
        out += b
    os.close(fd)
    sys.stdout.buffer.write(b"OK\n" + bytes(out))
except OSError as e:
    sys.stdout.buffer.write(b"ERR %d\n" % e.errno)
"""
    try:
        r = subprocess.run([sys.executable, "-c", code, str(path), str(offset), str(length)],
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"reading {path} [{offset}, +{length}) did not finish within {timeout}s")
    head, _, body = r.stdout.partition(b"\n")
    if head == b"OK":
        return ("OK", body)
    if head.startswith(b"ERR "):
        return ("ERR", int(head[4:]))
    raise RuntimeError(f"reader child failed: {r.stderr.decode(errors='replace')}")


def npy_header(path: Path) -> tuple:
    """(shape, dtype, data offset) of an NPY file, from its first bytes only."""
    with open(path, "rb") as f:
        head = f.read(4096)
    import io

    b = io.BytesIO(head)
    assert np.lib.format.read_magic(b) == (1, 0), f"{path}: not NPY v1.0"
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(b)
    assert not fortran
    return shape, dtype, b.tell()


def check_tif_tags(path: Path, dtype: str) -> None:
    import tifffile

    with tifffile.TiffFile(path) as t:
        page = t.pages[0]
        bits = page.tags["BitsPerSample"].value
        assert bits == np.dtype(dtype).itemsize * 8, f"{path}: BitsPerSample {bits} for {dtype}"
        sf = page.tags.get("SampleFormat")
        assert sf is None or int(sf.value) == 1, f"{path}: SampleFormat {sf.value} for {dtype}, want 1 (uint)"
        assert page.dtype == np.dtype(dtype), f"{path}: tifffile dtype {page.dtype}"


def check_seg_slice(layer: Path, vol, mip: int, z: int, ext: str, ref: np.ndarray) -> None:
    C.check_slice(layer, vol, mip, z, ext, ref)  # size, format, voxel for voxel (exact dtype)
    p = C.slice_path(layer, vol, mip, z, ext)
    if ext == "tif":
        check_tif_tags(p, vol.spec.dtype)
    if ext == "npy":
        _, dt, _ = npy_header(p)
        assert dt.str == np.dtype(vol.spec.dtype).newbyteorder("<").str, f"{p}: NPY descr {dt.str}"


def check_subregions(layer: Path, vol, mip: int, ref: np.ndarray, n: int = 4, seed: int = 0) -> None:
    """Random boxes of volume.npy (mmap) against the reference, each crossing chunk borders."""
    p = layer / vol.scale(mip)["key"] / "volume.npy"
    exp = C.expected_volume(ref)
    mm = np.load(p, mmap_mode="r")
    rng = np.random.default_rng(seed)
    try:
        for _ in range(n):
            sl = []
            for dim in exp.shape[:3]:
                a = int(rng.integers(0, dim))
                b = int(rng.integers(a + 1, dim + 1))
                sl.append(slice(a, b))
            sl = tuple(sl)
            C.assert_same(np.array(mm[sl]), exp[sl], lossy=vol.spec.lossy, what=f"{p}[{sl}]")
    finally:
        del mm


def check_scale(layer: Path, vol, mip: int) -> None:
    ref = vol.reference[mip]
    C.check_listing(layer, vol, mip)
    for z in C.interesting_z(vol.z_range(mip), vol.scale(mip)["chunk_sizes"][0][2]):
        for ext in vol.spec.formats:
            check_seg_slice(layer, vol, mip, z, ext, ref)
    C.check_volume_npy(layer, vol, mip, ref)


# ---------------------------------------------------------------- the fixtures are what they claim (no voxfs)

def test_fixture_data_and_encodings(seg_vols):
    widths_seen: set = set()
    for name, v in seg_vols.items():
        spec = v.spec
        for mip, scale in enumerate(spec.scales):
            ref = v.reference[mip]
            assert ref.dtype == np.dtype(spec.dtype)
            if spec.lossy:
                assert np.abs(ref.astype(int) - v.expected[mip].astype(int)).max() < 40, name
            else:
                assert np.array_equal(ref, v.expected[mip]), f"{name} mip {mip}: tensorstore != data written"
            if scale.encoding == "compressed_segmentation" and not spec.corrupt:
                w = SV.scale_widths(v, mip)
                widths_seen |= set(w)
                if mip == 0:
                    assert spec.expect_widths <= set(w), f"{name}: widths {dict(w)} lack {spec.expect_widths}"
            if spec.data == "blocks" and mip == 0:
                m = SV.region_mask(scale)
                ids = SV.BIG_IDS if spec.dtype == "uint64" else SV.BIG_IDS_U32
                for (x, y, z), want in zip(SV.plant_points(scale), ids):
                    if m is None or m[x, y, z]:
                        assert int(ref[x, y, z, 0]) == want, (name, (x, y, z))
                if spec.dtype == "uint64":
                    assert (ref > 2**53).sum() > 1000 and (ref == 0).sum() > 100 and ((ref > 0) & (ref < 2**20)).any()
                    if m is None:
                        assert (ref == 864691135122603047).any() and (ref == 2**63 + 12345).any()
    assert widths_seen == ALL_WIDTHS, f"compressed_segmentation widths seen: {sorted(widths_seen)}"
    # blocks that do not divide the chunk, sizes that do not divide the chunk, offsets
    scales = [s for spec in SV.SEG_VOLUMES for s in spec.scales]
    assert any(s.block and any(c % b for c, b in zip(s.chunk, s.block)) for s in scales)
    assert any(any(sz % c for sz, c in zip(s.size, s.chunk)) for s in scales)
    assert any(any(s.offset) for s in scales if s.sharding) and any(any(s.offset) for s in scales if not s.sharding)


def test_fixture_sharding(seg_vols):
    triples, hashes, mi_enc, data_enc = set(), set(), set(), set()
    missing_shard = missing_in_shard = False
    for name, v in seg_vols.items():
        for mip, scale in enumerate(v.spec.scales):
            sh = scale.sharding
            if not sh:
                assert not list((v.path / scale.key).glob("*.shard"))
                continue
            assert v.info["scales"][mip]["sharding"] == sh, name
            triples.add((sh["preshift_bits"], sh["minishard_bits"], sh["shard_bits"]))
            hashes.add(sh["hash"])
            mi_enc.add(sh["minishard_index_encoding"])
            data_enc.add(sh["data_encoding"])
            if v.spec.corrupt:
                continue
            st = Counter()
            chunks = SV.shard_chunks(v, mip, st)
            assert (st["gzip_minishard_indexes"] > 0) == (sh["minishard_index_encoding"] == "gzip"), name
            assert (st["gzip_chunks"] == len(chunks)) == (sh["data_encoding"] == "gzip"), name
            ids = SV.all_chunk_ids(scale)
            assert set(chunks) <= set(ids), f"{name}: chunk ids outside the grid"
            files = {f.name for f in (v.path / scale.key).glob("*.shard")}
            assert len(files) <= 2 ** sh["shard_bits"]
            if scale.regions:
                absent = set(ids) - set(chunks)
                assert absent, name
                # some absent chunk lives in a shard that exists, some shard file is absent
                present_shards = {f for f, _ in chunks.values()}
                missing_shard |= len(present_shards) < 2 ** sh["shard_bits"]
                missing_in_shard |= any(
                    f in present_shards for f in shard_files_of(scale, absent, chunks))
            else:
                assert set(chunks) == set(ids), f"{name} mip {mip}: {len(chunks)} of {len(ids)} chunks"
    assert len(triples) >= 3 and any(t[2] == 0 for t in triples) and any(t[1] == 0 for t in triples), triples
    assert hashes == {"identity", "murmurhash3_x86_128"}
    assert mi_enc == {"gzip", "raw"} and data_enc == {"gzip", "raw"}
    assert missing_shard and missing_in_shard


def shard_files_of(scale, chunk_ids, chunks) -> set:
    """Shard file names the (identity-hashed) ``chunk_ids`` belong to."""
    sh = scale.sharding
    assert sh["hash"] == "identity"
    digits = math.ceil(sh["shard_bits"] / 4)
    out = set()
    for cid in chunk_ids:
        h = cid >> sh["preshift_bits"]
        shard = (h >> sh["minishard_bits"]) & ((1 << sh["shard_bits"]) - 1)
        out.add(f"{shard:0{digits}x}.shard" if digits else "0.shard")
    # sanity: the formula agrees with where tensorstore put the chunks that exist
    for cid, (f, _) in chunks.items():
        h = cid >> sh["preshift_bits"]
        shard = (h >> sh["minishard_bits"]) & ((1 << sh["shard_bits"]) - 1)
        assert f == (f"{shard:0{digits}x}.shard" if digits else "0.shard")
    return out


def test_fixture_corruption_is_real(seg_vols):
    """tensorstore itself now fails on each damaged chunk and still reads the rest."""
    for spec in CORRUPT:
        v = seg_vols[spec.name]
        assert v.damaged
        store = SV.ts_open_http(v.url, 0)
        for (x0, x1), (y0, y1), (z0, z1) in v.damaged:
            with pytest.raises(Exception):
                store[x0:x1, y0:y1, z0:z1].read().result()
        ok_z = clean_z(v)
        for z in ok_z:
            got = np.asarray(store[:, :, z:z + 1].read().result())
            zr = v.z_range(0)
            assert np.array_equal(got, v.reference[0][:, :, z - zr[0]:z - zr[0] + 1]), (spec.name, z)


def test_checks_catch_lost_precision(seg_vols, tmp_path):
    """check_seg_slice / check_volume_npy pass on a contract tree written with
    tifffile/numpy, and fail when ids went through float64 (ids > 2**53 rounded)."""
    v = seg_vols["seg/ts-u64-rawenc-murmur"]
    refs = lambda mip: v.reference[mip]  # noqa: E731
    layer = fake_layer.build(tmp_path / "good", v, refs)
    for z in (v.z_range(0)[0], v.z_range(0)[-1]):
        for ext in v.spec.formats:
            check_seg_slice(layer, v, 0, z, ext, v.reference[0])
    C.check_volume_npy(layer, v, 0, v.reference[0])

    def via_float(kind, mip, z, a):
        with np.errstate(invalid="ignore"):
            return a.astype(np.float64).astype(np.uint64)

    bad = fake_layer.build(tmp_path / "bad", v, refs, mutate=via_float)
    for ext in v.spec.formats:
        with pytest.raises(AssertionError):
            check_seg_slice(bad, v, 0, v.z_range(0)[0], ext, v.reference[0])
    with pytest.raises(AssertionError):
        C.check_volume_npy(bad, v, 0, v.reference[0])


# ---------------------------------------------------------------- voxfs: every good volume

@pytest.mark.parametrize("name", [s.name for s in GOOD])
def test_info_and_layer_listing(name, seg_vols, seg_mounts):
    v = seg_vols[name]
    layer, _ = seg_mounts.get(name)
    with urllib.request.urlopen(v.url + "/info", timeout=10) as r:
        served = json.loads(r.read())
    p = layer / "info"
    data = p.read_bytes()
    assert os.stat(p).st_size == len(data)
    assert json.loads(data) == served
    keys = [s["key"] for s in v.info["scales"]]
    assert sorted(os.listdir(layer)) == sorted(["info", *keys])


@pytest.mark.parametrize("name,mip", SCALES, ids=[_id(c) for c in SCALES])
def test_scale_listing(name, mip, seg_vols, seg_mounts):
    layer, _ = seg_mounts.get(name)
    v = seg_vols[name]
    C.check_listing(layer, v, mip)
    if "png" not in v.spec.formats:
        p = C.slice_path(layer, v, mip, v.z_range(mip)[0], "png")
        with pytest.raises(FileNotFoundError):
            os.stat(p)


@pytest.mark.parametrize("name,mip,ext", SLICES, ids=[_id(c) for c in SLICES])
def test_slices_match_tensorstore(name, mip, ext, seg_vols, seg_mounts):
    """First, last, middle z and both sides of the first chunk border."""
    layer, _ = seg_mounts.get(name)
    v = seg_vols[name]
    for z in C.interesting_z(v.z_range(mip), v.scale(mip)["chunk_sizes"][0][2]):
        check_seg_slice(layer, v, mip, z, ext, v.reference[mip])


@pytest.mark.parametrize("name,mip", SCALES, ids=[_id(c) for c in SCALES])
def test_volume_npy_matches_tensorstore(name, mip, seg_vols, seg_mounts):
    layer, _ = seg_mounts.get(name)
    v = seg_vols[name]
    shape, dt, _ = npy_header(layer / v.scale(mip)["key"] / "volume.npy")
    assert dt.str == np.dtype(v.spec.dtype).newbyteorder("<").str, dt.str
    check_subregions(layer, v, mip, v.reference[mip], seed=mip)
    C.check_volume_npy(layer, v, mip, v.reference[mip])  # header, mmap, a subregion, full equality


@pytest.mark.parametrize("name", [n for n in BLOCKY if SV.SEG_BY_NAME[n].data == "blocks"])
def test_big_ids_exact(name, seg_vols, seg_mounts):
    """The planted ids (864691135122603047, 2**63+12345, 2**64-1, 2**53+1 for uint64)
    at their voxels, through npy, tif and volume.npy."""
    layer, _ = seg_mounts.get(name)
    v = seg_vols[name]
    scale = v.spec.scales[0]
    off = scale.offset
    m = SV.region_mask(scale)
    ids = SV.BIG_IDS if v.spec.dtype == "uint64" else SV.BIG_IDS_U32
    mm = np.load(layer / v.scale(0)["key"] / "volume.npy", mmap_mode="r")
    try:
        for (x, y, z), want in zip(SV.plant_points(scale), ids):
            if m is not None and not m[x, y, z]:
                want = 0
            for ext in ("npy", "tif"):
                a = C.decode(ext, C.slice_path(layer, v, 0, off[2] + z, ext).read_bytes(), v.spec.dtype, 1)
                assert int(a[y, x]) == want, f"{ext} z={off[2] + z} [y={y}, x={x}]: {int(a[y, x])} != {want}"
            assert int(mm[z, y, x]) == want, f"volume.npy[{z}, {y}, {x}]: {int(mm[z, y, x])} != {want}"
    finally:
        del mm


def test_every_slice_of_partial_volume(seg_vols, seg_mounts):
    """Sharded volume written only in part: chunks absent from their shard and
    whole shard files absent (404) read as zeros, exactly where tensorstore reads zeros."""
    name = "seg/ts-u64-partial"
    layer, _ = seg_mounts.get(name)
    v = seg_vols[name]
    scale = v.spec.scales[0]
    ref = v.reference[0]
    m = SV.region_mask(scale)
    assert not ref[~m].any() and ref[m].any()
    for z in v.z_range(0):
        check_seg_slice(layer, v, 0, z, "npy", ref)
    # one slice per chunk layer as tif too
    for z in range(v.z_range(0)[0], v.z_range(0)[-1] + 1, scale.chunk[2]):
        check_seg_slice(layer, v, 0, z + 3, "tif", ref)


def test_stats_json_counts_requests(seg_vols, seg_mounts):
    """stats.json network counters move when a sharded slice is first read (the bench relies on them)."""
    name = "seg/ts-u64-murmur-gz"
    h = seg_mounts.mount("stats", [name])
    seg_mounts.borrow(h)
    try:
        stats = lambda: json.loads((h.mountpoint / ".voxfs" / "stats.json").read_bytes())  # noqa: E731
        before = stats()["network"]
        v = seg_vols[name]
        z = v.z_range(0)[-1]
        check_seg_slice(h.mountpoint / name, v, 0, z, "npy", v.reference[0])
        after = stats()["network"]
        assert after["requests"] > before["requests"] and after["bytes_fetched"] > before["bytes_fetched"], \
            (before, after)
    finally:
        h.close()


def test_disk_cache_second_mount_exact(seg_vols, seg_mounts):
    """A second mount on the same cache dir serves the same ids (decoded chunks come
    back from the disk tier, zstd and all), including the zeros of the partial volume."""
    names = ["seg/ts-u64-murmur-gz", "seg/ts-u64-partial", "seg/cv-u64-b888"]
    passes = []
    for attempt in (1, 2):
        h = seg_mounts.mount("diskcache", names)
        seg_mounts.borrow(h)
        try:
            s0 = json.loads((h.mountpoint / ".voxfs" / "stats.json").read_bytes())
            for n in names:
                v = seg_vols[n]
                C.check_volume_npy(h.mountpoint / n, v, 0, v.reference[0])
            s1 = json.loads((h.mountpoint / ".voxfs" / "stats.json").read_bytes())
        finally:
            h.close()
        passes.append({"bytes_fetched": s1["network"]["bytes_fetched"] - s0["network"]["bytes_fetched"],
                       "requests": s1["network"]["requests"] - s0["network"]["requests"],
                       "disk_hits": s1["disk"]["counters"]["hits"] - s0["disk"]["counters"]["hits"]})
    assert passes[1]["disk_hits"] > 0 and passes[1]["bytes_fetched"] < passes[0]["bytes_fetched"], passes


def test_all_layers_in_one_mount(seg_vols, seg_mounts):
    """Every good volume under one config: listing, and the middle npy slice of each scale."""
    names = [s.name for s in GOOD]
    h = seg_mounts.mount("all", names)
    seg_mounts.borrow(h)
    try:
        tops = sorted({n.split("/")[0] for n in names})
        assert sorted(os.listdir(h.mountpoint)) == tops
        assert sorted(os.listdir(h.mountpoint / "seg")) == sorted(n.split("/", 1)[1] for n in names
                                                                  if n.startswith("seg/"))
        for n in names:
            v = seg_vols[n]
            for mip in range(len(v.spec.scales)):
                zr = v.z_range(mip)
                check_seg_slice(h.mountpoint / n, v, mip, zr[len(zr) // 2], "npy", v.reference[mip])
    finally:
        h.close()


# ---------------------------------------------------------------- voxfs: corrupted chunks

def clean_z(v) -> list:
    """Two z (first and last) of scale 0 that no damaged chunk touches."""
    zr = v.z_range(0)
    bad = {z for _, _, (z0, z1) in v.damaged for z in range(z0, z1)}
    ok = [z for z in zr if z not in bad]
    assert ok
    return sorted({ok[0], ok[-1]})


def row_range_bytes(hdr_off: int, shape: tuple, itemsize: int, z_rel: int, y0: int, y1: int) -> tuple:
    _, Y, X = shape[:3]
    return hdr_off + (z_rel * Y + y0) * X * itemsize, (y1 - y0) * X * itemsize


@pytest.mark.parametrize("name", [s.name for s in CORRUPT])
def test_corrupt_chunk_gives_eio(name, seg_vols, seg_mounts):
    """A truncated compressed_segmentation chunk file (unsharded) or a chunk overwritten
    with 0xFF inside its shard (raw and gzip data_encoding): EIO for every read that
    touches it, twice (no wrong ids, nothing cached); rows and slices elsewhere
    still exact; the daemon keeps answering."""
    layer, h = seg_mounts.get(name)
    v = seg_vols[name]
    ref = v.reference[0]
    zr = v.z_range(0)
    vpath = layer / v.scale(0)["key"] / "volume.npy"
    failures = []

    def expect(what, got, want):
        if got != want:
            if got[0] == "OK":  # read_in_child gives a count, read_in_child_bytes the bytes
                got = ("OK", f"{got[1] if isinstance(got[1], int) else len(got[1])} bytes")
            failures.append(f"{what}: got {got}, want {want}")

    # The header shares its page with the first data rows, which may be damaged:
    # take the data offset from the exact file size instead of reading it.
    exp_vol = C.expected_volume(ref)
    shape, dt = exp_vol.shape, exp_vol.dtype
    hdr = os.stat(vpath).st_size - exp_vol.nbytes
    assert 64 <= hdr <= 65536, f"{vpath}: st_size {hdr + exp_vol.nbytes} for {exp_vol.nbytes} data bytes"
    for box in v.damaged:
        (x0, x1), (y0, y1), (z0, z1) = box
        for z in (z0, z1 - 1):
            for ext in v.spec.formats:
                p = C.slice_path(layer, v, 0, z, ext)
                for attempt in (1, 2):
                    expect(f"{p.name} (chunk {box}) read #{attempt}", P.read_in_child(p, timeout=90),
                           ("ERR", errno.EIO))
        zm = (z0 + z1) // 2 - zr[0]
        off, n = row_range_bytes(hdr, shape, dt.itemsize, zm, y0 + 6, y1 - 6)
        for attempt in (1, 2):
            expect(f"volume.npy z={zm + zr[0]} rows {y0 + 6}..{y1 - 6} (chunk {box}) read #{attempt}",
                   read_in_child_bytes(vpath, off, n, timeout=90), ("ERR", errno.EIO))
        # rows of the same z outside the damaged chunk's rows, >= 5 rows (one page) away
        ya, yb = (5, y0 - 5) if y0 >= 16 else (y1 + 5, shape[1] - 5)
        off, n = row_range_bytes(hdr, shape, dt.itemsize, zm, ya, yb)
        r = read_in_child_bytes(vpath, off, n, timeout=90)
        if r[0] != "OK":
            failures.append(f"volume.npy z={zm + zr[0]} rows {ya}..{yb} (clean rows): got {r}, want OK")
        else:
            got = np.frombuffer(r[1], dtype=dt).reshape(yb - ya, shape[2])
            exp = exp_vol[zm, ya:yb]
            if not np.array_equal(got, exp):
                failures.append(f"volume.npy z={zm + zr[0]} rows {ya}..{yb}: "
                                f"{int((got != exp).sum())} voxels differ from tensorstore")
    # the daemon is alive and everything else reads right
    assert h.pids and all(P._alive(pid) for pid in h.pids), f"daemon gone: {h.pids}\n{h.log_tail()}"
    for z in clean_z(v):
        for ext in v.spec.formats:
            try:
                check_seg_slice(layer, v, 0, z, ext, ref)
            except (AssertionError, OSError) as e:
                failures.append(f"clean slice z={z} .{ext}: {e}")
    json.loads((h.mountpoint / ".voxfs" / "stats.json").read_bytes())
    assert not failures, "\n".join(failures)
