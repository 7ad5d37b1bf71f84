"""Segmentation and sharded precomputed volumes for test_segmentation.py and bench/seg.

Written with tensorstore (sharded and unsharded, raw / compressed_segmentation /
jpeg) and cloud-volume (unsharded compressed_segmentation, and one sharded volume
built with ``vol.image.make_shard``). The expected data is always what tensorstore
reads back over HTTP from the same nginx URL.

Also here, independent of voxfs (used to prove the fixtures really contain what
the tests claim): a parser of ``neuroglancer_uint64_sharded_v1`` shard files and
of compressed_segmentation block headers (encoded bit widths).

Arrays are in cloud-volume/tensorstore order ``(X, Y, Z, C)``.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RES = (8, 8, 40)
# ids that must survive exactly (> 2**53: a float64 round trip changes them)
BIG_IDS = (864691135122603047, 2**63 + 12345, 2**64 - 1, 2**53 + 1)
BIG_IDS_U32 = (2**32 - 1, 2**31 + 7, 123456789)


def sharding(hash_: str, preshift: int, minishard: int, shard: int, mi_enc: str, data_enc: str) -> dict:
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift, "hash": hash_,
            "minishard_bits": minishard, "shard_bits": shard,
            "minishard_index_encoding": mi_enc, "data_encoding": data_enc}


@dataclass(frozen=True)
class Scale:
    size: tuple  # (x, y, z)
    offset: tuple = (0, 0, 0)
    chunk: tuple = (64, 64, 16)
    resolution: tuple = RES
    encoding: str = "compressed_segmentation"  # | "raw" | "jpeg"
    block: tuple | None = (8, 8, 8)  # compressed_segmentation_block_size
    sharding: dict | None = None
    # partial writes: boxes ((x0, x1), (y0, y1), (z0, z1)) relative to the offset;
    # () writes the whole scale
    regions: tuple = ()

    @property
    def key(self) -> str:
        return "_".join(str(int(r)) for r in self.resolution)

    @property
    def grid(self) -> tuple:
        return tuple(math.ceil(s / c) for s, c in zip(self.size, self.chunk))

    def metadata(self) -> dict:
        md = {"key": self.key, "size": list(self.size), "voxel_offset": list(self.offset),
              "chunk_sizes": [list(self.chunk)], "resolution": list(self.resolution), "encoding": self.encoding}
        if self.encoding == "compressed_segmentation":
            md["compressed_segmentation_block_size"] = list(self.block)
        if self.encoding == "jpeg":
            md["jpeg_quality"] = 90
        if self.sharding:
            md["sharding"] = dict(self.sharding)
        return md


@dataclass(frozen=True)
class SegSpec:
    name: str  # path under the served root; the mount key is "/seg/" + name
    writer: str  # "ts" | "cv" | "cv-shard"
    dtype: str
    scales: tuple
    layer_type: str = "segmentation"
    seed: int = 0
    data: str = "blocks"  # "blocks" | "unique" | "smooth" | "random"
    compress: str | None = None  # cloud-volume compress= ("gzip" stores <chunk>.gz)
    channels: int = 1
    # corruptions applied after the reference was read:
    #   (mip, "truncate-half" | "truncate-4", "<unsharded chunk file name>")  (cut to half / by 4 bytes)
    #   (mip, "garble", (gx, gy, gz))  overwrite one chunk's bytes inside its shard with 0xFF
    corrupt: tuple = ()
    expect_widths: frozenset = frozenset()  # compressed_segmentation bit widths that must occur

    # ---- what checks.py needs
    @property
    def lossy(self) -> bool:
        return any(s.encoding == "jpeg" for s in self.scales)

    @property
    def formats(self) -> tuple:
        if (self.dtype, self.channels) in {("uint8", 1), ("uint16", 1), ("uint8", 3), ("uint8", 4)}:
            return ("png", "tif", "npy")
        return ("tif", "npy")

    @property
    def sharded(self) -> bool:
        return any(s.sharding for s in self.scales)


S = sharding
W_ALL8 = frozenset({0, 1, 2, 4, 8, 16})  # 8x8x8 blocks: up to 512 values, so no 32
W_SMALLBLOCK = frozenset({0, 1, 2, 4, 8})  # <= 256 voxels per block

SEG_VOLUMES: tuple[SegSpec, ...] = (
    # sharded, murmurhash, gzip + gzip; a second scale sharded differently
    SegSpec("seg/ts-u64-murmur-gz", "ts", "uint64", (
        Scale((200, 150, 40), (5, 9, 3), block=(8, 8, 8), sharding=S("murmurhash3_x86_128", 0, 1, 2, "gzip", "gzip")),
        Scale((100, 75, 40), (2, 4, 3), chunk=(32, 32, 8), resolution=(16, 16, 40), block=(5, 7, 3),
              sharding=S("identity", 1, 0, 1, "raw", "gzip")),
    ), seed=1, expect_widths=W_ALL8),
    # uint32, identity, shard_bits 0 (one shard file), raw + raw, block 6x5x3
    SegSpec("seg/ts-u32-identity-raw", "ts", "uint32", (
        Scale((150, 130, 33), (0, 0, 0), block=(6, 5, 3), sharding=S("identity", 2, 2, 0, "raw", "raw")),
    ), seed=2, expect_widths=W_SMALLBLOCK),
    # raw-encoded uint64 chunks in shards, minishard_bits 0
    SegSpec("seg/ts-u64-rawenc-murmur", "ts", "uint64", (
        Scale((130, 100, 20), (64, 0, 7), encoding="raw", block=None,
              sharding=S("murmurhash3_x86_128", 0, 0, 3, "gzip", "raw")),
    ), seed=3),
    # only part written: chunks absent from existing shards, and shard files absent (404)
    SegSpec("seg/ts-u64-partial", "ts", "uint64", (
        Scale((192, 128, 48), (3, 0, 2), block=(8, 8, 8), sharding=S("identity", 0, 1, 2, "gzip", "raw"),
              regions=(((0, 192), (0, 128), (0, 16)),  # the first chunk layer
                       ((64, 128), (0, 64), (16, 32)),  # one chunk in the middle layer
                       ((70, 150), (20, 100), (36, 48)))),  # not chunk aligned
    ), seed=4),
    # every voxel of a 64x64x24 block distinct -> 32-bit encoded values (and 16 at the edges)
    SegSpec("seg/ts-u64-wide", "ts", "uint64", (
        Scale((90, 70, 24), (0, 0, 0), chunk=(64, 64, 24), block=(64, 64, 24)),
    ), seed=5, data="unique", expect_widths=frozenset({16, 32})),
    # cloud-volume, unsharded, two scales
    SegSpec("seg/cv-u64-b888", "cv", "uint64", (
        Scale((200, 150, 40), (13, 7, 5), block=(8, 8, 8)),
        Scale((100, 75, 40), (6, 3, 5), chunk=(32, 32, 16), resolution=(16, 16, 40), block=(6, 5, 3)),
    ), seed=6, expect_widths=W_ALL8),
    # cloud-volume, uint32, gzip files served with Content-Encoding: gzip (nginx /gz/)
    SegSpec("gz/seg-cv-u32", "cv", "uint32", (
        Scale((130, 100, 35), (0, 0, 1), block=(8, 8, 8)),
    ), seed=7, compress="gzip", expect_widths=W_ALL8),
    # cloud-volume's own shard writer (one shard)
    SegSpec("seg/cv-shard-u64", "cv-shard", "uint64", (
        Scale((128, 100, 30), (0, 0, 0), block=(8, 8, 8), sharding=S("murmurhash3_x86_128", 0, 2, 0, "gzip", "gzip")),
    ), seed=8, expect_widths=W_ALL8),
    # sharded image layers (the same reader serves them)
    SegSpec("seg/ts-u8jpeg-shard", "ts", "uint8", (
        Scale((200, 150, 24), (0, 0, 0), chunk=(64, 64, 8), encoding="jpeg", block=None,
              sharding=S("murmurhash3_x86_128", 0, 2, 1, "gzip", "raw")),
        Scale((100, 75, 24), (0, 0, 0), chunk=(64, 64, 8), resolution=(16, 16, 40), encoding="jpeg", block=None,
              sharding=S("identity", 0, 0, 0, "raw", "gzip")),
    ), layer_type="image", seed=9, data="smooth"),
    SegSpec("seg/ts-u8raw-shard", "ts", "uint8", (
        Scale((120, 90, 20), (7, 5, 2), encoding="raw", block=None, sharding=S("identity", 1, 1, 1, "raw", "gzip")),
    ), layer_type="image", seed=10, data="random"),
    # corrupted on the server after the reference was read
    SegSpec("seg/corrupt-cs", "cv", "uint64", (
        Scale((130, 100, 40), (0, 0, 0), block=(8, 8, 8)),
    ), seed=11, corrupt=((0, "truncate-half", "0-64_0-64_0-16"), (0, "truncate-4", "64-128_64-100_32-40"))),
    SegSpec("seg/corrupt-shard-raw", "ts", "uint64", (
        Scale((128, 128, 32), (0, 0, 0), block=(8, 8, 8), sharding=S("identity", 0, 1, 1, "raw", "raw")),
    ), seed=12, corrupt=((0, "garble", (1, 1, 0)),)),
    SegSpec("seg/corrupt-shard-gz", "ts", "uint64", (
        Scale((128, 128, 32), (0, 0, 0), block=(8, 8, 8), sharding=S("murmurhash3_x86_128", 0, 1, 1, "raw", "gzip")),
    ), seed=13, corrupt=((0, "garble", (0, 1, 1)),)),
)

SEG_BY_NAME = {v.name: v for v in SEG_VOLUMES}


# ---------------------------------------------------------------- data

def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised over uint64."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


# distinct-value counts per block; every compressed_segmentation width occurs:
# 1 -> 0 bits, 2 -> 1, 3-4 -> 2, 5-16 -> 4, 17-256 -> 8, >256 -> 16
DISTINCT_CLASSES = (1, 1, 2, 3, 4, 5, 9, 16, 17, 40, 255, 256, 257, 300, 512)


def block_data(scale: Scale, dtype: str, seed: int) -> np.ndarray:
    """Per compressed_segmentation block (aligned to each chunk's origin, as the
    encoder sees them) a chosen number of distinct ids, each present at least
    once; ids mix 0, small ids, ids > 2**53 and ids sharing their low 32 bits
    with a small id. Some blocks share one palette (identical lookup tables).
    (X, Y, Z, 1)."""
    rng = np.random.default_rng(seed)
    block = scale.block or (8, 8, 8)
    X, Y, Z = scale.size
    # block id per axis: chunk index * blocks-per-chunk + block index inside the chunk
    axes = []
    for n, c, b in zip((X, Y, Z), scale.chunk, block):
        i = np.arange(n)
        per = math.ceil(c / b)
        axes.append((i // c) * per + (i % c) // b)
    nb = [int(a.max()) + 1 for a in axes]
    bid = (axes[0][:, None, None] * nb[1] + axes[1][None, :, None]) * nb[2] + axes[2][None, None, :]
    bid = bid.reshape(-1)
    nblocks = nb[0] * nb[1] * nb[2]
    counts = np.bincount(bid, minlength=nblocks)
    want = rng.choice(DISTINCT_CLASSES, size=nblocks)
    ndist = np.minimum(want, np.maximum(counts, 1))
    # rank of each voxel inside its block, in a random order
    order = np.lexsort((rng.random(bid.size), bid))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(bid.size, dtype=np.int64)
    rank[order] = np.arange(bid.size) - starts[bid[order]]
    nd = ndist[bid]
    idx = np.where(rank < nd, rank, (rng.random(bid.size) * nd).astype(np.int64))
    # palette: shared between blocks of the same size for about 1 block in 4
    shared = rng.random(nblocks) < 0.25
    pal_key = np.where(shared, 10**9 + ndist, np.arange(nblocks)).astype(np.uint64)[bid]
    with np.errstate(over="ignore"):
        h = _mix64(pal_key * np.uint64(1 << 20) + idx.astype(np.uint64)
                   + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
    kind = (h >> np.uint64(60)).astype(np.int64) % 4  # category of this palette entry
    small = (idx.astype(np.uint64) + np.uint64(1) + (_mix64(pal_key) % np.uint64(50000)))
    big = h | np.uint64(1 << 53)
    # same low 32 bits as palette entry 0 when that one is a small id
    low_same = (h & np.uint64(0xFFFFFFFF00000000)) | np.uint64(1 << 40) | (small - idx.astype(np.uint64))
    if dtype == "uint64":
        val = np.select([kind == 0, kind == 1, kind == 2], [small, big, low_same], default=big)
    else:
        val = np.select([kind == 0, kind == 1], [small, (h >> np.uint64(32)) | np.uint64(1 << 31)],
                        default=h & np.uint64(0xFFFFFFFF))
    # entry 0 of roughly half the palettes is the background id 0
    zero_first = (_mix64(pal_key + np.uint64(77)) & np.uint64(1)) == 1
    val = np.where((idx == 0) & zero_first, np.uint64(0), val)
    return val.astype(dtype).reshape(X, Y, Z, 1)


def unique_data(scale: Scale, dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(scale.size))
    hi = np.iinfo(np.dtype(dtype)).max
    vals = np.unique(rng.integers(1, hi, size=int(n * 1.05) + 16, dtype=np.dtype(dtype), endpoint=True))
    vals = rng.permutation(vals)[:n]
    assert vals.size == n
    return vals.reshape(*scale.size, 1)


def smooth_data(scale: Scale, dtype: str, seed: int) -> np.ndarray:
    X, Y, Z = scale.size
    rng = np.random.default_rng(seed)
    x = np.arange(X, dtype=np.float32)[:, None, None]
    y = np.arange(Y, dtype=np.float32)[None, :, None]
    z = np.arange(Z, dtype=np.float32)[None, None, :]
    f = 0.5 + 0.25 * np.sin(x / 13.0) * np.cos(y / 19.0) + 0.2 * np.sin((x + 2 * y) / 37.0 + z / 5.0)
    f = f + rng.normal(0.0, 0.02, size=f.shape).astype(np.float32)
    return np.clip(f * 255, 0, 255).astype(dtype)[..., None]


def make_data(spec: SegSpec, mip: int) -> np.ndarray:
    scale = spec.scales[mip]
    seed = spec.seed * 100 + mip
    if spec.data == "unique":
        return unique_data(scale, spec.dtype, seed)
    if spec.data == "smooth":
        return smooth_data(scale, spec.dtype, seed)
    if spec.data == "random":
        return np.random.default_rng(seed).integers(0, 255, size=(*scale.size, 1), dtype=spec.dtype, endpoint=True)
    arr = block_data(scale, spec.dtype, seed)
    # plant the exact-id probes at known voxels (relative coordinates)
    for (x, y, z), v in zip(plant_points(scale), BIG_IDS if spec.dtype == "uint64" else BIG_IDS_U32):
        arr[x, y, z, 0] = v
    return arr


def plant_points(scale: Scale) -> list:
    X, Y, Z = scale.size
    return [(1, 2, 0), (X - 1, Y - 1, Z - 1), (X // 2, Y // 3, Z // 2), (X - 2, 0, Z // 2)]


def region_mask(scale: Scale) -> np.ndarray | None:
    if not scale.regions:
        return None
    m = np.zeros(scale.size, dtype=bool)
    for (x0, x1), (y0, y1), (z0, z1) in scale.regions:
        m[x0:x1, y0:y1, z0:z1] = True
    return m


# ---------------------------------------------------------------- writers

@dataclass
class SegVolume:
    spec: SegSpec
    path: Path
    url: str
    info: dict
    expected: list = field(default_factory=list)  # per mip, what a reader must see (lossless only)
    reference: list = field(default_factory=list)  # per mip, what tensorstore read over HTTP
    damaged: list = field(default_factory=list)  # absolute voxel boxes of corrupted chunks

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        return "/seg/" + self.spec.name

    def scale(self, mip: int) -> dict:
        return self.info["scales"][mip]

    def z_range(self, mip: int) -> range:
        s = self.scale(mip)
        z0 = int(s["voxel_offset"][2])
        return range(z0, z0 + int(s["size"][2]))


def _ts_open_write(path: Path, spec: SegSpec, scale: Scale):
    import tensorstore as ts

    md = scale.metadata()
    md["chunk_size"] = md.pop("chunk_sizes")[0]
    return ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "multiscale_metadata": {"type": spec.layer_type, "data_type": spec.dtype, "num_channels": spec.channels},
        "scale_metadata": md,
        "create": True, "open": True,
    }).result()


def _write_ts(spec: SegSpec, path: Path, data: list) -> None:
    for scale, arr in zip(spec.scales, data):
        store = _ts_open_write(path, spec, scale)
        o = scale.offset
        if not scale.regions:
            store.write(arr).result()
            continue
        for (x0, x1), (y0, y1), (z0, z1) in scale.regions:
            store[o[0] + x0:o[0] + x1, o[1] + y0:o[1] + y1, o[2] + z0:o[2] + z1, :].write(
                arr[x0:x1, y0:y1, z0:z1]).result()


def _info(spec: SegSpec) -> dict:
    return {"@type": "neuroglancer_multiscale_volume", "type": spec.layer_type, "data_type": spec.dtype,
            "num_channels": spec.channels, "scales": [s.metadata() for s in spec.scales]}


def _write_cv(spec: SegSpec, path: Path, data: list) -> None:
    from cloudvolume import CloudVolume

    url = "file://" + str(path)
    compress = spec.compress if spec.compress else False
    CloudVolume(url, info=_info(spec), compress=compress, progress=False).commit_info()
    for mip, arr in enumerate(data):
        vol = CloudVolume(url, mip=mip, compress=compress, progress=False, non_aligned_writes=False,
                          delete_black_uploads=False)
        assert tuple(int(v) for v in vol.bounds.minpt) == spec.scales[mip].offset
        vol[vol.bounds.to_slices()] = arr


def _write_cv_shard(spec: SegSpec, path: Path, data: list) -> None:
    from cloudvolume import CloudVolume

    url = "file://" + str(path)
    CloudVolume(url, info=_info(spec), progress=False).commit_info()
    for mip, arr in enumerate(data):
        vol = CloudVolume(url, mip=mip, progress=False)
        fname, shard = vol.image.make_shard(arr, vol.bounds, mip=mip)
        (path / spec.scales[mip].key).mkdir(parents=True, exist_ok=True)
        (path / spec.scales[mip].key / fname).write_bytes(shard)


WRITERS = {"ts": _write_ts, "cv": _write_cv, "cv-shard": _write_cv_shard}


def write_volume(spec: SegSpec, root: Path, base_url: str) -> SegVolume:
    path = Path(root) / spec.name
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [make_data(spec, mip) for mip in range(len(spec.scales))]
    WRITERS[spec.writer](spec, path, data)
    expected = []
    for scale, arr in zip(spec.scales, data):
        m = region_mask(scale)
        expected.append(arr if m is None else np.where(m[..., None], arr, 0).astype(arr.dtype))
    info = json.loads((path / "info").read_text())
    return SegVolume(spec=spec, path=path, url=f"{base_url}/{spec.name}", info=info, expected=expected)


# ---------------------------------------------------------------- reference reader

def ts_open_http(url: str, mip: int):
    import tensorstore as ts

    return ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "http", "base_url": url.rstrip("/") + "/"},
        "scale_index": mip,
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }, read=True).result()


def read_ts_http(url: str, mip: int) -> np.ndarray:
    """Whole scale ``mip`` as tensorstore reads it over HTTP, (X, Y, Z, C)."""
    return np.asarray(ts_open_http(url, mip).read().result())


# ---------------------------------------------------------------- corruption

def apply_corruption(vol: SegVolume) -> list:
    """Damage the served files as ``spec.corrupt`` says; returns, per entry, the
    absolute voxel box ((x0,x1),(y0,y1),(z0,z1)) of the damaged chunk."""
    boxes = []
    for mip, kind, what in vol.spec.corrupt:
        scale = vol.spec.scales[mip]
        d = vol.path / scale.key
        if kind in ("truncate-half", "truncate-4"):
            f = d / what
            data = f.read_bytes()
            # whole 64-bit words in both cases: the decoder has to notice offsets past the end
            f.write_bytes(data[: (len(data) // 2) & ~7] if kind == "truncate-half" else data[:-4])
            boxes.append(tuple(tuple(int(v) for v in r.split("-")) for r in what.split("_")))
        elif kind == "garble":
            cid = compressed_morton_code(what, scale.grid)
            hits = [(f, s, e) for f in sorted(d.glob("*.shard")) for c, (s, e) in parse_shard(f.read_bytes(),
                                                                                            scale.sharding).items()
                    if c == cid]
            assert len(hits) == 1, f"chunk {what} (id {cid}) found {len(hits)} times in {d}"
            f, s, e = hits[0]
            data = bytearray(f.read_bytes())
            data[s:e] = b"\xff" * (e - s)
            f.write_bytes(bytes(data))
            boxes.append(chunk_box(scale, what))
        else:
            raise ValueError(kind)
    return boxes


def chunk_box(scale: Scale, g: tuple) -> tuple:
    return tuple((o + gi * c, min(o + s, o + (gi + 1) * c))
                 for o, gi, c, s in zip(scale.offset, g, scale.chunk, scale.size))


# ---------------------------------------------------------------- format parsers (fixture self-checks)

def compressed_morton_code(g: tuple, grid: tuple) -> int:
    bits = [max(0, math.ceil(math.log2(n))) if n > 1 else 0 for n in grid]
    code, j = 0, 0
    for i in range(max(bits) if bits else 0):
        for d in range(3):
            if i < bits[d]:
                code |= ((int(g[d]) >> i) & 1) << j
                j += 1
    return code


def all_chunk_ids(scale: Scale) -> dict:
    """chunk id -> grid position, for every chunk of the scale."""
    gx, gy, gz = scale.grid
    return {compressed_morton_code((x, y, z), scale.grid): (x, y, z)
            for x in range(gx) for y in range(gy) for z in range(gz)}


def parse_shard(data: bytes, sh: dict, stats: Counter | None = None) -> dict:
    """neuroglancer_uint64_sharded_v1 shard -> {chunk id: (start, end) byte range in the file}."""
    n = 1 << sh["minishard_bits"]
    index = np.frombuffer(data[: 16 * n], "<u8").reshape(n, 2)
    base = 16 * n
    out = {}
    for s, e in index:
        if s == e:
            continue
        raw = data[base + int(s): base + int(e)]
        assert len(raw) == int(e - s), "minishard index outside the shard"
        if sh["minishard_index_encoding"] == "gzip":
            assert raw[:2] == b"\x1f\x8b", "minishard index not gzip"
            raw = gzip.decompress(raw)
            if stats is not None:
                stats["gzip_minishard_indexes"] += 1
        arr = np.frombuffer(raw, "<u8").reshape(3, -1)
        ids = np.cumsum(arr[0], dtype=np.uint64)
        pos = 0
        for cid, off, size in zip(ids, arr[1], arr[2]):
            start = pos + int(off)
            pos = start + int(size)
            out[int(cid)] = (base + start, base + pos)
    return out


def shard_chunks(vol: SegVolume, mip: int, stats: Counter | None = None) -> dict:
    """{chunk id: (shard file name, decoded chunk bytes)} over all shard files of a scale."""
    scale = vol.spec.scales[mip]
    sh = scale.sharding
    out = {}
    for f in sorted((vol.path / scale.key).glob("*.shard")):
        data = f.read_bytes()
        for cid, (s, e) in parse_shard(data, sh, stats).items():
            b = data[s:e]
            if sh["data_encoding"] == "gzip":
                assert b[:2] == b"\x1f\x8b", f"{f.name}: chunk {cid} not gzip"
                b = gzip.decompress(b)
                if stats is not None:
                    stats["gzip_chunks"] += 1
            assert cid not in out, f"chunk {cid} in two shards"
            out[cid] = (f.name, b)
    return out


def cs_widths(data: bytes, dtype: str, shape_xyz: tuple, block: tuple) -> Counter:
    """Encoded bit widths of the blocks of one compressed_segmentation chunk (1 channel),
    with a structural check that every table and value array lies inside the data."""
    words = np.frombuffer(data, "<u4")
    grid = [math.ceil(s / b) for s, b in zip(shape_xyz, block)]
    nb = grid[0] * grid[1] * grid[2]
    base = int(words[0])
    hdr = words[base: base + 2 * nb].reshape(nb, 2)
    vw = 2 if dtype == "uint64" else 1
    c = Counter()
    for w0, w1 in hdr:
        bits = int(w0) >> 24
        table = base + (int(w0) & 0xFFFFFF)
        assert bits in (0, 1, 2, 4, 8, 16, 32), bits
        nvals = math.ceil(block[0] * block[1] * block[2] * bits / 32)
        assert base + int(w1) + nvals <= len(words) and table + vw <= len(words), "offset outside chunk"
        c[bits] += 1
    return c


def chunk_shape(scale: Scale, g: tuple) -> tuple:
    return tuple(min(c, s - gi * c) for gi, c, s in zip(g, scale.chunk, scale.size))


def scale_widths(vol: SegVolume, mip: int) -> Counter:
    """Bit widths over all chunks of a compressed_segmentation scale (sharded or not)."""
    scale = vol.spec.scales[mip]
    ids = all_chunk_ids(scale)
    c = Counter()
    if scale.sharding:
        for cid, (_, b) in shard_chunks(vol, mip).items():
            c += cs_widths(b, vol.spec.dtype, chunk_shape(scale, ids[cid]), scale.block)
        return c
    for f in (vol.path / scale.key).iterdir():
        b = f.read_bytes()
        if f.suffix == ".gz":
            b = gzip.decompress(b)
        box = [tuple(int(v) for v in r.split("-")) for r in f.name.removesuffix(".gz").split("_")]
        c += cs_widths(b, vol.spec.dtype, tuple(b1 - b0 for b0, b1 in box), scale.block)
    return c
