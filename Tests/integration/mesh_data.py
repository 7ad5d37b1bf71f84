"""Meshes, skeletons and segment properties of segmentation layers, for
test_meshes_skeletons.py.

Each layer is a small segmentation volume written by cloud-volume, with, as its
info names them:

* legacy meshes (``<segid>:0`` JSON manifest + precomputed fragments): fragments
  encoded by cloud-volume (``vol.mesh.put`` or ``Mesh.to_precomputed``);
* multi-resolution Draco meshes (``neuroglancer_multilod_draco``), unsharded
  (``<segid>.index`` + ``<segid>``) and sharded (fragments followed by the manifest
  in the segment's shard chunk, written by cloud-volume's ``synthesize_shard_files``
  with ``data_offset``); fragments encoded by DracoPy, manifests built here by the
  neuroglancer spec (and parsed back by cloud-volume's reader in the self-checks);
* skeletons (``neuroglancer_skeletons``), unsharded (``vol.skeleton.upload``) and
  sharded (cloud-volume's ``synthesize_shard_files``), with a non-identity
  ``transform`` and vertex attributes;
* ``segment_properties`` (hand-written per the neuroglancer spec).

Besides what it writes, every layer carries the *independent* expectation: the
mesh triangles and skeletons in nm computed here from the generator's own
numbers (the Draco-stored integers through the spec's formula and the
transform). The test module checks that cloud-volume, reading the files over
HTTP, agrees with these, and then uses cloud-volume's output as the reference.

Geometry is chosen so every exact coordinate lies on a 1/4 nm lattice with
|x| < 16384 nm: the comparisons round to 0.01 nm (the lattice points are bin
centres, float32 errors stay far below the 0.005 nm half-bin).
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BIG = 864691135122603047  # > 2**53
MAX = 2**64 - 1
H63 = 2**63 + 12345
U32_BIG = 4_000_000_000

RES = (8, 8, 40)
VOL_SIZE = (32, 24, 8)
MAX_LODS = 8  # voxfs shows meshes/lod0 .. meshes/lod7


def sharding(hash_: str, preshift: int, minishard: int, shard: int, mi_enc: str, data_enc: str) -> dict:
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift, "hash": hash_,
            "minishard_bits": minishard, "shard_bits": shard,
            "minishard_index_encoding": mi_enc, "data_encoding": data_enc}


@dataclass(frozen=True)
class LayerSpec:
    name: str  # path under the served root; mounted at "/" + name
    dtype: str
    mesh: str | None = None  # "legacy" | "legacy-notype" | "multilod" | "multilod-sharded"
    mesh_dir: str = "mesh"
    mesh_ids: tuple = ()  # ((segid, number of lods), ...); 1 for legacy meshes
    broken_meshes: tuple = ()  # ((segid, what is wrong), ...)
    skeletons: str | None = None  # "unsharded" | "sharded"
    skel_dir: str = "skeletons"
    skel_attrs: str = "default"  # "default" (radius, vertex_types) | "extra" | "none"
    skel_ids: tuple = ()
    broken_skels: tuple = ()
    segprops: tuple | None = None  # ids named by segment_properties (None: no segment_properties)
    seed: int = 0

    @property
    def mesh_lods(self) -> dict:
        return dict(self.mesh_ids)

    @property
    def multilod(self) -> bool:
        return bool(self.mesh) and self.mesh.startswith("multilod")


# Broken segments.  cloud-volume fails on every one of them except those marked
# "(cv accepts)", which it decodes without checking; voxfs must answer EIO for all.
LAYERS: tuple[LayerSpec, ...] = (
    # legacy meshes, gzip'd fragments served with Content-Encoding: gzip (nginx /gz/, as
    # cloud-volume's default upload and GCS do); gzip'd unsharded skeletons; segment properties
    LayerSpec("gz/ms-legacy-u64", "uint64", mesh="legacy", mesh_dir="mesh",
              mesh_ids=((101, 1), (BIG, 1), (MAX, 1)),
              broken_meshes=((666, "fragment truncated inside its vertices"),
                             (667, "manifest is not JSON"),
                             (668, "fragment ends with a partial triangle"),
                             (669, "face index past the vertex count (cv accepts)")),
              skeletons="unsharded", skel_dir="skeletons", skel_attrs="default",
              skel_ids=(101, BIG, MAX, 5),
              broken_skels=((666, "truncated inside its vertices"),
                            (668, "edge names a vertex past the count (cv accepts)")),
              segprops=(101, BIG, MAX), seed=1),
    # multi-resolution meshes, unsharded; sharded skeletons (identity hash, preshift 1)
    LayerSpec("ms/multilod-u64", "uint64", mesh="multilod", mesh_dir="mesh_mip_0_err_40",
              mesh_ids=((101, 2), (BIG, 3), (7, 1)),
              broken_meshes=((666, "manifest truncated"),
                             (667, "a lod 0 fragment is garbage, not Draco"),
                             (668, "fragment data file shorter than the manifest says")),
              skeletons="sharded", skel_dir="skeletons_sharded", skel_attrs="extra",
              skel_ids=(100, 101, BIG, H63, 3),
              broken_skels=((666, "shard chunk is not gzip"), (667, "gzip'd skeleton truncated")),
              seed=2),
    # uint32, multi-resolution meshes in shards (murmurhash); plain skeletons without attributes
    LayerSpec("ms/multilod-sharded-u32", "uint32", mesh="multilod-sharded", mesh_dir="mesh",
              mesh_ids=((101, 2), (U32_BIG, 3), (3, 1)),
              broken_meshes=((666, "a lod 0 fragment is garbage, not Draco"),
                             (667, "manifest truncated (chunk shorter)")),
              skeletons="unsharded", skel_dir="skel", skel_attrs="none",
              skel_ids=(101, U32_BIG, 3),
              segprops=(101, U32_BIG, 3), seed=3),
    # legacy meshes whose mesh info has no @type; plain files
    LayerSpec("ms/legacy-notype-u64", "uint64", mesh="legacy-notype", mesh_dir="legacy_meshes",
              mesh_ids=((42, 1),), seed=4),
    # nothing but the volume
    LayerSpec("ms/plain-u64", "uint64", seed=5),
)
BY_NAME = {s.name: s for s in LAYERS}

# multi-resolution geometry. Per axis, one Draco quantum is chunk_shape / (2**q - 1) * step
# = 1/4 nm (1/2 nm on z of the sharded layer): stored integers are multiples of `step`.
MULTILOD = {
    "ms/multilod-u64": dict(
        q=10, step=1, chunk_shape=(255.75, 255.75, 511.5), grid_origin=(1000.5, -200.25, 50.0),
        vertex_offsets=((0.25, 0.5, -0.75), (1.0, -2.5, 3.25), (0.0, 0.0, 0.5)),
        transform=[2, 0, 1, 100, 0, 3, 0, -50.5, 0, 0, 4, 8],
        sharding=None, empty_fragments=((101, 1, 1),)),  # (segid, lod, index): a 0-byte fragment
    "ms/multilod-sharded-u32": dict(
        q=16, step=257, chunk_shape=(63.75, 63.75, 127.5), grid_origin=(10.5, 20.25, -30.0),
        vertex_offsets=((0.5, -0.25, 1.0), (-1.0, 0.75, 0.0), (2.0, 2.0, -2.0)),
        transform=[4, 0, 0, -1000.25, 0, 4, 0, 2000, 1, 0, 4, -3.5],
        sharding=sharding("murmurhash3_x86_128", 0, 1, 2, "gzip", "raw"), empty_fragments=()),
}
# lod 0 fragment positions (grid cells); lod k+1 holds the parents (pos // 2) of lod k
LOD0_POSITIONS = ((0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 1, 0), (0, 2, 1), (1, 3, 0))

SKEL_TRANSFORM = {
    "gz/ms-legacy-u64": [2, 0, 0.5, 100, 0, 3, 0, -50, 0, 0, 4, 8],
    "ms/multilod-u64": [8, 0, 0, -16, 0, 8, 0, 32, 0, 1, 40, 0],
    "ms/multilod-sharded-u32": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
}
SKEL_SHARDING = {"ms/multilod-u64": sharding("identity", 1, 1, 2, "gzip", "gzip")}
SKEL_ATTRS = {
    "default": [{"id": "radius", "data_type": "float32", "num_components": 1},
                {"id": "vertex_types", "data_type": "uint8", "num_components": 1}],
    # an unknown 2-component attribute first (its bytes must be skipped), and both
    # vertex_types and compartment (compartment gives the SWC type)
    "extra": [{"id": "extra", "data_type": "float32", "num_components": 2},
              {"id": "vertex_types", "data_type": "uint8", "num_components": 1},
              {"id": "radius", "data_type": "float32", "num_components": 1},
              {"id": "compartment", "data_type": "uint8", "num_components": 1}],
    "none": [],
}


# ---------------------------------------------------------------- results

@dataclass
class MeshLayer:
    spec: LayerSpec
    path: Path
    url: str
    info: dict
    mesh_info: dict | None = None
    skel_info: dict | None = None
    segprops_bytes: bytes | None = None
    # independent expectations
    meshes: dict = field(default_factory=dict)  # (segid, lod) -> (vertices nm (n,3) float64, faces (m,3))
    skels: dict = field(default_factory=dict)  # segid -> dict(vertices, edges, radius, types) (nm)
    manifests: dict = field(default_factory=dict)  # segid -> manifest fields (multilod)
    unknown_mesh_ids: dict = field(default_factory=dict)  # what -> segid with no mesh
    unknown_skel_ids: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # notes for the self-checks (shard files, ...)

    @property
    def name(self) -> str:
        return self.spec.name


# ---------------------------------------------------------------- geometry

def apply_transform(v: np.ndarray, t: list) -> np.ndarray:
    m = np.asarray(t, dtype=np.float64).reshape(3, 4)
    return v.astype(np.float64) @ m[:, :3].T + m[:, 3]


def morton(p) -> int:
    code = 0
    for i in range(16):
        for d in range(3):
            code |= ((int(p[d]) >> i) & 1) << (3 * i + d)
    return code


def lod_positions(nlods: int) -> list:
    out = [sorted(LOD0_POSITIONS, key=morton)]
    for _ in range(1, nlods):
        out.append(sorted({tuple(c // 2 for c in p) for p in out[-1]}, key=morton))
    return out


def grid_patch(rng, nsteps: int, step: int) -> tuple:
    """A triangulated height-field patch of distinct integer points in
    [0, nsteps * step] (multiples of step), axes permuted at random; touches 0 and
    the top of the range on one axis. Returns (points (n,3) int64, faces (m,3))."""
    n = int(rng.integers(3, 6))
    m = int(rng.integers(3, 5))
    xs = np.unique(np.concatenate(([0, nsteps], rng.choice(nsteps + 1, n - 2, replace=False))))
    ys = np.sort(rng.choice(nsteps + 1, m, replace=False))
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    Z = rng.integers(0, nsteps + 1, size=X.shape)
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1)[:, rng.permutation(3)] * step
    nx, ny = X.shape
    faces = []
    for i in range(nx - 1):
        for j in range(ny - 1):
            a, b = i * ny + j, (i + 1) * ny + j
            faces += [(a, b, a + 1), (a + 1, b, b + 1)]
    return pts.astype(np.int64), np.array(faces, dtype=np.int64)


def triangles(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]


def draco_encode(points: np.ndarray, faces: np.ndarray, q: int) -> bytes:
    """Draco fragment whose decoded positions are exactly ``points`` (integers in
    [0, 2**q - 1]): quantization range 2**q - 1 from origin 0, so Draco's quantized
    values and its dequantized floats are the same integers (both readings of the
    spec agree)."""
    import DracoPy

    assert points.min() >= 0 and points.max() <= 2**q - 1
    data = DracoPy.encode(points.astype(np.float32), faces.astype(np.uint32), quantization_bits=q,
                          quantization_range=float(2**q - 1), quantization_origin=[0.0, 0.0, 0.0],
                          compression_level=7)
    m = DracoPy.decode(data)
    got = {tuple(sorted(map(tuple, t))) for t in triangles(m.points, m.faces).tolist()}
    want = {tuple(sorted(map(tuple, t))) for t in triangles(points, faces).tolist()}
    assert got == want, "DracoPy round trip changed the fragment"
    return data


def manifest_bytes(chunk_shape, grid_origin, lod_scales, vertex_offsets, positions, sizes) -> bytes:
    """neuroglancer multilod manifest: chunk_shape f32[3], grid_origin f32[3], num_lods u32,
    lod_scales f32[num_lods], vertex_offsets f32[num_lods, 3], num_fragments_per_lod u32[num_lods],
    then per lod fragment_positions u32[3, n] (all x, then all y, then all z) and
    fragment_offsets u32[n] (byte sizes)."""
    nl = len(positions)
    out = [np.asarray(chunk_shape, "<f4").tobytes(), np.asarray(grid_origin, "<f4").tobytes(),
           struct.pack("<I", nl), np.asarray(lod_scales, "<f4").tobytes(),
           np.asarray(vertex_offsets, "<f4").reshape(nl, 3).tobytes(),
           np.asarray([len(p) for p in positions], "<u4").tobytes()]
    for pos, sz in zip(positions, sizes):
        out.append(np.asarray(pos, "<u4").reshape(-1, 3).T.copy().tobytes())
        out.append(np.asarray(sz, "<u4").tobytes())
    return b"".join(out)


def make_multilod(rng, geo: dict, segid: int, nlods: int) -> dict:
    """Fragments, manifest and the expected mesh (nm) of every lod of one segment."""
    q, step = geo["q"], geo["step"]
    nsteps = (2**q - 1) // step
    assert nsteps * step == 2**q - 1
    cs = np.asarray(geo["chunk_shape"], np.float64)
    go = np.asarray(geo["grid_origin"], np.float64)
    vo = np.asarray(geo["vertex_offsets"][:nlods], np.float64)
    positions = lod_positions(nlods)
    frags, sizes, expected = [], [], {}
    for lod, pos in enumerate(positions):
        lod_sizes, verts_nm, faces_all, base = [], [], [], 0
        for i, p in enumerate(pos):
            if (segid, lod, i) in geo["empty_fragments"]:
                lod_sizes.append(0)
                continue
            pts, faces = grid_patch(rng, nsteps, step)
            data = draco_encode(pts, faces, q)
            frags.append(data)
            lod_sizes.append(len(data))
            # the spec's "stored model" coordinates, then the mesh transform
            model = go + vo[lod] + cs * 2**lod * (np.asarray(p, np.float64) + pts / (2**q - 1))
            verts_nm.append(apply_transform(model, geo["transform"]))
            faces_all.append(faces + base)
            base += len(pts)
        sizes.append(lod_sizes)
        expected[lod] = (np.concatenate(verts_nm), np.concatenate(faces_all))
    lod_scales = [10.0 * 2**k for k in range(nlods)]
    manifest = manifest_bytes(cs, go, lod_scales, vo, positions, sizes)
    return {"fragments": b"".join(frags), "manifest": manifest, "expected": expected,
            "positions": positions, "sizes": sizes, "lod_sizes": [sum(s) for s in sizes]}


def legacy_fragment(rng, offset) -> tuple:
    """(vertices float32 on the 1/4 nm lattice, faces) of one legacy fragment."""
    pts, faces = grid_patch(rng, 400, 1)
    return (pts * 0.25 + np.asarray(offset, np.float64)).astype(np.float32), faces


def skeleton_graph(rng, sizes: tuple) -> tuple:
    """A forest (one tree per entry of ``sizes``; a size 1 is an isolated vertex) of
    distinct points on the 1/4 lattice at least 3 units apart (stored units).
    Edges in random order and orientation. Returns (vertices (n,3) float32, edges (e,2))."""
    verts, edges = [], []
    for k, n in enumerate(sizes):
        base = len(verts)
        start = np.array([40.0 + 60 * k, 30.0 + 20 * k, 10.0 + 5 * k])
        for i in range(n):
            for _ in range(1000):
                if i == 0:
                    cand = start + rng.integers(0, 8, 3) * 0.25
                    parent = None
                else:
                    parent = base + int(rng.integers(0, i))
                    cand = verts[parent] + rng.integers(-16, 17, 3) * 0.75
                if all(np.abs(cand - v).max() >= 3 for v in verts) and cand.min() > 0:
                    break
            else:
                raise RuntimeError("could not place a skeleton vertex")
            verts.append(cand)
            if parent is not None:
                edges.append((base + i, parent) if rng.random() < 0.5 else (parent, base + i))
    order = rng.permutation(len(edges)) if edges else []
    e = np.array([edges[j] for j in order], dtype=np.uint32).reshape(-1, 2)
    return np.array(verts, dtype=np.float32), e


SKEL_SHAPES = {101: (12, 6), BIG: (20,), MAX: (7, 1), 5: (1,), 100: (9,), H63: (5, 5), 3: (4, 1, 3), U32_BIG: (15,)}


# ---------------------------------------------------------------- writers

def _write_volume(path: Path, spec: LayerSpec) -> dict:
    from cloudvolume import CloudVolume

    info = CloudVolume.create_new_info(
        num_channels=1, layer_type="segmentation", data_type=spec.dtype, encoding="raw",
        resolution=list(RES), voxel_offset=[0, 0, 0], volume_size=list(VOL_SIZE), chunk_size=[16, 16, 8],
        mesh=spec.mesh_dir if spec.mesh else None, skeletons=spec.skel_dir if spec.skeletons else None)
    if not spec.mesh:
        info.pop("mesh", None)
    if not spec.skeletons:
        info.pop("skeletons", None)
    if spec.segprops is not None:
        info["segment_properties"] = "segment_properties"
    url = "file://" + str(path)
    CloudVolume(url, info=info, progress=False).commit_info()
    vol = CloudVolume(url, progress=False, compress=False)
    ids = [i for i, _ in spec.mesh_ids] + list(spec.skel_ids) or [1]
    rng = np.random.default_rng(spec.seed)
    arr = np.asarray(ids, dtype=spec.dtype)[rng.integers(0, len(ids), size=VOL_SIZE)]
    vol[:, :, :] = arr
    return json.loads((path / "info").read_text())


def _cv(path: Path, **kw):
    from cloudvolume import CloudVolume

    return CloudVolume("file://" + str(path), progress=False, **kw)


def _write_legacy(layer: MeshLayer, rng) -> None:
    from cloudfiles import CloudFiles
    from cloudvolume import Mesh

    spec, path = layer.spec, layer.path
    mdir = path / spec.mesh_dir
    mdir.mkdir(parents=True, exist_ok=True)
    if spec.mesh == "legacy":
        minfo = {"@type": "neuroglancer_legacy_mesh", "mip": 0, "chunk_size": [16, 16, 8], "spatial_index": None}
        gz = "gzip"
    else:
        minfo = {"mip": 0}  # no @type at all
        gz = None
    (mdir / "info").write_text(json.dumps(minfo))
    layer.mesh_info = minfo
    vol = _cv(path)
    cf = CloudFiles("file://" + str(mdir))
    for segid, _ in spec.mesh_ids:
        if segid == BIG:
            # several fragments, named as Igneous names them, one of them empty, one not gzip'd
            names, parts = [], []
            for k, off in enumerate(((0, 0, 0), (128, 0, 0), (0, 128, 320))):
                v, f = legacy_fragment(rng, off)
                name = f"{segid}:0:{off[0]}-{off[0] + 128}_{off[1]}-{off[1] + 128}_{off[2]}-{off[2] + 320}"
                cf.put(name, Mesh(v, f, segid=segid).to_precomputed(), compress=(None if k == 1 else gz))
                names.append(name)
                parts.append((v, f))
            cf.put(f"{segid}:0:empty", struct.pack("<I", 0), compress=gz)
            names.insert(2, f"{segid}:0:empty")
            cf.put_json(f"{segid}:0", {"fragments": names})
            verts = np.concatenate([p[0] for p in parts])
            faces = np.concatenate([p[1] + sum(len(q[0]) for q in parts[:i]) for i, p in enumerate(parts)])
        else:
            verts, faces = legacy_fragment(rng, (float(segid % 97), 7.5, -3.25))
            vol.mesh.put(Mesh(verts, faces, segid=segid), compress=gz)
        layer.meshes[(segid, 0)] = (verts.astype(np.float64), faces)
    layer.unknown_mesh_ids = {"no manifest": 12345}
    if not spec.broken_meshes:
        return
    # broken ones
    v, f = legacy_fragment(rng, (0, 0, 0))
    good = Mesh(v, f).to_precomputed()
    nv = len(v)
    bad = {
        666: good[: 4 + 12 * (nv // 2) + 2],
        668: good + struct.pack("<II", 0, 1),
        669: Mesh(v, np.vstack([f, [[0, 1, nv + 5]]])).to_precomputed(),
    }
    for segid, data in bad.items():
        cf.put(f"{segid}:0:1", data, compress=gz)
        cf.put_json(f"{segid}:0", {"fragments": [f"{segid}:0:1"]})
    cf.put(f"667:0:1", good, compress=gz)
    cf.put(f"667:0", b'{"fragments": ["667:0:1"', compress=None)
    assert {s for s, _ in spec.broken_meshes} == {666, 667, 668, 669}


def _write_multilod(layer: MeshLayer, rng) -> None:
    spec, path = layer.spec, layer.path
    geo = MULTILOD[spec.name]
    mdir = path / spec.mesh_dir
    mdir.mkdir(parents=True, exist_ok=True)
    minfo = {"@type": "neuroglancer_multilod_draco", "vertex_quantization_bits": geo["q"],
             "transform": geo["transform"], "lod_scale_multiplier": 1.0}
    if geo["sharding"]:
        minfo["sharding"] = geo["sharding"]
    (mdir / "info").write_text(json.dumps(minfo))
    layer.mesh_info = minfo
    chunks, offsets = {}, {}  # sharded: segid -> fragments + manifest, manifest length

    def store(segid, fragments: bytes, manifest: bytes):
        if geo["sharding"]:
            chunks[segid] = fragments + manifest
            offsets[segid] = len(manifest)
        else:
            (mdir / f"{segid}.index").write_bytes(manifest)
            (mdir / str(segid)).write_bytes(fragments)

    for segid, nlods in spec.mesh_ids:
        m = make_multilod(rng, geo, segid, nlods)
        store(segid, m["fragments"], m["manifest"])
        for lod, exp in m["expected"].items():
            layer.meshes[(segid, lod)] = exp
        layer.manifests[segid] = m
    broken = dict(spec.broken_meshes)
    for segid, what in broken.items():
        m = make_multilod(rng, geo, segid, 2)
        frags, man = m["fragments"], m["manifest"]
        if what.startswith("manifest truncated"):
            man = man[:-6]
        elif what.startswith("a lod 0 fragment is garbage"):
            s0 = m["sizes"][0]
            start = sum(s0[:1])
            junk = b"DRACO" + bytes(rng.integers(0, 256, s0[1] - 5, dtype=np.uint8))
            frags = frags[:start] + junk + frags[start + s0[1]:]
        elif what.startswith("fragment data file shorter"):
            frags = frags[: m["lod_sizes"][0] - 7]
        else:
            raise ValueError(what)
        store(segid, frags, man)
    if geo["sharding"]:
        from cloudvolume.datasource.precomputed.sharding import ShardingSpecification, synthesize_shard_files

        sspec = ShardingSpecification.from_dict(geo["sharding"])
        files = synthesize_shard_files(sspec, chunks, data_offset=offsets)
        for fname, data in files.items():
            (mdir / fname).write_bytes(data)
        layer.files["mesh_shards"] = sorted(files)
        layer.unknown_mesh_ids = unknown_sharded_ids(geo["sharding"], set(chunks), set(files))
    else:
        layer.unknown_mesh_ids = {"no manifest": 12345}


def shard_location(sh: dict, segid: int) -> tuple:
    """(shard file name, minishard number) of a segment id: h = hash(segid >> preshift_bits)
    (identity, or the low 64 bits of murmurhash3_x86_128 of the 8 little-endian bytes,
    seed 0); minishard = h & (2**minishard_bits - 1); shard = (h >> minishard_bits) &
    (2**shard_bits - 1), named in hex zero-padded to ceil(shard_bits / 4) digits."""
    from cloudvolume.datasource.precomputed import mmh3

    key = segid >> sh["preshift_bits"]
    if sh["hash"] == "identity":
        h = key
    else:
        h = mmh3.hash64(key.to_bytes(8, "little"), x64arch=False)[0] % 2**64
    mini = h & ((1 << sh["minishard_bits"]) - 1)
    shard = (h >> sh["minishard_bits"]) & ((1 << sh["shard_bits"]) - 1)
    digits = -(-sh["shard_bits"] // 4)
    return (f"{shard:0{digits}x}" if digits else "0") + ".shard", mini


def unknown_sharded_ids(sh: dict, present: set, files: set) -> dict:
    """An id whose shard file exists but does not hold it, and one whose shard file is absent."""
    out = {}
    for segid in range(12345, 13000):
        f, _ = shard_location(sh, segid)
        if segid in present:
            continue
        kind = "in an existing shard" if f in files else "shard file absent"
        out.setdefault(kind, segid)
        if len(out) == 2:
            return out
    raise RuntimeError(f"no unknown ids found: {out}")


def _skeleton(segid: int, rng, attrs: str):
    from cloudvolume import Skeleton

    verts, edges = skeleton_graph(rng, SKEL_SHAPES[segid])
    n = len(verts)
    radius = (rng.integers(4, 400, n) * 0.25).astype(np.float32)
    vtypes = rng.integers(0, 8, n).astype(np.uint8)
    comp = rng.integers(1, 5, n).astype(np.uint8)
    if attrs == "none":
        skel = Skeleton(verts, edges, segid=segid, extra_attributes=[], default_attributes=False)
    else:
        skel = Skeleton(verts, edges, radius, vtypes, segid=segid,
                        extra_attributes=[dict(a) for a in SKEL_ATTRS[attrs]])
        if attrs == "extra":
            skel.extra = rng.normal(size=(n, 2)).astype(np.float32)
            skel.compartment = comp
    exp_r = radius if attrs != "none" else np.zeros(n, np.float32)
    exp_t = {"default": vtypes, "extra": comp, "none": np.zeros(n, np.uint8)}[attrs]
    return skel, {"stored": verts, "edges": edges, "radius": exp_r, "types": exp_t}


def _write_skeletons(layer: MeshLayer, rng) -> None:
    spec, path = layer.spec, layer.path
    sdir = path / spec.skel_dir
    sdir.mkdir(parents=True, exist_ok=True)
    sinfo = {"@type": "neuroglancer_skeletons", "transform": SKEL_TRANSFORM[spec.name],
             "vertex_attributes": SKEL_ATTRS[spec.skel_attrs]}
    sharded = spec.skeletons == "sharded"
    if sharded:
        sinfo["sharding"] = SKEL_SHARDING[spec.name]
    (sdir / "info").write_text(json.dumps(sinfo))
    layer.skel_info = sinfo
    gz = spec.name.startswith("gz/")
    vol = _cv(path, compress=(True if gz else False))
    binaries = {}
    for segid in spec.skel_ids:
        skel, exp = _skeleton(segid, rng, spec.skel_attrs)
        exp["vertices"] = apply_transform(exp["stored"], sinfo["transform"])
        layer.skels[segid] = exp
        if sharded:
            binaries[segid] = skel.to_precomputed()
        else:
            vol.skeleton.upload(skel)
    broken = dict(spec.broken_skels)
    skel, _ = _skeleton(101, rng, spec.skel_attrs)
    good = skel.to_precomputed()
    nv = len(skel.vertices)
    if sharded:
        from cloudvolume.datasource.precomputed.sharding import ShardingSpecification, synthesize_shard_files

        sspec = ShardingSpecification.from_dict(sinfo["sharding"])
        binaries[666] = good  # replaced by garbage below
        binaries[667] = good[: 8 + 12 * nv - 5]
        files = synthesize_shard_files(sspec, binaries)
        # overwrite 666's (gzip'd) chunk with bytes that are not gzip
        f666, _ = shard_location(sinfo["sharding"], 666)
        data = bytearray(files[f666])
        import seg_volumes as SV

        (s, e), = [r for cid, r in SV.parse_shard(bytes(data), sinfo["sharding"]).items() if cid == 666]
        data[s:e] = b"\xff" * (e - s)
        files[f666] = bytes(data)
        for fname, blob in files.items():
            (sdir / fname).write_bytes(blob)
        layer.files["skel_shards"] = sorted(files)
        layer.unknown_skel_ids = unknown_sharded_ids(sinfo["sharding"], set(binaries), set(files))
        assert set(broken) == {666, 667}
    else:
        from cloudfiles import CloudFiles

        cf = CloudFiles("file://" + str(sdir))
        bad = {666: good[: 8 + 12 * (nv // 2)]}
        if 668 in broken:
            e = skel.edges.copy()
            e[len(e) // 2] = (0, nv + 3)
            bad[668] = good[:8 + 12 * nv] + e.astype("<u4").tobytes() + good[8 + 12 * nv + 8 * len(e):]
        for segid in broken:
            cf.put(str(segid), bad[segid], compress=("gzip" if gz else None))
        layer.unknown_skel_ids = {"no file": 12345}


def _segprops(spec: LayerSpec) -> bytes:
    ids = [str(i) for i in spec.segprops]
    props = [{"id": "label", "type": "label", "values": [f"Zellkörper {i} α" for i in ids]}]
    if spec.name.startswith("gz/"):
        props += [{"id": "description", "type": "description", "values": [f"segment {i}" for i in ids]},
                  {"id": "volume", "type": "number", "data_type": "uint32",
                   "values": [10 * k + 1 for k in range(len(ids))]},
                  {"id": "tags", "type": "tags", "tags": ["soma", "exc"], "tag_descriptions": ["Soma", "Excitatory"],
                   "values": [[0], [0, 1], []][:len(ids)]}]
    doc = {"@type": "neuroglancer_segment_properties", "inline": {"ids": ids, "properties": props}}
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()


def write_layer(spec: LayerSpec, root: Path, base_url: str) -> MeshLayer:
    path = Path(root) / spec.name
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = _write_volume(path, spec)
    layer = MeshLayer(spec=spec, path=path, url=f"{base_url}/{spec.name}", info=info)
    rng = np.random.default_rng(1000 + spec.seed)
    if spec.mesh in ("legacy", "legacy-notype"):
        _write_legacy(layer, rng)
    elif spec.multilod:
        _write_multilod(layer, rng)
    if spec.skeletons:
        _write_skeletons(layer, rng)
    if spec.segprops is not None:
        d = path / "segment_properties"
        d.mkdir()
        layer.segprops_bytes = _segprops(spec)
        (d / "info").write_bytes(layer.segprops_bytes)
    return layer


def write_all(root: Path, base_url: str) -> dict:
    return {s.name: write_layer(s, root, base_url) for s in LAYERS}


# ---------------------------------------------------------------- reference reader (cloud-volume over HTTP)

def cv_http(url: str):
    from cloudvolume import CloudVolume

    return CloudVolume("precomputed://" + url, progress=False, cache=False, parallel=1)


def cv_mesh(vol, spec: LayerSpec, segid: int, lod: int = 0):
    """cloud-volume's decoded mesh: (vertices (n,3) float64 nm, faces (m,3))."""
    if spec.multilod:
        m = vol.mesh.get(segid, lod=lod)[segid]
    else:
        assert lod == 0
        m = vol.mesh.get(segid, remove_duplicate_vertices=False)
    return np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)


def cv_skeleton(vol, spec: LayerSpec, segid: int) -> dict:
    """cloud-volume's skeleton in nm with the SWC radius and type the contract derives."""
    s = vol.skeleton.get(segid)
    names = [a["id"] for a in vol.skeleton.meta.info.get("vertex_attributes", [])]
    n = len(s.vertices)
    radius = np.asarray(s.radius, np.float64).reshape(n) if "radius" in names else np.zeros(n)
    if "compartment" in names:
        types = np.asarray(s.compartment).reshape(n)
    elif "vertex_types" in names:
        types = np.asarray(s.vertex_types).reshape(n)
    else:
        types = np.zeros(n, np.uint8)
    return {"vertices": np.asarray(s.vertices, np.float64), "edges": np.asarray(s.edges, np.int64).reshape(-1, 2),
            "radius": radius, "types": types.astype(np.int64)}


def gunzip_if(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
