"""voxfs' files compared with what cloud-volume / tensorstore read over HTTP."""

from __future__ import annotations

import errno
import json
import os
import threading
import urllib.request

import numpy as np
import pytest

import checks as C
import volumes as V
from conftest import STRICT_KEY

MOUNTED = [s for s in V.VOLUMES if not s.name.startswith("broken/")]
SLICE_CASES = [(s.name, mip, ext) for s in MOUNTED for mip in range(s.scales) for ext in s.formats]
SCALE_CASES = [(s.name, mip) for s in MOUNTED for mip in range(s.scales)]


def _id(case):
    return "-".join(str(c) for c in case)


# ---------------------------------------------------------------- slice contents

@pytest.mark.parametrize("name,mip,ext", SLICE_CASES, ids=[_id(c) for c in SLICE_CASES])
def test_slice_matches_reference(name, mip, ext, voxfs_mount, references):
    vol = voxfs_mount.vols[name]
    ref = references(name, mip)
    layer = voxfs_mount.layer(name)
    for z in C.interesting_z(vol.z_range(mip), vol.scale(mip)["chunk_sizes"][0][2]):
        C.check_slice(layer, vol, mip, z, ext, ref)


@pytest.mark.parametrize("name,mip", SCALE_CASES, ids=[_id(c) for c in SCALE_CASES])
def test_volume_npy_matches_reference(name, mip, voxfs_mount, references):
    C.check_volume_npy(voxfs_mount.layer(name), voxfs_mount.vols[name], mip, references(name, mip))


def test_every_slice_of_one_scale(voxfs_mount, references):
    """All z of ts/u16 mip 1 (33 slices, npy): no off-by-one anywhere in z."""
    name, mip = "ts/u16", 1
    vol, ref, layer = voxfs_mount.vols[name], references(name, mip), voxfs_mount.layer(name)
    for z in vol.z_range(mip):
        C.check_slice(layer, vol, mip, z, "npy", ref)


def test_png_absent_where_not_representable(voxfs_mount):
    for name in ("cv/f32", "cv/u64", "ts/u8x2", "ts/i16"):
        vol = voxfs_mount.vols[name]
        p = C.slice_path(voxfs_mount.layer(name), vol, 0, vol.z_range(0)[0], "png")
        assert "png" not in vol.spec.formats
        with pytest.raises(FileNotFoundError):
            os.stat(p)
        assert p.with_suffix(".tif").exists() and p.with_suffix(".npy").exists()


# ---------------------------------------------------------------- layout

@pytest.mark.parametrize("name,mip", SCALE_CASES, ids=[_id(c) for c in SCALE_CASES])
def test_scale_listing(name, mip, voxfs_mount):
    C.check_listing(voxfs_mount.layer(name), voxfs_mount.vols[name], mip)


def test_layer_and_root_listing(voxfs_mount):
    mp = voxfs_mount.mp
    top = {n.split("/")[0] for n in V.BY_NAME} | {STRICT_KEY.split("/")[1]}
    assert sorted(os.listdir(mp)) == sorted(top)
    assert sorted(os.listdir(mp / "cv")) == sorted(n.split("/")[1] for n in V.BY_NAME if n.startswith("cv/"))
    assert sorted(os.listdir(mp / "strict")) == ["missing-u8"]
    for name, vol in voxfs_mount.vols.items():
        layer = voxfs_mount.layer(name)
        keys = [s["key"] for s in vol.info["scales"]]
        assert sorted(os.listdir(layer)) == sorted(["info", *keys]), layer
        for k in keys:
            assert (layer / k).is_dir()
        assert (layer / "info").is_file()


def test_padding_examples(voxfs_mount):
    # cv/u16: z 95..134 -> 3 digits; cv/u8: z 0..39 -> 2 digits; cv/u64: z 1..9 -> 1 digit
    assert (voxfs_mount.layer("cv/u16") / "8_8_40" / "z095.png").is_file()
    assert (voxfs_mount.layer("cv/u16") / "8_8_40" / "z134.tif").is_file()
    assert (voxfs_mount.layer("cv/u8") / "8_8_40" / "z00.png").is_file()
    assert (voxfs_mount.layer("cv/u8") / "16_16_40" / "z39.npy").is_file()
    assert (voxfs_mount.layer("cv/u64") / "8_8_40" / "z1.npy").is_file()
    assert (voxfs_mount.layer("cv/u64") / "8_8_40" / "z9.tif").is_file()


def test_unpadded_lookup(voxfs_mount):
    d = voxfs_mount.layer("cv/u16") / "8_8_40"
    listing = os.listdir(d)
    for unpadded, padded in (("z95.png", "z095.png"), ("z99.npy", "z099.npy"), ("z100.tif", "z100.tif")):
        assert os.stat(d / unpadded).st_size == os.stat(d / padded).st_size
        assert (d / unpadded).read_bytes() == (d / padded).read_bytes()
    assert "z95.png" not in listing
    d2 = voxfs_mount.layer("cv/u8") / "8_8_40"
    assert (d2 / "z7.png").read_bytes() == (d2 / "z07.png").read_bytes()


@pytest.mark.parametrize("bad", ["z094.png", "z135.png", "z94.png", "z-1.png", "zabc.png", "z095.jpg",
                                 "z095", "095.png", "z095.png.gz", "volume.tif"])
def test_nonexistent_names(bad, voxfs_mount):
    with pytest.raises(FileNotFoundError):
        os.stat(voxfs_mount.layer("cv/u16") / "8_8_40" / bad)


def test_nonexistent_layer_and_scale(voxfs_mount):
    for p in (voxfs_mount.mp / "nope", voxfs_mount.layer("cv/u8") / "4_4_40",
              voxfs_mount.layer("cv/u8") / "info" / "x", voxfs_mount.mp / "cv" / "u9"):
        with pytest.raises((FileNotFoundError, NotADirectoryError)):
            os.stat(p)


@pytest.mark.parametrize("name", ["cv/u8", "cv/u16", "ts/u16", "cv/rgbjpeg", "gz/u16", "broken/u8"])
def test_info_equals_served(name, voxfs_mount):
    vol = voxfs_mount.vols[name]
    with urllib.request.urlopen(vol.url + "/info", timeout=10) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
    p = voxfs_mount.layer(name) / "info"
    data = p.read_bytes()
    assert os.stat(p).st_size == len(data)
    assert json.loads(data) == json.loads(body)


# ---------------------------------------------------------------- sizes and reads

# z values chosen so that no other test reads these files (before or after)
STAT_FILES = [("cv/u16", 0, 101, "png"), ("cv/u16", 2, 133, "tif"), ("cv/rgbjpeg", 0, 12, "png"),
              ("ts/rgba", 0, 7, "png"), ("cv/f32", 1, 5, "tif"), ("ts/u8x2", 0, 3, "npy"),
              ("gz/u16", 0, 14, "png"), ("missing/u8", 0, 33, "png"), ("ts/u8jpeg", 1, 3, "png")]


@pytest.mark.parametrize("case", STAT_FILES, ids=[_id(c) for c in STAT_FILES])
def test_stat_size_before_any_read(case, voxfs_mount):
    """st_size, taken before the file was ever read, equals the bytes read."""
    name, mip, z, ext = case
    vol = voxfs_mount.vols[name]
    p = C.slice_path(voxfs_mount.layer(name), vol, mip, z, ext)
    size = os.stat(p).st_size
    with open(p, "rb") as f:
        assert os.fstat(f.fileno()).st_size == size
        data = f.read()
    assert len(data) == size
    assert os.stat(p).st_size == size
    vnpy = voxfs_mount.layer(name) / vol.scale(mip)["key"] / "volume.npy"
    sz = vol.scale(mip)["size"]
    itemsize = np.dtype(vol.spec.dtype).itemsize * vol.spec.channels
    header = os.stat(vnpy).st_size - sz[0] * sz[1] * sz[2] * itemsize
    assert header > 0 and header % 16 == 0, f"volume.npy header of {header} bytes"


def test_partial_reads(voxfs_mount):
    """Ranges from the middle of never-read files equal the same range of the whole file."""
    cases = [("cv/u16", 0, 120, "png"), ("cv/u16", 0, 121, "npy"), ("cv/u8", 0, 30, "tif"),
             ("ts/u16", 0, 20, "png")]
    for name, mip, z, ext in cases:
        vol = voxfs_mount.vols[name]
        p = C.slice_path(voxfs_mount.layer(name), vol, mip, z, ext)
        size = os.stat(p).st_size
        ranges = [(size // 2 - 4097, 70001), (size - 100, 100), (size - 5, 50), (1, 3), (size, 10),
                  (size + 4096, 10), (4095, 2)]
        fd = os.open(p, os.O_RDONLY)
        try:
            parts = [os.pread(fd, n, off) for off, n in ranges]
        finally:
            os.close(fd)
        whole = p.read_bytes()
        assert len(whole) == size
        for (off, n), got in zip(ranges, parts):
            assert got == whole[off:off + n], f"{p}: pread({n}, {off}) differs"


def test_partial_read_volume_npy(voxfs_mount, references):
    name = "cv/u16"
    vol = voxfs_mount.vols[name]
    p = voxfs_mount.layer(name) / vol.scale(0)["key"] / "volume.npy"
    exp = V.expected_volume(references(name, 0))
    size = os.stat(p).st_size
    header = size - exp.nbytes
    # bytes of z=20..21 only, read before anything else of that region
    zbytes = exp[0].nbytes
    off = header + 20 * zbytes + 12345
    with open(p, "rb") as f:
        f.seek(off)
        got = f.read(zbytes)
    assert got == np.ascontiguousarray(exp).tobytes()[off - header:off - header + zbytes]


def test_backwards_chunked_reads(voxfs_mount):
    vol = voxfs_mount.vols["ts/rgb"]
    p = C.slice_path(voxfs_mount.layer("ts/rgb"), vol, 0, 10, "tif")
    size = os.stat(p).st_size
    step = 777
    fd = os.open(p, os.O_RDONLY)
    try:
        pieces = {off: os.pread(fd, step, off) for off in reversed(range(0, size, step))}
    finally:
        os.close(fd)
    assert b"".join(pieces[o] for o in sorted(pieces)) == p.read_bytes()


def test_concurrent_reads(voxfs_mount, references):
    name, mip = "ts/u8jpeg", 0
    vol, ref, layer = voxfs_mount.vols[name], references(name, mip), voxfs_mount.layer(name)
    zs = list(vol.z_range(mip))
    errors = []

    def work(i):
        try:
            for z in zs[i::4]:
                for ext in ("png", "npy"):
                    C.check_slice(layer, vol, mip, z, ext, ref)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "reader threads hung"
    if errors:
        raise errors[0]


# ---------------------------------------------------------------- missing chunks

def test_missing_chunk_reads_as_zeros(voxfs_mount):
    name = "missing/u8"
    vol = voxfs_mount.vols[name]
    written = vol.written[0]
    r = V.MISSING_CHUNK_REGION
    layer = voxfs_mount.layer(name)
    for z in (r["z"][0], 23, r["z"][1] - 1, r["z"][1], r["z"][0] - 1):
        exp = written[:, :, z, 0].T.copy()
        if r["z"][0] <= z < r["z"][1]:
            exp[slice(*r["y"]), slice(*r["x"])] = 0
        for ext in ("png", "npy", "tif"):
            p = C.slice_path(layer, vol, 0, z, ext)
            arr = C.decode(ext, p.read_bytes(), "uint8", 1)
            C.assert_same(arr, exp, what=str(p))
        # the data around the hole is really there (not all zeros)
        assert exp.any()
    mm = np.load(layer / "8_8_40" / "volume.npy", mmap_mode="r")
    hole = np.array(mm[slice(*r["z"]), slice(*r["y"]), slice(*r["x"])])
    assert not hole.any()
    assert np.array_equal(np.array(mm[slice(*r["z"]), slice(*r["y"]), 128:192]),
                          written[128:192, slice(*r["y"]), slice(*r["z"]), 0].transpose(2, 1, 0))
    del mm


def test_fill_missing_false_gives_eio(voxfs_mount):
    """Inferred from the config option: with fill_missing: false a 404 chunk is an
    error (EIO), like cloud-volume's fill_missing=False; other chunks still read.
    The same source is also mounted with fill_missing (default true) at
    /missing/u8; reading the hole there first must not make the strict mount
    serve the cached zeros."""
    vol = voxfs_mount.vols["missing/u8"]
    strict = voxfs_mount.layer(STRICT_KEY)
    ok = C.slice_path(strict, vol, 0, 5, "npy")
    assert np.array_equal(np.load(ok), vol.written[0][:, :, 5, 0].T)
    lenient = C.slice_path(voxfs_mount.layer("missing/u8"), vol, 0, 24, "npy")
    assert not np.load(lenient)[64:128, 64:128].any()
    for z, ext in ((24, "npy"), (25, "png"), (17, "tif")):
        bad = C.slice_path(strict, vol, 0, z, ext)
        with pytest.raises(OSError) as ei:
            with open(bad, "rb") as f:
                f.read()
        assert ei.value.errno == errno.EIO, ei.value


# ---------------------------------------------------------------- gzip

def test_gzip_served_volume(voxfs_mount, nginx_server, references):
    """gz/u16 info and chunks arrive with Content-Encoding: gzip; voxfs decodes them."""
    vol = voxfs_mount.vols["gz/u16"]
    ref = references("gz/u16", 0)
    exp_all = vol.written[0]
    assert np.array_equal(ref, exp_all)
    layer = voxfs_mount.layer("gz/u16")
    assert json.loads((layer / "info").read_bytes()) == vol.info
    for z in vol.z_range(0):
        arr = np.load(C.slice_path(layer, vol, 0, z, "npy"))
        C.assert_same(arr, V.expected_slice(ref, z - vol.z_range(0)[0]), what=f"gz z={z}")
    log = nginx_server.access_log.read_text()
    assert '"GET /gz/u16/8_8_40/' in log, "voxfs did not fetch gz chunks from nginx"
