"""Grids of HDF5 cubes (issue 6): the data writer, the expected arrays and the servers.

A grid is one directory of cube files, each named by ``pattern`` (``{x}``, ``{y}``,
``{z}`` are decimal cube indices) and holding dataset ``dataset`` shaped
(cube z, cube y, cube x), as L4dense's ``x{x}y{y}z{z}.hdf5`` cubes do. Cube (i, j, k)
covers voxels ``origin + (i, j, k) * cube`` up to the next cube; the volume voxfs shows
is the bounding box of the cubes present (``Grid.voxel_offset``, ``Grid.size``), with
zeros where a cube is absent (``Grid.volume``, (Z, Y, X), native byte order).

Every grid is written with h5py under one root, which is served three ways at once:

* WebDAV: wsgidav (tree_servers.WebDavServer, with a deeper listen backlog) with the root as share ``/dav``,
  ``hdf5grid+webdav+http://127.0.0.1:PORT/dav/<name>/`` (``grid_dav`` fixture);
* nginx autoindex: the root is ``<nginx root>/idx/h5grids``, so
  ``hdf5grid+http://127.0.0.1:PORT/idx/h5grids/<name>/``;
* local files: ``hdf5grid+file:///<root>/<name>/``.

``BIG`` (2 cubes of 256^3 random uint8, 64^3 gzip chunks, ~34 MB) is written only when
a test asks for the ``big_grid`` fixture, and removed at the end of the module.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tree_servers import WebDavServer
from volumes import random_data

H5_SUBDIR = "idx/h5grids"  # under the nginx root

CUBE = (40, 24, 16)  # x, y, z voxels per cube of the main grids (dataset shape (16, 24, 40))
TYPE_CUBE = (12, 10, 6)  # the per-dtype grids


def box(xs, ys, zs) -> tuple:
    """Every cube index (i, j, k) with i in xs[0]..xs[1] (inclusive) etc."""
    return tuple((i, j, k) for i in range(xs[0], xs[1] + 1) for j in range(ys[0], ys[1] + 1)
                 for k in range(zs[0], zs[1] + 1))


def num(v) -> str:
    """A resolution as voxfs prints it in a scale name: 8.0 -> 8, 11.24 -> 11.24."""
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


@dataclass(frozen=True)
class GridSpec:
    name: str  # directory under the root
    dtype: str  # on-disk dtype as h5py writes it: 'u1', '>u2', '<f4', ...
    cube: tuple  # (x, y, z) voxels per cube
    indices: tuple  # cube indices present
    resolution: tuple = (8, 8, 40)
    origin: tuple = (0, 0, 0)
    pattern: str = "x{x}y{y}z{z}.hdf5"
    dataset: str | None = None  # None: left out of the config (the default /data)
    storage: dict = field(default_factory=dict)  # create_dataset kwargs: chunks, compression, ...
    # per-cube alternatives: (i, j, k) -> "partial" | "lzf" | "truncated" | "garbage" |
    # "wrong_shape" | "no_dataset" | "contiguous" | "chunked"
    special: dict = field(default_factory=dict)
    fillvalue: int | float | None = None
    extra_files: tuple = ()  # names in the directory that do not match the pattern
    explicit_origin: bool = False  # put origin in the config even when it is (0, 0, 0)
    seed: int = 0

    @property
    def native(self) -> np.dtype:
        return np.dtype(self.dtype).newbyteorder("=")

    @property
    def data_type(self) -> str:
        return self.native.name

    @property
    def h5_dataset(self) -> str:
        return self.dataset or "/data"

    @property
    def lo(self) -> tuple:
        return tuple(min(ix[a] for ix in self.indices) for a in range(3))

    @property
    def hi(self) -> tuple:
        return tuple(max(ix[a] for ix in self.indices) for a in range(3))

    @property
    def voxel_offset(self) -> tuple:
        return tuple(self.origin[a] + self.lo[a] * self.cube[a] for a in range(3))

    @property
    def size(self) -> tuple:
        return tuple((self.hi[a] - self.lo[a] + 1) * self.cube[a] for a in range(3))

    @property
    def scale_key(self) -> str:
        return "_".join(num(r) for r in self.resolution)

    @property
    def formats(self) -> tuple:
        return ("png", "tif", "npy") if self.data_type in ("uint8", "uint16") else ("tif", "npy")

    @property
    def z_range(self) -> range:
        return range(self.voxel_offset[2], self.voxel_offset[2] + self.size[2])

    def file_name(self, ix) -> str:
        return self.pattern.format(x=ix[0], y=ix[1], z=ix[2])

    def cube_box(self, ix) -> tuple:
        """Absolute (x0, x1, y0, y1, z0, z1) of cube ``ix``."""
        out = []
        for a in range(3):
            lo = self.origin[a] + ix[a] * self.cube[a]
            out += [lo, lo + self.cube[a]]
        return tuple(out)

    def missing(self) -> list:
        """Cube indices inside the bounding box with no file."""
        present = set(self.indices)
        return [ix for ix in box(*zip(self.lo, self.hi)) if ix not in present]

    def config(self, tree_url: str, **extra) -> dict:
        """The long-form mount entry for this grid served at ``tree_url`` (ends in /)."""
        cfg = {"source": "hdf5grid+" + tree_url, "pattern": self.pattern, "cube": list(self.cube),
               "resolution": list(self.resolution)}
        if self.dataset is not None:
            cfg["dataset"] = self.dataset
        if self.explicit_origin or tuple(self.origin) != (0, 0, 0):
            cfg["origin"] = list(self.origin)
        cfg.update(extra)
        return cfg


@dataclass
class Grid:
    spec: GridSpec
    path: Path  # the directory
    volume: np.ndarray  # (Z, Y, X) over the bounding box, native order; zeros for absent cubes
    files: dict  # cube index -> file path
    sizes: dict  # cube index -> file size

    @property
    def name(self) -> str:
        return self.spec.name

    def expected(self, x0, x1, y0, y1, z0, z1) -> np.ndarray:
        ox, oy, oz = self.spec.voxel_offset
        return self.volume[z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox]

    def slice(self, z: int) -> np.ndarray:
        return self.volume[z - self.spec.voxel_offset[2]]

    def bounds(self) -> tuple:
        (ox, oy, oz), (sx, sy, sz) = self.spec.voxel_offset, self.spec.size
        return (ox, ox + sx, oy, oy + sy, oz, oz + sz)


# ---------------------------------------------------------------- the grids

_TYPES = ["i1", ">i2", "<u2", "<i4", ">u4", "<i8", ">u8", "<u8", ">f4", "<f8", ">f8"]


def type_grid_name(dt: str) -> str:
    order = {"<": "le", ">": "be"}.get(dt[0], "")
    return "t_" + dt.lstrip("<>=|") + order


def _type_specs() -> list:
    out = []
    for n, dt in enumerate(_TYPES):
        # cube (0, 0, 0) and (1, 0, 1) contiguous, the others chunked + gzip with chunks
        # that do not divide the cube
        special = {(0, 0, 0): "contiguous", (1, 0, 1): "contiguous"}
        out.append(GridSpec(type_grid_name(dt), dt, TYPE_CUBE, box((0, 1), (0, 0), (0, 1)), resolution=(4, 4, 40),
                            storage=dict(chunks=(4, 4, 5), compression="gzip"), special=special, seed=300 + n))
    return out


GRIDS: tuple = (
    # L4dense style: uint8, contiguous, origin [1, 1, 1], 2x2x2 cubes; names that do not
    # match the pattern lie next to the cubes (one is a real cube file, one index 9)
    GridSpec("u8", "u1", CUBE, box((0, 1), (0, 1), (0, 1)), resolution=(11.24, 11.24, 28), origin=(1, 1, 1),
             extra_files=("README.txt", "x0y0.hdf5", "xay0z0.hdf5", "x9y9z9.hdf5.tmp", "x0y0z0.hdf5.bak"),
             seed=1),
    # uint32, chunked + gzip, chunks (5, 10, 16) divide nothing; cubes x1..2, y0..1, z3;
    # z before x in the name; resolution written as 8.0 (scale "8_8_40"); dataset given
    GridSpec("u32gz", "<u4", CUBE, box((1, 2), (0, 1), (3, 3)), resolution=(8.0, 8.0, 40.0),
             pattern="c_z{z}_y{y}_x{x}.h5", dataset="/data",
             storage=dict(chunks=(5, 10, 16), compression="gzip"), extra_files=("c_z3_y0.h5",), seed=2),
    # big-endian uint16, chunked + shuffle + gzip + fletcher32, dataset in a group
    GridSpec("u16be", ">u2", CUBE, box((0, 1), (0, 0), (0, 1)), resolution=(4, 4, 35.5), origin=(3, 0, 5),
             pattern="{x}_{y}_{z}.h5", dataset="/volume/raw",
             storage=dict(chunks=(6, 7, 13), compression="gzip", shuffle=True, fletcher32=True), seed=3),
    # float32, contiguous, NaN / inf / -0.0 / denormals among the values
    GridSpec("f32", "<f4", CUBE, box((0, 1), (0, 0), (0, 0)), resolution=(6, 6, 30), explicit_origin=True, seed=4),
    # cube (1, 0, 0) absent, in the middle of the bounding box (3 x 2 x 1 cubes)
    GridSpec("holes", "<u2", CUBE, tuple(ix for ix in box((0, 2), (0, 1), (0, 0)) if ix != (1, 0, 0)),
             resolution=(8, 8, 40), seed=5),
    # cube (0, 0, 0) only partly written: chunks never written read as the fill value 4242
    GridSpec("fill", "<u2", CUBE, box((0, 1), (0, 0), (0, 0)), resolution=(8, 8, 40),
             storage=dict(chunks=(5, 10, 16)), fillvalue=4242, special={(0, 0, 0): "partial"}, seed=6),
    # cube (1, 0, 0) compressed with lzf (no filter in voxfs): its reads fail, the rest read
    GridSpec("lzf", "u1", CUBE, box((0, 1), (0, 0), (0, 0)), storage=dict(chunks=(8, 12, 20), compression="gzip"),
             special={(1, 0, 0): "lzf"}, seed=7),
    # cube 0 good, then a truncated file, garbage bytes, a dataset of the wrong shape and a
    # file without the dataset
    GridSpec("corrupt", "u1", CUBE, box((0, 4), (0, 0), (0, 0)),
             special={(1, 0, 0): "truncated", (2, 0, 0): "garbage", (3, 0, 0): "wrong_shape",
                      (4, 0, 0): "no_dataset"}, seed=8),
    *_type_specs(),
)

BY_NAME = {g.name: g for g in GRIDS}
BAD_KINDS = ("lzf", "truncated", "garbage", "wrong_shape", "no_dataset")

# the byte-count grid: 2 cubes of 256^3 random uint8 side by side in x, 64^3 gzip chunks
BIG = GridSpec("big", "u1", (256, 256, 256), box((0, 1), (0, 0), (0, 0)), resolution=(8, 8, 8),
               storage=dict(chunks=(64, 64, 64), compression="gzip"), seed=9)


# ---------------------------------------------------------------- writing

def _cube_data(spec: GridSpec, ix) -> np.ndarray:
    cx, cy, cz = spec.cube
    seed = spec.seed * 100_000 + ix[0] * 10_000 + ix[1] * 100 + ix[2]
    return random_data((cz, cy, cx), spec.native, seed)


# the parts of a "partial" cube that are written: chunk (0, 0, 0) exactly, and a box
# inside other chunks (they get stored whole, fill value around the box)
PARTIAL_WRITES = ((slice(0, 5), slice(0, 10), slice(0, 16)), (slice(7, 9), slice(12, 15), slice(20, 30)))


def _write_cube(spec: GridSpec, path: Path, data: np.ndarray, kind: str) -> np.ndarray:
    """Writes one cube file; returns what it must read as (the data, or fill + writes)."""
    import h5py

    storage = dict(spec.storage)
    if kind == "contiguous":
        storage = {}
    elif kind == "lzf":
        storage = dict(chunks=storage.get("chunks") or (8, 12, 20), compression="lzf")
    if spec.fillvalue is not None and kind != "contiguous":
        storage["fillvalue"] = spec.fillvalue
    name = spec.h5_dataset
    disk = data.astype(spec.dtype)
    if kind == "garbage":
        # as large as a real cube, but no HDF5 signature anywhere
        n = 2048 + disk.nbytes
        raw = bytearray(np.random.default_rng(len(str(path))).integers(0, 256, size=n, dtype=np.uint8).tobytes())
        path.write_bytes(bytes(raw).replace(b"\x89HDF", b"\x88HDF"))
        return data
    with h5py.File(path, "w") as f:  # h5py defaults: superblock v0, v1 B-trees
        if kind == "partial":
            ds = f.create_dataset(name, shape=disk.shape, dtype=spec.dtype, **storage)
            expected = np.full(data.shape, spec.fillvalue, dtype=spec.native)
            for s in PARTIAL_WRITES:
                ds[s] = disk[s]
                expected[s] = data[s]
            return expected
        if kind == "wrong_shape":
            f.create_dataset(name, data=disk[:, :, :-1], dtype=spec.dtype, **storage)
        elif kind == "no_dataset":
            f.create_dataset("/other", data=disk, dtype=spec.dtype, **storage)
        else:
            f.create_dataset(name, data=disk, dtype=spec.dtype, **storage)
            if kind == "truncated":
                data_at = f[name].id.get_offset()
    if kind == "truncated":
        # the header is whole; the data stops half-way
        assert data_at is not None, "truncated cubes must be contiguous"
        os.truncate(path, data_at + disk.nbytes // 2)
    return data


def write_grid(spec: GridSpec, root: Path) -> Grid:
    d = Path(root) / spec.name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    cx, cy, cz = spec.cube
    sx, sy, sz = spec.size
    volume = np.zeros((sz, sy, sx), dtype=spec.native)
    files, sizes = {}, {}
    lo = spec.lo
    for ix in spec.indices:
        data = _cube_data(spec, ix)
        p = d / spec.file_name(ix)
        got = _write_cube(spec, p, data, spec.special.get(ix, "ok"))
        i, j, k = (ix[a] - lo[a] for a in range(3))
        volume[k * cz:(k + 1) * cz, j * cy:(j + 1) * cy, i * cx:(i + 1) * cx] = got
        files[ix] = p
        sizes[ix] = p.stat().st_size
    for name in spec.extra_files:
        src = files[spec.indices[0]]
        if name.endswith((".hdf5", ".h5", ".tmp", ".bak")):
            shutil.copyfile(src, d / name)  # real HDF5, a name that does not match
        else:
            (d / name).write_text("not a cube\n")
    return Grid(spec, d, volume, files, sizes)


def write_grids(root: Path, specs=GRIDS) -> dict:
    return {s.name: write_grid(s, root) for s in specs}


def bad_cubes(grid: Grid) -> dict:
    """kind -> cube index, for the cubes of ``grid`` that must read as EIO."""
    return {kind: ix for ix, kind in grid.spec.special.items() if kind in BAD_KINDS}


def chunk_bytes_for_z(path: Path, dataset: str, z_in_cube: int) -> int:
    """Stored bytes of the chunks of ``dataset`` that hold cube-local plane ``z_in_cube``."""
    import h5py

    with h5py.File(path, "r") as f:
        ds = f[dataset]
        cz = ds.chunks[0]
        total = 0
        for n in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(n)
            if info.chunk_offset[0] <= z_in_cube < info.chunk_offset[0] + cz:
                total += info.size
        return total


# ---------------------------------------------------------------- fixtures (imported by the tests)

class GridSet:
    """The grids written under ``root`` and the URLs that serve them."""

    def __init__(self, root: Path, grids: dict, nginx_url: str):
        self.root = root
        self.grids = grids
        self.nginx_url = nginx_url
        self.dav: WebDavServer | None = None

    def url(self, name: str, how: str) -> str:
        """The file-tree URL (ending in /) of grid ``name``: how = dav | nginx | file."""
        if how == "dav":
            return self.dav.source(name)
        if how == "nginx":
            return f"{self.nginx_url}/{H5_SUBDIR}/{name}/"
        if how == "file":
            return f"file://{self.root / name}/"
        raise ValueError(how)


@pytest.fixture(scope="module")
def grid_set(nginx_server) -> GridSet:
    root = nginx_server.root / H5_SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    gs = GridSet(root, write_grids(root), nginx_server.url)
    yield gs


class GridDavServer(WebDavServer):
    """WebDavServer with a listen backlog of 256 instead of cheroot's 5: voxfs opens many
    connections at once to fetch chunks, and with 5 the kernel drops the surplus SYNs,
    which the client resends only after 1 s (a 1 s stall per burst, not a voxfs fault)."""

    def command(self) -> list:
        cmd = super().command()
        cf = self.workdir / "wsgidav.json"
        conf = json.loads(cf.read_text())
        conf["server_args"]["request_queue_size"] = 256
        cf.write_text(json.dumps(conf, indent=1))
        return cmd


@pytest.fixture(scope="module")
def grid_dav(grid_set, work_dir) -> GridSet:
    """wsgidav serving the grid root as /dav (started after the grids are written)."""
    srv = GridDavServer(grid_set.root, work_dir / "wsgidav-h5grids").start()
    grid_set.dav = srv
    yield grid_set
    srv.stop()
    grid_set.dav = None


@pytest.fixture(scope="module")
def big_grid(grid_set) -> Grid:
    g = write_grid(BIG, grid_set.root)
    yield g
    shutil.rmtree(g.path, ignore_errors=True)
