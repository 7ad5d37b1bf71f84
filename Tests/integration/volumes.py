"""Precomputed test volumes, written with cloud-volume or tensorstore, and
reference readers that fetch them back over HTTP.

Arrays are always in cloud-volume/tensorstore order: ``(X, Y, Z, C)``.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BASE_RESOLUTION = (8, 8, 40)
PNG_KINDS = {("uint8", 1), ("uint16", 1), ("uint8", 3), ("uint8", 4)}


@dataclass(frozen=True)
class VolumeSpec:
    name: str  # path under the served root, also the mount key ("/" + name)
    writer: str  # "cv" (cloud-volume) or "ts" (tensorstore)
    dtype: str
    channels: int
    encoding: str  # "raw" | "jpeg"
    size: tuple  # mip 0 (x, y, z)
    offset: tuple = (0, 0, 0)
    chunk: tuple = (64, 64, 16)
    scales: int = 1  # each further scale halves x and y
    compress: str | None = None  # cloud-volume compress= ("gzip" writes <chunk>.gz)
    gzip_info: bool = False  # replace info by info.gz (served with Content-Encoding: gzip)
    seed: int = 0
    reference: str = ""  # "cv" | "ts"; default: same as writer
    delete_chunks: tuple = ()  # ((mip, chunk file name), ...) removed after writing

    @property
    def ref_reader(self) -> str:
        return self.reference or self.writer

    @property
    def lossy(self) -> bool:
        return self.encoding == "jpeg"

    @property
    def formats(self) -> tuple:
        if (self.dtype, self.channels) in PNG_KINDS:
            return ("png", "tif", "npy")
        return ("tif", "npy")

    def scale_geometry(self, mip: int):
        """(key, size, voxel_offset, resolution) of scale ``mip`` (2x2x1 downsampling,
        the same rule cloud-volume's add_scale uses: offset floored, size ceiled)."""
        f = 2**mip
        size = (math.ceil(self.size[0] / f), math.ceil(self.size[1] / f), self.size[2])
        off = (self.offset[0] // f, self.offset[1] // f, self.offset[2])
        res = (BASE_RESOLUTION[0] * f, BASE_RESOLUTION[1] * f, BASE_RESOLUTION[2])
        key = "_".join(str(r) for r in res)
        return key, size, off, res


# ---------------------------------------------------------------- the volumes
# Sizes are deliberately not multiples of the chunk size, X != Y everywhere
# (catches transposition), and each scale holds independent data (catches
# scale mix-ups).

VOLUMES: tuple[VolumeSpec, ...] = (
    VolumeSpec("cv/u8", "cv", "uint8", 1, "raw", (300, 200, 40), scales=2, seed=1),
    VolumeSpec("cv/u16", "cv", "uint16", 1, "raw", (300, 200, 40), offset=(17, 33, 95), scales=3, seed=2),
    VolumeSpec("cv/f32", "cv", "float32", 1, "raw", (130, 90, 20), offset=(4, 9, 2), scales=2, seed=3),
    VolumeSpec("cv/u64", "cv", "uint64", 1, "raw", (70, 50, 9), offset=(0, 0, 1), seed=4),
    VolumeSpec("cv/u8jpeg", "cv", "uint8", 1, "jpeg", (300, 200, 40), offset=(64, 0, 7), scales=2, seed=5),
    # cloud-volume 12.15 decodes 3-channel jpeg chunks wrongly (it reshapes the
    # interleaved RGB scanlines as if they were planar), while it *encodes*
    # them per the precomputed spec; tensorstore decodes them per spec, so it
    # is the reference for this volume.
    VolumeSpec("cv/rgbjpeg", "cv", "uint8", 3, "jpeg", (200, 150, 20), offset=(10, 20, 0), scales=2, seed=6,
               reference="ts"),
    VolumeSpec("gz/u16", "cv", "uint16", 1, "raw", (200, 130, 20), offset=(0, 0, 10), scales=2, seed=7,
               compress="gzip", gzip_info=True),
    VolumeSpec("ts/u16", "ts", "uint16", 1, "raw", (250, 180, 33), offset=(5, 7, 3), scales=2, seed=8),
    VolumeSpec("ts/u8jpeg", "ts", "uint8", 1, "jpeg", (260, 190, 24), offset=(0, 0, 0), scales=2, seed=9),
    VolumeSpec("ts/rgb", "ts", "uint8", 3, "raw", (150, 100, 17), offset=(3, 1, 0), seed=10),
    VolumeSpec("ts/rgba", "ts", "uint8", 4, "raw", (150, 100, 17), offset=(0, 0, 4), seed=11),
    VolumeSpec("ts/u8x2", "ts", "uint8", 2, "raw", (120, 80, 10), seed=12),
    VolumeSpec("ts/i16", "ts", "int16", 1, "raw", (120, 80, 10), offset=(1, 2, 3), seed=13),
    # a chunk deleted on the server: reads as zeros there
    VolumeSpec("missing/u8", "cv", "uint8", 1, "raw", (300, 200, 40), scales=1, seed=14,
               delete_chunks=((0, "64-128_64-128_16-32"),)),
    # every chunk request answers 500 (see nginx_server.py)
    VolumeSpec("broken/u8", "cv", "uint8", 1, "raw", (300, 200, 40), scales=1, seed=15),
)

BY_NAME = {v.name: v for v in VOLUMES}
MISSING_CHUNK_REGION = dict(x=(64, 128), y=(64, 128), z=(16, 32))  # of missing/u8, mip 0, absolute coords


# ---------------------------------------------------------------- data

def random_data(shape, dtype, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = (rng.standard_normal(shape) * 1000).astype(dt)
        flat = a.reshape(-1)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-42, np.finfo(dt).max, np.finfo(dt).tiny], dtype=dt)
        idx = rng.choice(flat.size, size=min(flat.size, 7 * 11), replace=False)
        flat[idx] = np.resize(specials, idx.size)
        return a
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


def smooth_data(shape, dtype, seed) -> np.ndarray:
    """Smooth-ish image data with a little noise (meaningful for jpeg)."""
    rng = np.random.default_rng(seed)
    X, Y, Z, C = shape
    x = np.arange(X, dtype=np.float32)[:, None, None, None]
    y = np.arange(Y, dtype=np.float32)[None, :, None, None]
    z = np.arange(Z, dtype=np.float32)[None, None, :, None]
    c = np.arange(C, dtype=np.float32)[None, None, None, :]
    f = (0.5 + 0.25 * np.sin(x / (13.0 + seed % 7) + 1.3 * c) * np.cos(y / 19.0 - 0.7 * c)
         + 0.2 * np.sin((x + 2 * y) / 37.0 + z / 5.0))
    f = f + rng.normal(0.0, 0.02, size=shape).astype(np.float32)
    dt = np.dtype(dtype)
    hi = np.iinfo(dt).max
    return np.clip(f * hi, 0, hi).astype(dt)


def make_data(spec: VolumeSpec, mip: int, shape) -> np.ndarray:
    seed = spec.seed * 100 + mip
    if spec.encoding == "jpeg" or spec.compress == "gzip":
        return smooth_data(shape, spec.dtype, seed)
    return random_data(shape, spec.dtype, seed)


# ---------------------------------------------------------------- writers

@dataclass
class Volume:
    spec: VolumeSpec
    path: Path  # on disk, inside the served root
    url: str  # http://127.0.0.1:PORT/<name>
    info: dict
    written: list = field(default_factory=list)  # per mip, (X, Y, Z, C) as written

    @property
    def name(self) -> str:
        return self.spec.name

    def scale(self, mip: int) -> dict:
        return self.info["scales"][mip]

    def z_range(self, mip: int) -> range:
        s = self.scale(mip)
        z0 = int(s["voxel_offset"][2])
        return range(z0, z0 + int(s["size"][2]))


def _write_cv(spec: VolumeSpec, path: Path) -> list:
    from cloudvolume import CloudVolume

    url = "file://" + str(path)
    info = CloudVolume.create_new_info(
        num_channels=spec.channels, layer_type="image", data_type=spec.dtype,
        encoding=spec.encoding, resolution=list(BASE_RESOLUTION),
        voxel_offset=list(spec.offset), volume_size=list(spec.size),
        chunk_size=list(spec.chunk), max_mip=spec.scales - 1, factor=(2, 2, 1),
    )
    compress = spec.compress if spec.compress else False
    CloudVolume(url, info=info, compress=compress, progress=False).commit_info()
    written = []
    for mip in range(spec.scales):
        vol = CloudVolume(url, mip=mip, compress=compress, progress=False,
                          non_aligned_writes=False, delete_black_uploads=False)
        key, size, off, _ = spec.scale_geometry(mip)
        assert tuple(int(v) for v in vol.bounds.minpt) == off, (spec.name, mip, vol.bounds)
        assert tuple(int(v) for v in vol.bounds.size3()) == size, (spec.name, mip, vol.bounds)
        assert vol.key == key
        arr = make_data(spec, mip, (*size, spec.channels))
        vol[vol.bounds.to_slices()] = arr
        written.append(arr)
    return written


def _write_ts(spec: VolumeSpec, path: Path) -> list:
    import tensorstore as ts

    written = []
    for mip in range(spec.scales):
        key, size, off, res = spec.scale_geometry(mip)
        scale_md = {"size": list(size), "voxel_offset": list(off), "chunk_size": list(spec.chunk),
                    "resolution": list(res), "encoding": spec.encoding, "key": key}
        if spec.encoding == "jpeg":
            scale_md["jpeg_quality"] = 90
        store = ts.open({
            "driver": "neuroglancer_precomputed",
            "kvstore": {"driver": "file", "path": str(path) + "/"},
            "multiscale_metadata": {"type": "image", "data_type": spec.dtype, "num_channels": spec.channels},
            "scale_metadata": scale_md,
            "create": True, "open": True,
        }).result()
        arr = make_data(spec, mip, (*size, spec.channels))
        store.write(arr).result()
        written.append(arr)
    return written


def write_volume(spec: VolumeSpec, root: Path, base_url: str) -> Volume:
    path = Path(root) / spec.name
    path.parent.mkdir(parents=True, exist_ok=True)
    written = (_write_cv if spec.writer == "cv" else _write_ts)(spec, path)
    info = json.loads((path / "info").read_text())
    for mip, chunk_name in spec.delete_chunks:
        victim = path / info["scales"][mip]["key"] / chunk_name
        if spec.compress == "gzip":
            victim = victim.with_name(victim.name + ".gz")
        victim.unlink()  # raises if the name is wrong: the fixture must really delete a chunk
    if spec.gzip_info:
        raw = (path / "info").read_bytes()
        (path / "info.gz").write_bytes(gzip.compress(raw, mtime=0))
        (path / "info").unlink()
    return Volume(spec=spec, path=path, url=f"{base_url}/{spec.name}", info=info, written=written)


def write_all(root: Path, base_url: str, specs=VOLUMES) -> dict:
    return {s.name: write_volume(s, root, base_url) for s in specs}


# ---------------------------------------------------------------- HTTP readers

def read_cv_http(url: str, mip: int, fill_missing: bool = False) -> np.ndarray:
    """Whole scale ``mip`` read by cloud-volume over HTTP, (X, Y, Z, C)."""
    from cloudvolume import CloudVolume

    vol = CloudVolume("precomputed://" + url, mip=mip, progress=False, fill_missing=fill_missing,
                      cache=False, parallel=1)
    return np.asarray(vol[vol.bounds.to_slices()])


def read_ts_http(url: str, mip: int) -> np.ndarray:
    """Whole scale ``mip`` read by tensorstore over HTTP, (X, Y, Z, C)."""
    import tensorstore as ts

    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "http", "base_url": url.rstrip("/") + "/"},
        "scale_index": mip,
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }, read=True).result()
    return np.asarray(store.read().result())


def read_reference(vol: Volume, mip: int) -> np.ndarray:
    fill = bool(vol.spec.delete_chunks)
    if vol.spec.ref_reader == "ts":
        return read_ts_http(vol.url, mip)
    return read_cv_http(vol.url, mip, fill_missing=fill)


# ---------------------------------------------------------------- expected files

def expected_slice(ref: np.ndarray, z_index: int) -> np.ndarray:
    """Slice at ``z_index`` (relative to voxel_offset.z) as voxfs serves it: (Y, X) or (Y, X, C)."""
    s = np.ascontiguousarray(ref[:, :, z_index, :].transpose(1, 0, 2))
    return s[..., 0] if s.shape[-1] == 1 else s


def expected_volume(ref: np.ndarray) -> np.ndarray:
    """volume.npy as voxfs serves it: (Z, Y, X) or (Z, Y, X, C)."""
    v = ref.transpose(2, 1, 0, 3)
    return v[..., 0] if v.shape[-1] == 1 else v
