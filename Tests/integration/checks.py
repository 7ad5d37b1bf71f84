"""Decoding voxfs' files with independent libraries and comparing arrays.

Kept free of pytest fixtures so test_harness_selfcheck.py can prove that the
checks pass on correct files and fail on subtly wrong ones.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

import numpy as np

from volumes import expected_slice, expected_volume

PNG_SIG = b"\x89PNG\r\n\x1a\n"
PNG_COLOR = {1: 0, 3: 2, 4: 6}  # channels -> IHDR colour type (grey, RGB, RGBA)
PIL_MODE = {("uint8", 1): "L", ("uint16", 1): "I;16", ("uint8", 3): "RGB", ("uint8", 4): "RGBA"}


def slice_name(z: int, width: int, ext: str) -> str:
    return f"z{z:0{width}d}.{ext}"


def z_width(zr: range) -> int:
    """Digits of the largest z of a scale (the zero-padding width)."""
    return len(str(zr[-1]))


# ---------------------------------------------------------------- decoders

def png_chunks(data: bytes):
    assert data[:8] == PNG_SIG, f"not a PNG (starts {data[:8]!r})"
    pos = 8
    while pos < len(data):
        assert pos + 8 <= len(data), "truncated PNG chunk header"
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        assert len(body) == n, f"truncated PNG chunk {ctype!r}"
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(ctype + body) & 0xFFFFFFFF, f"bad CRC in PNG chunk {ctype!r}"
        yield ctype, body
        pos += 12 + n
        if ctype == b"IEND":
            assert pos == len(data), f"{len(data) - pos} trailing bytes after IEND"
            return
    raise AssertionError("PNG without IEND")


def decode_png(data: bytes, dtype: str, channels: int) -> np.ndarray:
    """PIL decode plus a structural check of the PNG (IHDR, CRCs, IEND at EOF)."""
    from PIL import Image

    chunks = list(png_chunks(data))
    assert chunks[0][0] == b"IHDR"
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == np.dtype(dtype).itemsize * 8, f"PNG bit depth {depth} for {dtype}"
    assert ctype == PNG_COLOR[channels], f"PNG colour type {ctype} for {channels} channel(s)"
    assert (comp, filt, interlace) == (0, 0, 0)
    im = Image.open(io.BytesIO(data))
    assert im.mode == PIL_MODE[(dtype, channels)], f"PIL mode {im.mode}"
    arr = np.asarray(im)
    assert arr.shape[:2] == (h, w)
    return arr


def decode_tif(data: bytes) -> np.ndarray:
    """tifffile decode; one page, uncompressed, classic TIFF (files here are < 4 GiB)."""
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        assert len(tif.pages) == 1, f"{len(tif.pages)} TIFF pages"
        assert not tif.is_bigtiff, "BigTIFF for a file < 4 GiB"
        page = tif.pages[0]
        assert int(page.compression) == 1, f"TIFF compression {page.compression!r}, want none"
        return page.asarray()


def decode_npy(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x93NUMPY\x01\x00", f"not an NPY v1.0 file ({data[:8]!r})"
    f = io.BytesIO(data)
    np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    assert not fortran, "NPY is fortran_order"
    assert dtype.str[0] in "<|", f"NPY dtype {dtype.str} not little-endian"
    body = len(data) - f.tell()
    assert body == int(np.prod(shape)) * dtype.itemsize, f"NPY body {body} bytes for {shape} {dtype}"
    return np.load(io.BytesIO(data), allow_pickle=False)


def decode(ext: str, data: bytes, dtype: str, channels: int) -> np.ndarray:
    if ext == "png":
        return decode_png(data, dtype, channels)
    if ext == "tif":
        return decode_tif(data)
    if ext == "npy":
        return decode_npy(data)
    raise ValueError(ext)


# ---------------------------------------------------------------- comparison

def assert_same(actual: np.ndarray, expected: np.ndarray, lossy: bool = False, what: str = "") -> None:
    """Voxel-for-voxel equality (bitwise for floats, so NaN/-0.0 count).

    ``lossy`` (jpeg): voxfs decodes with its own libjpeg-turbo; cloud-volume
    (simplejpeg) and tensorstore decode our jpeg chunks identically, so exact
    equality is expected, but a decoder built with different IDCT/upsampling
    settings may round differently, so a max abs difference of 1 is accepted
    (with a warning).
    """
    pre = f"{what}: " if what else ""
    assert actual.shape == expected.shape, f"{pre}shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == expected.dtype, f"{pre}dtype {actual.dtype} != expected {expected.dtype}"
    if expected.dtype.kind == "f":
        a = np.ascontiguousarray(actual).view(f"u{expected.dtype.itemsize}")
        e = np.ascontiguousarray(expected).view(f"u{expected.dtype.itemsize}")
    else:
        a, e = actual, expected
    if np.array_equal(a, e):
        return
    bad = np.argwhere(a != e)
    first = tuple(int(i) for i in bad[0])
    msg = (f"{pre}{len(bad)} of {e.size} values differ; first at {first}: "
           f"got {actual[first]!r}, expected {expected[first]!r}")
    if lossy and expected.dtype.kind in "ui":
        diff = int(np.abs(actual.astype(np.int64) - expected.astype(np.int64)).max())
        assert diff <= 1, msg + f"; max abs diff {diff} > 1"
        warnings.warn(f"{msg}; jpeg decode differs from reference by at most 1", stacklevel=2)
        return
    raise AssertionError(msg)


# ---------------------------------------------------------------- a mounted layer

def interesting_z(zr: range, chunk_z: int) -> list[int]:
    """First, last, middle, and both sides of the first chunk boundary."""
    cand = [zr[0], zr[-1], zr[len(zr) // 2], zr[0] + chunk_z - 1, zr[0] + chunk_z]
    return sorted({z for z in cand if z in zr})


def slice_path(layer, vol, mip: int, z: int, ext: str):
    return layer / vol.scale(mip)["key"] / slice_name(z, z_width(vol.z_range(mip)), ext)


def check_slice(layer, vol, mip: int, z: int, ext: str, ref: np.ndarray) -> None:
    """One z-slice file: stat size == bytes read, format, voxel-for-voxel data."""
    p = slice_path(layer, vol, mip, z, ext)
    st = os.stat(p)
    with open(p, "rb") as f:
        data = f.read()
    assert st.st_size == len(data), f"{p}: st_size {st.st_size} but read {len(data)} bytes"
    arr = decode(ext, data, vol.spec.dtype, vol.spec.channels)
    exp = expected_slice(ref, z - vol.z_range(mip)[0])
    assert_same(arr, exp, lossy=vol.spec.lossy, what=str(p))


def check_volume_npy(layer, vol, mip: int, ref: np.ndarray) -> None:
    """volume.npy: np.load(mmap_mode='r') equals the scale; so does a subregion."""
    p = layer / vol.scale(mip)["key"] / "volume.npy"
    exp = expected_volume(ref)
    with open(p, "rb") as f:
        head = f.read(10)
    assert head[:8] == b"\x93NUMPY\x01\x00", f"{p}: not NPY v1.0 ({head[:8]!r})"
    mm = np.load(p, mmap_mode="r")
    assert isinstance(mm, np.memmap), f"{p}: np.load(mmap_mode='r') did not memory-map"
    assert mm.shape == exp.shape, f"{p}: shape {mm.shape} != {exp.shape}"
    assert mm.dtype == exp.dtype, f"{p}: dtype {mm.dtype} != {exp.dtype}"
    Z, Y, X = exp.shape[:3]
    sub = (slice(Z // 3, Z // 3 + max(1, Z // 4)), slice(Y // 5, Y - Y // 7), slice(X // 2, X - 1))
    assert_same(np.array(mm[sub]), exp[sub], lossy=vol.spec.lossy, what=f"{p}[{sub}]")
    assert_same(np.array(mm), exp, lossy=vol.spec.lossy, what=str(p))
    del mm  # drop the mapping before the mount goes away
    size = os.stat(p).st_size
    with open(p, "rb") as f:
        n = len(f.read())
    assert size == n, f"{p}: st_size {size} but read {n} bytes"


def expected_listing(vol, mip: int) -> set:
    zr = vol.z_range(mip)
    w = z_width(zr)
    names = {slice_name(z, w, ext) for z in zr for ext in vol.spec.formats}
    names |= {"volume.npy", "cutout"}  # cutout/: lookup-only cutout files
    return names


def check_listing(layer, vol, mip: int, check_order: bool = True) -> None:
    """Exact set of names; with ``check_order``, each format's slices in ascending z
    (readdir order; a plain directory on disk lists in hash order, hence optional)."""
    d = layer / vol.scale(mip)["key"]
    names = os.listdir(d)
    assert len(names) == len(set(names)), f"{d}: duplicate names in listing"
    exp = expected_listing(vol, mip)
    missing, extra = sorted(exp - set(names)), sorted(set(names) - exp)
    assert not missing and not extra, f"{d}: missing {missing[:8]}, unexpected {extra[:8]}"
    for ext in vol.spec.formats if check_order else ():
        seq = [n for n in names if n.endswith("." + ext) and n.startswith("z")]
        assert seq == sorted(seq), f"{d}: .{ext} slices not listed in ascending z order: {seq[:6]}..."
