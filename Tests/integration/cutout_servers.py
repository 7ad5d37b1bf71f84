"""Emulators of the two REST cutout services voxfs mounts as volumes (issue 7).

Both are threaded ``http.server``s on ``127.0.0.1`` (a port the kernel picks), started
with ``start()`` and stopped with ``stop()``. They hold their volumes as numpy arrays,
shaped (Z, Y, X) per resolution level, and cut every answer out of them.

OCP / NeuroData ndstore (``OCPServer``; mount source ``ocp+http://127.0.0.1:P/ocp/ca/<token>``)
---------------------------------------------------------------------------------------------

| request | answer |
| --- | --- |
| ``GET /ocp/ca/<token>/info/`` | the project JSON (``OCPProject.info()``): ``dataset`` with ``resolutions``, and per level (string keys) ``imagesize``, ``offset``, ``voxelres``, ``cube_dimension``; ``scalinglevels``; ``channels``; ``project`` |
| ``GET /ocp/ca/<token>/<channel>/hdf5/<res>/<x0>,<x1>/<y0>,<y1>/<z0>,<z1>/`` | an HDF5 file (h5py), ``application/octet-stream``, whose dataset ``/<channel>/CUTOUT`` (``layout="channel"``, newer servers, next to ``CHANNELTYPE`` and ``DATATYPE``) or ``/CUTOUT`` (``layout="root"``, older servers) holds voxels [x0, x1) x [y0, y1) x [z0, z1) (absolute, end exclusive) as (Z, Y, X) of the channel's datatype, gzip-compressed in chunks when the project has ``gzip=True`` |

The trailing slash is optional. The pre-channel form ``/ocp/ca/<token>/hdf5/<res>/...``
answers 400 unless the server was made with ``channelless_urls=True``. Voxels of level r occupy ``offset[r] <= v < offset[r] +
imagesize[r]`` (``imagesize`` is the extent, not the end). A box outside that, empty, or of
an unknown channel answers 400 (an unknown token 404), with a plain-text message as
Django's ``HttpResponse*`` gave. Any box inside the image is served (the emulator does not
enforce alignment; ``cutouts()`` lets a test check it).

BossDB (``BossServer``; mount source ``bossdb://<collection>/<experiment>/<channel>``, ``api: http://127.0.0.1:P``)
--------------------------------------------------------------------------------------------------------------------

| request | answer |
| --- | --- |
| ``GET /v1/collection/<c>/experiment/<e>/channel/<ch>/`` | ``{"name", "type": "image"/"annotation", "datatype", "base_resolution": 0, "downsample_status": "DOWNSAMPLED", ...}`` |
| ``GET /v1/collection/<c>/experiment/<e>/`` | ``{"name", "coord_frame", "num_hierarchy_levels", "hierarchy_method", ...}`` |
| ``GET /v1/collection/<c>/`` | ``{"name", "experiments": [...]}`` |
| ``GET /v1/coord/<frame>/`` | ``{"x_start", "x_stop", ..., "x_voxel_size", ..., "voxel_unit": "nanometers"}`` |
| ``GET /v1/cutout/<c>/<e>/<ch>/<res>/<x0>:<x1>/<y0>:<y1>/<z0>:<z1>/`` with ``Accept: application/npygz`` | ``zlib.compress(np.save(array (Z, Y, X)))``, ``Content-Type: application/npygz`` |

Every request must carry ``Authorization: Token <t>`` with ``t`` in ``BossServer.tokens``
(otherwise 403). Errors are JSON ``{"status", "code", "message"}``. Level r of an
experiment (``boss_level``): ``anisotropic`` halves x and y per level, ``isotropic`` all
three; the level's voxels start at ``start // 2**r`` and number ``ceil((stop - start) /
2**r)``. A cutout outside them answers 400. A cutout without ``application/npygz`` in its
``Accept`` answers 406 (the emulator speaks no blosc).

Faults (both servers; per test, then ``clear_faults()``)
--------------------------------------------------------

``inject(prefix, kind, ...)`` makes requests whose path starts with ``prefix`` (cutouts
only, unless ``cutouts_only=False``) misbehave:

| kind | answer |
| --- | --- |
| ``status`` | ``status`` (e.g. 403, 404, 413, 429, 500) with the server's error body carrying ``message``, plus ``headers`` (e.g. ``{"Retry-After": "0"}``) |
| ``malformed`` | 200 with random bytes (as long as the real body) instead of HDF5 / npygz |
| ``garbled`` | 200 with a well-formed container holding the wrong thing: an HDF5 file without a ``CUTOUT`` dataset / zlib of bytes that are no NPY |
| ``truncated`` | 200, ``Content-Length`` of the real body, half of it sent, then the connection closes |
| ``wrong_shape`` | 200 with a valid body whose array lacks the last x column |

With ``once_per_url=True`` each distinct URL gets the fault on its first request only and
is served normally when asked again (a retry succeeds); otherwise the fault is permanent.
``requests`` records every request (method, path, Authorization, status, fault kind).
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import urllib.parse
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

FAULT_KINDS = ("status", "malformed", "garbled", "truncated", "wrong_shape")

# ids that a float64 cannot hold, and the famous MICrONS one
BIG_IDS = (2**53 + 1, 2**64 - 1, 864691135122603047, 2**63 + 12345, 2**53 + 3)


# ---------------------------------------------------------------- data

def image_data(shape, dtype, seed: int) -> np.ndarray:
    """Random voxels over the dtype's whole range ((Z, Y, X)); random data catches
    transposed or shifted reads."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def id_data(shape, dtype, seed: int, n_ids: int = 40) -> np.ndarray:
    """Segment ids ((Z, Y, X)): zeros, and ids from a palette that for uint64 lies above
    2**53 (so a pass through float64 would change them) and includes ``BIG_IDS``."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    hi = np.iinfo(dt).max
    if dt.itemsize == 8:
        palette = rng.integers(2**53, hi, size=n_ids, dtype=dt, endpoint=True)
        palette[: len(BIG_IDS)] = np.array(BIG_IDS, dtype=dt)
    else:
        palette = rng.integers(1, hi, size=n_ids, dtype=dt, endpoint=True)
        palette[0] = hi
        palette[1] = 2 ** (dt.itemsize * 8 - 1) + 7
    palette[-1] = 0
    return palette[rng.integers(0, n_ids, size=shape)]


def scale_key(res) -> str:
    """A precomputed scale key from a resolution: ``6_6_30``, ``5.5_5.5_30``."""
    def one(v):
        v = float(v)
        return str(int(v)) if v.is_integer() else repr(v)
    return "_".join(one(v) for v in res)


# ---------------------------------------------------------------- OCP data model

@dataclass
class OCPLevel:
    data: np.ndarray  # (Z, Y, X)
    offset: tuple  # (x, y, z), absolute voxel of data[0, 0, 0]
    voxelres: tuple  # nm per voxel (x, y, z)
    cube: tuple  # cube_dimension (x, y, z)

    @property
    def size(self) -> tuple:  # (X, Y, Z), ndstore's imagesize
        z, y, x = self.data.shape
        return (x, y, z)


@dataclass
class OCPProject:
    token: str
    channel: str
    channel_type: str  # "image" | "annotation"
    levels: list  # of OCPLevel, index = resolution
    layout: str = "channel"  # "channel": /<channel>/CUTOUT; "root": /CUTOUT
    gzip: bool = False

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].data.dtype

    def info(self) -> dict:
        res = list(range(len(self.levels)))
        per = lambda f: {str(r): f(lv) for r, lv in enumerate(self.levels)}  # noqa: E731
        return {
            "channels": {self.channel: {
                "channel_type": self.channel_type, "datatype": self.dtype.name,
                "description": f"{self.channel} of {self.token}", "exceptions": 0, "propagate": 2,
                "readonly": 1, "resolution": 0, "windowrange": [0, 0]}},
            "dataset": {
                "cube_dimension": per(lambda lv: list(lv.cube)),
                "description": self.token,
                "imagesize": per(lambda lv: list(lv.size)),
                "name": self.token + "_dataset",
                "neariso_scaledown": per(lambda lv: 1),
                "offset": per(lambda lv: list(lv.offset)),
                "resolutions": res,
                "scaling": "zslices",
                "scalinglevels": len(self.levels),
                "timerange": [0, 0],
                "voxelres": per(lambda lv: [float(v) for v in lv.voxelres]),
            },
            "metadata": {},
            "project": {"description": self.token, "name": self.token, "version": "0.7"},
        }

    def precomputed_scales(self) -> list:
        """What voxfs' synthesized ``info`` should say per level."""
        return [{"key": scale_key(lv.voxelres), "size": list(lv.size), "voxel_offset": list(lv.offset),
                 "resolution": [float(v) for v in lv.voxelres], "chunk_sizes": [list(lv.cube)]}
                for lv in self.levels]


def ocp_levels(size, offset, voxelres, cubes, dtype, kind: str, seed: int) -> list:
    """Levels of an ndstore "zslices" hierarchy: level r halves x and y (size ceiled,
    offset floored), z unchanged; each level's data is generated on its own."""
    out = []
    for r, cube in enumerate(cubes):
        f = 2**r
        sz = (math.ceil(size[0] / f), math.ceil(size[1] / f), size[2])
        off = (offset[0] // f, offset[1] // f, offset[2])
        res = (voxelres[0] * f, voxelres[1] * f, voxelres[2])
        gen = image_data if kind == "image" else id_data
        out.append(OCPLevel(gen((sz[2], sz[1], sz[0]), dtype, seed * 100 + r), off, res, tuple(cube)))
    return out


# ---------------------------------------------------------------- Boss data model

@dataclass
class BossFrame:
    name: str
    start: tuple  # (x, y, z)
    stop: tuple
    voxel_size: tuple  # (x, y, z), nanometers

    def json(self) -> dict:
        d = {"name": self.name, "description": "", "creator": "emulator", "voxel_unit": "nanometers"}
        for i, a in enumerate("xyz"):
            d[f"{a}_start"] = self.start[i]
            d[f"{a}_stop"] = self.stop[i]
            d[f"{a}_voxel_size"] = float(self.voxel_size[i])
        return d


def boss_level(frame: BossFrame, method: str, r: int) -> tuple:
    """(offset, size, voxel size) of level ``r``, each (x, y, z)."""
    f = 2**r
    fac = (f, f, 1) if method == "anisotropic" else (f, f, f)
    off = tuple(frame.start[i] // fac[i] for i in range(3))
    size = tuple(math.ceil((frame.stop[i] - frame.start[i]) / fac[i]) for i in range(3))
    vox = tuple(frame.voxel_size[i] * fac[i] for i in range(3))
    return off, size, vox


@dataclass
class BossChannel:
    name: str
    type: str  # "image" | "annotation"
    datatype: str  # "uint8" | "uint16" | "uint64"
    levels: list = field(default_factory=list)  # (Z, Y, X) arrays, filled by BossExperiment.add

    def json(self, experiment: str) -> dict:
        return {"name": self.name, "description": "", "experiment": experiment, "default_time_sample": 0,
                "type": self.type, "base_resolution": 0, "datatype": self.datatype, "creator": "emulator",
                "sources": [], "downsample_status": "DOWNSAMPLED", "related": []}


@dataclass
class BossExperiment:
    name: str
    frame: BossFrame
    num_levels: int
    hierarchy_method: str  # "anisotropic" | "isotropic"
    channels: dict = field(default_factory=dict)

    def level(self, r: int) -> tuple:
        return boss_level(self.frame, self.hierarchy_method, r)

    def add(self, name: str, type_: str, datatype: str, seed: int) -> BossChannel:
        ch = BossChannel(name, type_, datatype)
        gen = image_data if type_ == "image" else id_data
        for r in range(self.num_levels):
            _, (x, y, z), _ = self.level(r)
            ch.levels.append(gen((z, y, x), datatype, seed * 100 + r))
        self.channels[name] = ch
        return ch

    def json(self, collection: str) -> dict:
        return {"name": self.name, "description": "", "collection": collection,
                "coord_frame": self.frame.name, "num_hierarchy_levels": self.num_levels,
                "hierarchy_method": self.hierarchy_method, "num_time_samples": 1, "time_step": None,
                "time_step_unit": "", "creator": "emulator"}

    def precomputed_scales(self) -> list:
        out = []
        for r in range(self.num_levels):
            off, size, vox = self.level(r)
            out.append({"key": scale_key(vox), "size": list(size), "voxel_offset": list(off),
                        "resolution": [float(v) for v in vox], "chunk_sizes": [[512, 512, 16]]})
        return out


# ---------------------------------------------------------------- faults and records

@dataclass
class Fault:
    prefix: str
    kind: str
    status: int = 500
    message: str = ""
    headers: dict = field(default_factory=dict)
    once_per_url: bool = False
    cutouts_only: bool = True
    hit_urls: dict = field(default_factory=dict)  # path -> times this fault answered it

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    accept: str | None
    status: int = 0
    fault: str | None = None


@dataclass
class Cutout:
    """A parsed cutout request: ``name`` is the OCP token or ``c/e/ch`` of Boss."""
    path: str
    name: str
    channel: str
    res: int
    x: tuple
    y: tuple
    z: tuple
    status: int
    fault: str | None

    @property
    def box(self) -> tuple:
        return (self.x, self.y, self.z)


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Reply:
    status: int
    body: bytes
    ctype: str
    headers: dict = field(default_factory=dict)
    array: np.ndarray | None = None  # a cutout's voxels, for faults that re-encode them
    encode: object = None  # array -> body
    garbled: object = None  # () -> a well-formed body holding the wrong thing


# ---------------------------------------------------------------- HTTP plumbing

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cutout-emulator/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.server.emu.handle(self, head=False)

    def do_HEAD(self):
        self.server.emu.handle(self, head=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class CutoutServer:
    """What both emulators share: the server thread, request records, faults."""

    name = "cutout"

    def __init__(self):
        self._srv: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []

    # -- lifecycle

    @property
    def port(self) -> int:
        return self._srv.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CutoutServer":
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.emu = self
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name=f"{self.name}-emulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread.join(timeout=5)
            self._srv = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- faults

    def inject(self, prefix: str, kind: str = "status", *, status: int = 500, message: str = "",
               headers: dict | None = None, once_per_url: bool = False, cutouts_only: bool = True) -> Fault:
        f = Fault(prefix, kind, status, message, dict(headers or {}), once_per_url, cutouts_only)
        with self._lock:
            self.faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _fault_for(self, path: str, cutout: bool) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if not path.startswith(f.prefix) or (f.cutouts_only and not cutout):
                    continue
                if f.once_per_url and f.hit_urls.get(path):
                    continue
                f.hit_urls[path] = f.hit_urls.get(path, 0) + 1
                return f
        return None

    # -- records

    def requests_under(self, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def mark(self) -> int:
        """The number of requests so far (``cutouts(since=mark)`` then sees only newer ones)."""
        with self._lock:
            return len(self.requests)

    def cutouts(self, prefix: str = "", since: int = 0) -> list[Cutout]:
        with self._lock:
            reqs = self.requests[since:]
        out = []
        for r in reqs:
            if r.path.startswith(prefix):
                c = self.parse_cutout(r.path)
                if c is not None:
                    c.status, c.fault = r.status, r.fault
                    out.append(c)
        return out

    # -- subclass hooks

    def parse_cutout(self, path: str) -> Cutout | None:
        raise NotImplementedError

    def route(self, path: str, query: dict, headers) -> Reply:
        raise NotImplementedError

    def error_reply(self, status: int, message: str) -> Reply:
        raise NotImplementedError

    def authorize(self, headers) -> None:
        pass

    # -- one request

    def handle(self, h: _Handler, head: bool) -> None:
        u = urllib.parse.urlsplit(h.path)
        path = u.path
        rec = Request(h.command, h.path, h.headers.get("Authorization"), h.headers.get("Accept"))
        with self._lock:
            self.requests.append(rec)
        cutout = self.parse_cutout(path) is not None
        try:
            self.authorize(h.headers)
            fault = self._fault_for(path, cutout)
            if fault is not None and fault.kind == "status":
                reply = self.error_reply(fault.status, fault.message or f"injected {fault.status}")
                reply.headers.update(fault.headers)
            else:
                reply = self.route(path, urllib.parse.parse_qs(u.query, keep_blank_values=True), h.headers)
        except HTTPError as e:
            fault, reply = None, self.error_reply(e.status, e.message)
        except Exception as e:  # an emulator bug: say so instead of hanging the client
            fault, reply = None, self.error_reply(500, f"emulator error: {type(e).__name__}: {e}")
        rec.fault = fault.kind if fault is not None else None
        body = reply.body
        if fault is not None and reply.status == 200:
            if fault.kind == "malformed":
                rng = np.random.default_rng(zlib.crc32(path.encode()))
                body = rng.integers(0, 256, size=max(64, len(body)), dtype=np.uint8).tobytes()
            elif fault.kind == "garbled":
                body = reply.garbled()
            elif fault.kind == "wrong_shape":
                a = reply.array
                a = a[:, :, :-1] if a.shape[2] > 1 else np.concatenate([a, a], axis=2)
                body = reply.encode(np.ascontiguousarray(a))
        rec.status = reply.status
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if fault is not None and fault.kind == "truncated":
                h.send_header("Connection", "close")
                h.end_headers()
                if not head:
                    h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            h.end_headers()
            if not head:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def _json_reply(obj, status: int = 200) -> Reply:
    return Reply(status, (json.dumps(obj, indent=1) + "\n").encode(), "application/json")


def _check_box(box, off, size, what: str) -> None:
    for a, (lo, hi), o, n in zip("xyz", box, off, size):
        if not (o <= lo < hi <= o + n):
            raise HTTPError(400, f"{what}: {a} range {lo}-{hi} is outside {o}-{o + n} or empty")


def _cut(data: np.ndarray, box, off) -> np.ndarray:
    (x0, x1), (y0, y1), (z0, z1) = box
    return np.ascontiguousarray(data[z0 - off[2]:z1 - off[2], y0 - off[1]:y1 - off[1], x0 - off[0]:x1 - off[0]])


# ---------------------------------------------------------------- OCP

def hdf5_cutout(arr: np.ndarray, channel: str, channel_type: str, layout: str, gzip: bool,
                dataset: str = "CUTOUT") -> bytes:
    """An HDF5 file as ndstore wrote it with h5py."""
    import h5py

    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        g = f.create_group(channel) if layout == "channel" else f
        kw = {}
        if gzip:  # several chunks with partial ones at the edges
            chunks = tuple(max(1, min(n, c)) for n, c in zip(arr.shape, (8, 48, 40)))
            kw = {"compression": "gzip", "compression_opts": 4, "chunks": chunks}
        g.create_dataset(dataset, data=arr, **kw)
        if layout == "channel":
            s = h5py.string_dtype()
            g.create_dataset("CHANNELTYPE", (1,), dtype=s, data=[channel_type])
            g.create_dataset("DATATYPE", (1,), dtype=s, data=[arr.dtype.name])
    return bio.getvalue()


class OCPServer(CutoutServer):
    """ndstore's ``/ocp/ca`` REST API for ``projects`` (token -> OCPProject)."""

    name = "ocp"
    def __init__(self, projects, base: str = "/ocp/ca", channelless_urls: bool = False):
        """``channelless_urls``: also serve the pre-channel form ``<base>/<token>/hdf5/...``
        (the project's channel); otherwise such a request answers 400."""
        super().__init__()
        self.base = base.rstrip("/")
        self.projects = {p.token: p for p in projects}
        self.channelless_urls = channelless_urls
        self._cut = re.compile(
            "^" + re.escape(self.base) + r"/(?P<token>[^/]+)/(?:(?P<channel>[^/]+)/)?hdf5/(?P<res>\d+)/"
            r"(?P<x0>\d+),(?P<x1>\d+)/(?P<y0>\d+),(?P<y1>\d+)/(?P<z0>\d+),(?P<z1>\d+)/?$")

    def source(self, token: str) -> str:
        return f"ocp+{self.url}{self.base}/{token}"

    def prefix(self, token: str) -> str:
        """Path prefix of every request about ``token``."""
        return f"{self.base}/{token}/"

    def parse_cutout(self, path: str) -> Cutout | None:
        m = self._cut.match(path)
        if not m:
            return None
        g = {k: int(v) for k, v in m.groupdict().items() if k[0] in "xyz"}
        return Cutout(path, m["token"], m["channel"] or "", int(m["res"]), (g["x0"], g["x1"]), (g["y0"], g["y1"]),
                      (g["z0"], g["z1"]), 0, None)

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, message.encode(), "text/plain; charset=utf-8")

    def route(self, path: str, query: dict, headers) -> Reply:
        if not path.startswith(self.base + "/"):
            raise HTTPError(404, f"no such path {path}")
        rest = path[len(self.base) + 1:].strip("/").split("/")
        token = rest[0]
        proj = self.projects.get(token)
        if proj is None:
            raise HTTPError(404, f"Token {token} does not exist")
        if rest[1:] == ["info"]:
            return _json_reply(proj.info())
        c = self.parse_cutout(path)
        if c is None:
            raise HTTPError(400, f"Unsupported request {path}")
        if not c.channel:
            if not self.channelless_urls:
                raise HTTPError(400, f"cutout URL without a channel; expected {self.base}/{token}/"
                                     f"{proj.channel}/hdf5/<res>/<x0>,<x1>/<y0>,<y1>/<z0>,<z1>/")
            c.channel = proj.channel
        if c.channel != proj.channel:
            raise HTTPError(400, f"Channel {c.channel} does not exist for project {token}")
        if c.res >= len(proj.levels):
            raise HTTPError(400, f"Resolution {c.res} is not in the dataset")
        lv = proj.levels[c.res]
        _check_box(c.box, lv.offset, lv.size, "Illegal cutout corner")
        arr = _cut(lv.data, c.box, lv.offset)

        def encode(a):
            return hdf5_cutout(a, proj.channel, proj.channel_type, proj.layout, proj.gzip)

        def garbled():
            return hdf5_cutout(arr, proj.channel, proj.channel_type, proj.layout, proj.gzip, dataset="OTHER")

        return Reply(200, encode(arr), "application/octet-stream", array=arr, encode=encode, garbled=garbled)


# ---------------------------------------------------------------- Boss

def npygz(arr: np.ndarray) -> bytes:
    """What intern's ``application/npygz`` is."""
    bio = io.BytesIO()
    np.save(bio, arr)
    return zlib.compress(bio.getvalue())


class BossServer(CutoutServer):
    """The Boss API v1 for ``collections`` (collection -> {experiment name -> BossExperiment})."""

    name = "boss"
    _CUT = re.compile(r"^/v1/cutout/(?P<c>[^/]+)/(?P<e>[^/]+)/(?P<ch>[^/]+)/(?P<res>\d+)/"
                      r"(?P<x0>\d+):(?P<x1>\d+)/(?P<y0>\d+):(?P<y1>\d+)/(?P<z0>\d+):(?P<z1>\d+)/?$")

    def __init__(self, collections: dict, tokens=("public",)):
        super().__init__()
        self.collections = collections
        self.tokens = set(tokens)

    def source(self, collection: str, experiment: str, channel: str) -> str:
        return f"bossdb://{collection}/{experiment}/{channel}"

    def prefix(self, collection: str, experiment: str, channel: str) -> str:
        """Path prefix of every cutout of that channel."""
        return f"/v1/cutout/{collection}/{experiment}/{channel}/"

    def parse_cutout(self, path: str) -> Cutout | None:
        m = self._CUT.match(path)
        if not m:
            return None
        g = {k: int(v) for k, v in m.groupdict().items() if k[0] in "xyz"}
        return Cutout(path, f"{m['c']}/{m['e']}/{m['ch']}", m["ch"], int(m["res"]), (g["x0"], g["x1"]),
                      (g["y0"], g["y1"]), (g["z0"], g["z1"]), 0, None)

    def error_reply(self, status: int, message: str) -> Reply:
        code = {400: 1000, 403: 2003, 404: 4000, 406: 1000, 413: 1000, 429: 8000}.get(status, 9000)
        return _json_reply({"status": status, "code": code, "message": message}, status)

    def authorize(self, headers) -> None:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Token ") or auth[6:] not in self.tokens:
            raise HTTPError(403, "Invalid token or no permission to access this resource.")

    def _experiment(self, c: str, e: str) -> BossExperiment:
        if c not in self.collections:
            raise HTTPError(404, f"Collection {c} not found")
        if e not in self.collections[c]:
            raise HTTPError(404, f"Experiment {e} not found in collection {c}")
        return self.collections[c][e]

    def route(self, path: str, query: dict, headers) -> Reply:
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            raise HTTPError(404, f"no such path {path}")
        p = parts[1:]
        if len(p) == 2 and p[0] == "coord":
            for exps in self.collections.values():
                for exp in exps.values():
                    if exp.frame.name == p[1]:
                        return _json_reply(exp.frame.json())
            raise HTTPError(404, f"Coordinate frame {p[1]} not found")
        if p[:1] == ["collection"] and len(p) in (2, 4, 6) and p[2::2] == ["experiment", "channel"][:len(p) // 2 - 1]:
            c = p[1]
            if len(p) == 2:
                if c not in self.collections:
                    raise HTTPError(404, f"Collection {c} not found")
                return _json_reply({"name": c, "description": "", "experiments": sorted(self.collections[c]),
                                    "creator": "emulator"})
            exp = self._experiment(c, p[3])
            if len(p) == 4:
                return _json_reply(exp.json(c))
            ch = exp.channels.get(p[5])
            if ch is None:
                raise HTTPError(404, f"Channel {p[5]} not found in {c}/{p[3]}")
            return _json_reply(ch.json(exp.name))
        c = self.parse_cutout(path)
        if c is None:
            raise HTTPError(400, f"Unsupported request {path}")
        if "iso" in query:
            raise HTTPError(400, "the emulator does not serve iso=true")
        col, e, chn = c.name.split("/")
        exp = self._experiment(col, e)
        ch = exp.channels.get(chn)
        if ch is None:
            raise HTTPError(404, f"Channel {chn} not found in {col}/{e}")
        if "application/npygz" not in (headers.get("Accept") or ""):
            raise HTTPError(406, f"Accept {headers.get('Accept')!r}: the emulator only speaks application/npygz")
        if c.res >= exp.num_levels:
            raise HTTPError(400, f"Resolution {c.res} is outside the channel's hierarchy")
        off, size, _ = exp.level(c.res)
        _check_box(c.box, off, size, "Cutout out of the coordinate frame")
        arr = _cut(ch.levels[c.res], c.box, off)
        return Reply(200, npygz(arr), "application/npygz", array=arr, encode=npygz,
                     garbled=lambda: zlib.compress(b"this is no NPY file " * 64))
