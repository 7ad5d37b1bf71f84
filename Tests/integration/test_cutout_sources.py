"""REST cutout services as volume sources (issue 7): OCP / NeuroData ndstore
(``ocp+http://<base>/<token>``) and BossDB (``bossdb://<collection>/<experiment>/<channel>``).

The services are emulated on loopback by cutout_servers.py (its docstring lists every
URL and fault). Each mounted layer must look like a precomputed layer: ``P/info``, one
directory per resolution level named like a precomputed scale key, and ``z<N>.png``
(uint8/uint16 images only), ``z<N>.tif``, ``z<N>.npy`` and ``volume.npy``, compared voxel
for voxel with the arrays the emulators serve.

Mounts: one module-wide mount of the good layers (``main``), one of the fault layers
(``errs``, every fault test has its own OCP token / Boss channel, so caches never hide a
fault), and fresh mounts for request-shape, token and refusal tests.

Run alone:  .venv/bin/python -m pytest Tests/integration/test_cutout_sources.py -q
The first group of tests checks the emulators themselves and needs no voxfs binary.
"""

from __future__ import annotations

import errno
import io
import json
import os
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests

import checks as C
import conftest
import cutout_servers as CS
import voxfs_proc as P

SECRET = "tok-7c1e9a40d2b5-boss-secret"  # the Boss token of the config: must never be logged
ENV_TOKEN = "tok-env-3f08b6e2c9"  # accepted too; sent only when it comes from $BOSSDB_TOKEN
WRONG_TOKEN = "tok-wrong-55aa01"  # refused with 403
SHAPES_TOKEN = "tok-shapes-0d9e44"  # accepted; only test_boss_request_shapes sends it
COLLECTION = "kasthuri2015"
STATS = ".voxfs/stats.json"

# Every fault test: its fault (cutout_servers.CutoutServer.inject), what the read gives
# ("ok" = correct data after retries, else the errnos accepted), and whether the log line
# must carry the status and the server's message.
FAULTS = {
    "retry500": (dict(kind="status", status=500, message="emulator-msg transient failure", once_per_url=True),
                 "ok"),
    "retry429": (dict(kind="status", status=429, message="emulator-msg slow down",
                      headers={"Retry-After": "0"}, once_per_url=True), "ok"),
    "persistent500": (dict(kind="status", status=500, message="emulator-msg database is down"), (errno.EIO,)),
    "forbidden": (dict(kind="status", status=403, message="emulator-msg no permission for this cutout"),
                  (errno.EACCES,)),
    "too_large": (dict(kind="status", status=413,
                       message="emulator-msg Cutout request is over 500MB when uncompressed"), (errno.EFBIG,)),
    "not_found": (dict(kind="status", status=404, message="emulator-msg cuboid not found"),
                  (errno.EIO, errno.ENOENT)),
    "malformed": (dict(kind="malformed"), (errno.EIO,)),
    "garbled": (dict(kind="garbled"), (errno.EIO,)),
    "truncated": (dict(kind="truncated"), (errno.EIO,)),
    "wrong_shape": (dict(kind="wrong_shape"), (errno.EIO,)),
}
ERR_SIZE, ERR_Z = (130, 90, 20), 9  # every fault layer: one level, 6_6_30, cube 64x64x16; slice z09


# ---------------------------------------------------------------- served data

def ocp_projects() -> list:
    L = CS.ocp_levels
    projects = [
        # two levels with different cube sizes, an offset that is no multiple of the cube
        CS.OCPProject("kasthuri11cc", "image", "image",
                      L((300, 260, 40), (37, 11, 5), (6, 6, 30), [(128, 128, 16), (64, 64, 8)], "uint8", "image", 1),
                      layout="channel"),
        # older server: root /CUTOUT; gzip-compressed chunked datasets; uint32 ids
        CS.OCPProject("kat11synapses", "annotation", "annotation",
                      L((200, 150, 24), (0, 0, 1), (6, 6, 30), [(64, 64, 16)] * 2, "uint32", "annotation", 2),
                      layout="root", gzip=True),
        # newer layout with gzip; non-integer voxel size (keys 5.5_5.5_30 and 11_11_30)
        CS.OCPProject("emgzip", "EM", "image",
                      L((130, 90, 20), (4, 0, 2), (5.5, 5.5, 30), [(64, 64, 16)] * 2, "uint8", "image", 3),
                      layout="channel", gzip=True),
        # older layout, contiguous dataset
        CS.OCPProject("emroot", "em", "image",
                      L((100, 70, 12), (0, 0, 0), (4, 4, 40), [(32, 32, 8)], "uint8", "image", 4), layout="root"),
    ]
    em = projects[0]
    projects.append(CS.OCPProject("shapes_em", em.channel, em.channel_type, em.levels))  # same data
    for i, kind in enumerate(FAULTS):
        projects.append(CS.OCPProject(f"err_{kind}", "image", "image",
                                      L(ERR_SIZE, (0, 0, 0), (6, 6, 30), [(64, 64, 16)], "uint8", "image", 50 + i)))
    return projects


def boss_collections() -> dict:
    em = CS.BossExperiment("em", CS.BossFrame("kasthuri2015_frame", (0, 0, 3), (600, 520, 23), (6, 6, 30)),
                           2, "anisotropic")
    cc = em.add("cc", "image", "uint16", 11)  # level 0 crosses the 512 cuboid border in x and y
    em.channels["cc_shapes"] = CS.BossChannel("cc_shapes", "image", "uint16", cc.levels)  # same data
    ann = CS.BossExperiment("ann", CS.BossFrame("ann_frame", (0, 0, 4), (260, 200, 22), (4, 4, 40)),
                            2, "isotropic")
    ann.add("seg", "annotation", "uint64", 12)  # ids above 2**53
    errs = CS.BossExperiment("errs", CS.BossFrame("errs_frame", (0, 0, 0), ERR_SIZE, (6, 6, 30)), 1, "anisotropic")
    for i, kind in enumerate(FAULTS):
        errs.add(f"err_{kind}", "image", "uint8", 60 + i)
    errs.add("tokencheck", "image", "uint8", 90)  # test_token_never_in_log_or_stats alone reads it
    return {COLLECTION: {"em": em, "ann": ann, "errs": errs}}


@dataclass
class Layer:
    """A mounted cutout layer and what it must show."""
    key: str  # mount key
    source: object  # short-form URL or long-form dict
    type: str  # "image" | "segmentation"
    dtype: str
    scales: list  # expected precomputed scales (key, size, voxel_offset, resolution, chunk_sizes)
    data: list  # per level, (Z, Y, X) as served
    prefix: str  # path prefix of the layer's cutout requests on its server

    @property
    def formats(self) -> tuple:
        png = self.type == "image" and self.dtype in ("uint8", "uint16")
        return ("png", "tif", "npy") if png else ("tif", "npy")

    def z_range(self, r: int) -> range:
        z0 = self.scales[r]["voxel_offset"][2]
        return range(z0, z0 + self.scales[r]["size"][2])

    def slice_path(self, mp: Path, r: int, z: int, ext: str) -> Path:
        zr = self.z_range(r)
        return mp / self.key.lstrip("/") / self.scales[r]["key"] / C.slice_name(z, C.z_width(zr), ext)

    def interesting_z(self, r: int) -> list:
        """First, last, middle, and both sides of the first cube border (counted from 0
        and from the offset: either may be the client's grid)."""
        zr = self.z_range(r)
        cz = self.scales[r]["chunk_sizes"][0][2]
        first_abs = (zr[0] // cz + 1) * cz
        cand = {zr[0], zr[-1], zr[len(zr) // 2], first_abs - 1, first_abs, zr[0] + cz - 1, zr[0] + cz}
        return sorted(z for z in cand if z in zr)


def ocp_layer(key: str, srv: CS.OCPServer, token: str) -> Layer:
    p = srv.projects[token]
    return Layer(key, srv.source(token), "image" if p.channel_type == "image" else "segmentation",
                 p.dtype.name, p.precomputed_scales(), [lv.data for lv in p.levels], srv.prefix(token))


def boss_layer(key: str, srv: CS.BossServer, exp: str, channel: str, token: str | None = SECRET,
               api: bool = True, short: bool = False) -> Layer:
    e = srv.collections[COLLECTION][exp]
    ch = e.channels[channel]
    src = srv.source(COLLECTION, exp, channel)
    if not short:
        src = {"source": src}
        if api:
            src["api"] = srv.url
        if token is not None:
            src["token"] = token
    return Layer(key, src, "image" if ch.type == "image" else "segmentation", ch.datatype,
                 e.precomputed_scales(), ch.levels, srv.prefix(COLLECTION, exp, channel))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def ocp_server():
    t0 = time.monotonic()
    # voxfs asks for <token>/hdf5/... as the Kasthuri page documents the API; the emulator
    # also serves the later <token>/<channel>/hdf5/... form.
    srv = CS.OCPServer(ocp_projects(), channelless_urls=True).start()
    srv.startup_seconds = time.monotonic() - t0
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def boss_server():
    t0 = time.monotonic()
    srv = CS.BossServer(boss_collections(), tokens=(SECRET, ENV_TOKEN, SHAPES_TOKEN, "public")).start()
    srv.startup_seconds = time.monotonic() - t0
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _clean_faults_and_logs(request):
    yield
    for name in ("ocp_server", "boss_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clear_faults()
    while _borrowed:
        h = _borrowed.pop()
        if h in conftest._active_mounts:
            conftest._active_mounts.remove(h)


_borrowed: list = []  # closed mounts whose log a failing test's report still shows


@contextmanager
def mounted(base: Path, layers: list, name: str, env: dict | None = None, extra: tuple = ()):
    """A daemonized mount of ``layers`` with its own cache and log under ``base``; its log
    tail goes into the report of a test that fails while (or just after) it is open."""
    base.mkdir(parents=True, exist_ok=True)
    cfg = P.write_config(base / f"{name}.yaml", {lay.key: lay.source for lay in layers},
                         cache={"dir": str(base / f"{name}-cache"), "size": "1GiB"})
    m = P.VoxfsMount(cfg, base / f"{name}-mnt", *extra, log_file=base / f"{name}.log", env=env)
    conftest._active_mounts.append(m)
    try:
        m.open()
        yield m
    finally:
        m.close()
        _borrowed.append(m)


def main_layers(ocp: CS.OCPServer, boss: CS.BossServer) -> list:
    return [
        ocp_layer("/kasthuri11/em", ocp, "kasthuri11cc"),
        ocp_layer("/kasthuri11/synapses", ocp, "kat11synapses"),
        ocp_layer("/ocp/emgzip", ocp, "emgzip"),
        ocp_layer("/ocp/emroot", ocp, "emroot"),
        boss_layer("/kasthuri2015/em", boss, "em", "cc"),
        boss_layer("/kasthuri2015/seg", boss, "ann", "seg"),
    ]


MAIN_KEYS = ["/kasthuri11/em", "/kasthuri11/synapses", "/ocp/emgzip", "/ocp/emroot", "/kasthuri2015/em",
             "/kasthuri2015/seg"]
MAIN_LEVELS = {"/kasthuri11/em": 2, "/kasthuri11/synapses": 2, "/ocp/emgzip": 2, "/ocp/emroot": 1,
               "/kasthuri2015/em": 2, "/kasthuri2015/seg": 2}
MAIN_IMAGE_U8_U16 = {"/kasthuri11/em", "/ocp/emgzip", "/ocp/emroot", "/kasthuri2015/em"}


class Mounted:
    def __init__(self, handle, layers):
        self.handle = handle
        self.mp = handle.mountpoint
        self.layers = {lay.key: lay for lay in layers}

    def use(self):
        if self.handle not in conftest._active_mounts:
            conftest._active_mounts.append(self.handle)
        return self


@pytest.fixture(scope="module")
def main_mount(voxfs_bin, ocp_server, boss_server, tmp_path_factory):
    layers = main_layers(ocp_server, boss_server)
    assert [lay.key for lay in layers] == MAIN_KEYS
    with mounted(tmp_path_factory.mktemp("cutout-main"), layers, "main") as m:
        yield Mounted(m, layers)


@pytest.fixture(scope="module")
def errs_mount(voxfs_bin, ocp_server, boss_server, tmp_path_factory):
    layers = [ocp_layer(f"/ocp/err_{k}", ocp_server, f"err_{k}") for k in FAULTS]
    layers += [boss_layer(f"/boss/err_{k}", boss_server, "errs", f"err_{k}") for k in FAULTS]
    layers.append(boss_layer("/boss/tokencheck", boss_server, "errs", "tokencheck"))
    with mounted(tmp_path_factory.mktemp("cutout-errs"), layers, "errs", extra=("--log-level", "debug")) as m:
        yield Mounted(m, layers)


# ---------------------------------------------------------------- the emulators themselves (no voxfs)

def test_emulators_start_fast(ocp_server, boss_server):
    assert ocp_server.startup_seconds < 2, ocp_server.startup_seconds
    assert boss_server.startup_seconds < 2, boss_server.startup_seconds


def _h5(body: bytes, dataset: str) -> tuple:
    """(array, compression filter) of ``dataset``."""
    import h5py

    with h5py.File(io.BytesIO(body), "r") as f:
        return f[dataset][()], f[dataset].compression


@pytest.mark.parametrize("token, dataset, compression", [
    ("kasthuri11cc", "/image/CUTOUT", None), ("kat11synapses", "/CUTOUT", "gzip"),
    ("emgzip", "/EM/CUTOUT", "gzip"), ("emroot", "/CUTOUT", None)])
def test_emulator_ocp(ocp_server, token, dataset, compression):
    proj = ocp_server.projects[token]
    base = f"{ocp_server.url}/ocp/ca/{token}"
    info = requests.get(f"{base}/info/", timeout=10).json()
    assert info["project"]["name"] == token
    assert list(info["channels"]) == [proj.channel]
    assert info["channels"][proj.channel]["datatype"] == proj.dtype.name
    for r, lv in enumerate(proj.levels):
        ds = info["dataset"]
        assert ds["imagesize"][str(r)] == list(lv.size) and ds["offset"][str(r)] == list(lv.offset)
        (ox, oy, oz), (sx, sy, sz) = lv.offset, lv.size
        x0, x1, y0, y1, z0, z1 = ox + 3, ox + sx, oy, oy + min(sy, 40), oz + 1, oz + min(sz, 7)
        r_ = requests.get(f"{base}/{proj.channel}/hdf5/{r}/{x0},{x1}/{y0},{y1}/{z0},{z1}/", timeout=10)
        assert r_.status_code == 200 and r_.headers["Content-Type"] == "application/octet-stream"
        arr, comp = _h5(r_.content, dataset)
        assert comp == compression
        assert arr.dtype == proj.dtype and arr.shape == (z1 - z0, y1 - y0, x1 - x0)
        assert np.array_equal(arr, lv.data[z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox])
    # errors of a real server: unknown token 404, outside the image 400
    assert requests.get(f"{ocp_server.url}/ocp/ca/nosuchtoken/info/", timeout=10).status_code == 404
    lv = proj.levels[0]
    x1 = lv.offset[0] + lv.size[0] + 1
    r_ = requests.get(f"{base}/{proj.channel}/hdf5/0/{lv.offset[0]},{x1}/{lv.offset[1]},{lv.offset[1] + 1}/"
                      f"{lv.offset[2]},{lv.offset[2] + 1}/", timeout=10)
    assert r_.status_code == 400
    # the pre-channel URL form (served: channelless_urls) gives the same voxels
    r_ = requests.get(f"{base}/hdf5/0/{lv.offset[0]},{lv.offset[0] + 1}/{lv.offset[1]},{lv.offset[1] + 1}/"
                      f"{lv.offset[2]},{lv.offset[2] + 1}/", timeout=10)
    assert r_.status_code == 200


def test_emulator_boss(boss_server):
    url, auth = boss_server.url, {"Authorization": f"Token {SECRET}"}
    ch = requests.get(f"{url}/v1/collection/{COLLECTION}/experiment/ann/channel/seg/", headers=auth, timeout=10).json()
    assert (ch["type"], ch["datatype"], ch["base_resolution"]) == ("annotation", "uint64", 0)
    ex = requests.get(f"{url}/v1/collection/{COLLECTION}/experiment/ann/", headers=auth, timeout=10).json()
    assert (ex["coord_frame"], ex["num_hierarchy_levels"], ex["hierarchy_method"]) == ("ann_frame", 2, "isotropic")
    fr = requests.get(f"{url}/v1/coord/ann_frame/", headers=auth, timeout=10).json()
    assert (fr["z_start"], fr["z_stop"], fr["x_voxel_size"], fr["voxel_unit"]) == (4, 22, 4.0, "nanometers")
    # level 1 of an isotropic experiment halves z too: z 2..11
    data = boss_server.collections[COLLECTION]["ann"].channels["seg"].levels[1]
    assert data.shape == (9, 100, 130)
    r = requests.get(f"{url}/v1/cutout/{COLLECTION}/ann/seg/1/0:130/7:100/2:11/",
                     headers={**auth, "Accept": "application/npygz"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/npygz"
    arr = np.load(io.BytesIO(zlib.decompress(r.content)))
    assert arr.dtype == np.uint64 and np.array_equal(arr, data[:, 7:100, :])
    assert (arr >= 2**53).any() and (arr == 2**64 - 1).any()
    # 403 with a JSON message for a wrong or missing token; 404 for an unknown collection
    for h in ({"Authorization": f"Token {WRONG_TOKEN}"}, {}):
        r = requests.get(f"{url}/v1/collection/{COLLECTION}/experiment/ann/", headers=h, timeout=10)
        assert r.status_code == 403 and r.json()["message"]
    r = requests.get(f"{url}/v1/collection/nosuch/experiment/ann/channel/seg/", headers=auth, timeout=10)
    assert r.status_code == 404 and "nosuch" in r.json()["message"]
    r = requests.get(f"{url}/v1/cutout/{COLLECTION}/ann/seg/0/0:10/0:10/0:1/", headers={**auth, "Accept":
                     "application/npygz"}, timeout=10)
    assert r.status_code == 400  # z 0 is before the frame's z_start 4


def test_emulator_faults(ocp_server, boss_server):
    tok = "err_retry500"
    cut = f"{ocp_server.url}/ocp/ca/{tok}/image/hdf5/0/0,64/0,64/0,16/"
    info = f"{ocp_server.url}/ocp/ca/{tok}/info/"
    f = ocp_server.inject(ocp_server.prefix(tok), status=500, message="boom", once_per_url=True)
    r1, r2 = requests.get(cut, timeout=10), requests.get(cut, timeout=10)
    assert (r1.status_code, r1.text, r2.status_code) == (500, "boom", 200)
    assert requests.get(info, timeout=10).status_code == 200  # metadata untouched
    assert f.hit_urls == {cut.split(str(ocp_server.port), 1)[1]: 1}
    ocp_server.clear_faults()
    ocp_server.inject(ocp_server.prefix(tok), "malformed")
    body = requests.get(cut, timeout=10).content
    assert len(body) >= 64 and not body.startswith(b"\x89HDF")
    ocp_server.clear_faults()
    ocp_server.inject(ocp_server.prefix(tok), "garbled")
    import h5py
    with h5py.File(io.BytesIO(requests.get(cut, timeout=10).content), "r") as h:
        assert "CUTOUT" not in h["image"] and "OTHER" in h["image"]
    ocp_server.clear_faults()
    ocp_server.inject(ocp_server.prefix(tok), "wrong_shape")
    assert _h5(requests.get(cut, timeout=10).content, "/image/CUTOUT")[0].shape == (16, 64, 63)
    ocp_server.clear_faults()
    ocp_server.inject(ocp_server.prefix(tok), "truncated")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(cut, timeout=10)
    ocp_server.clear_faults()

    auth = {"Authorization": f"Token {SECRET}", "Accept": "application/npygz"}
    cut = f"{boss_server.url}/v1/cutout/{COLLECTION}/errs/err_retry429/0/0:64/0:64/0:16/"
    boss_server.inject(boss_server.prefix(COLLECTION, "errs", "err_retry429"), status=429, message="slow",
                       headers={"Retry-After": "0"}, once_per_url=True)
    r1, r2 = requests.get(cut, headers=auth, timeout=10), requests.get(cut, headers=auth, timeout=10)
    assert (r1.status_code, r1.headers["Retry-After"], r1.json()["message"], r2.status_code) == (429, "0", "slow", 200)
    boss_server.clear_faults()
    boss_server.inject(boss_server.prefix(COLLECTION, "errs", "err_retry429"), status=413, message="too big")
    r = requests.get(cut, headers=auth, timeout=10)
    assert (r.status_code, r.json()["message"]) == (413, "too big")
    boss_server.clear_faults()
    boss_server.inject(boss_server.prefix(COLLECTION, "errs", "err_retry429"), "garbled")
    with pytest.raises(ValueError):
        np.load(io.BytesIO(zlib.decompress(requests.get(cut, headers=auth, timeout=10).content)))
    boss_server.clear_faults()
    arr = np.load(io.BytesIO(zlib.decompress(requests.get(cut, headers=auth, timeout=10).content)))
    assert np.array_equal(arr, boss_server.collections[COLLECTION]["errs"].channels["err_retry429"].levels[0][:16, :64, :64])
    # no Accept: application/npygz -> 406
    assert requests.get(cut, headers={"Authorization": f"Token {SECRET}"}, timeout=10).status_code == 406


# ---------------------------------------------------------------- layout and data

def _level_ids(keys=MAIN_KEYS):
    return [(k, r) for k in keys for r in range(MAIN_LEVELS[k])]


@pytest.mark.parametrize("key", MAIN_KEYS)
def test_info_is_precomputed(main_mount, key):
    m = main_mount.use()
    lay = m.layers[key]
    root = m.mp / key.lstrip("/")
    p = root / "info"
    raw = p.read_bytes()
    assert os.stat(p).st_size == len(raw), f"{p}: st_size != bytes read"
    info = json.loads(raw)
    assert info.get("@type", "neuroglancer_multiscale_volume") == "neuroglancer_multiscale_volume"
    assert info["type"] == lay.type, info
    assert info["data_type"] == lay.dtype, info
    assert info["num_channels"] == 1, info
    assert len(info["scales"]) == len(lay.scales), info["scales"]
    for r, (got, exp) in enumerate(zip(info["scales"], lay.scales)):
        for k, v in exp.items():
            assert got.get(k) == v, f"{key} scale {r}: {k} = {got.get(k)!r}, want {v!r}"
        assert isinstance(got.get("encoding"), str), f"{key} scale {r}: no encoding"
    assert sorted(os.listdir(root)) == sorted(["info"] + [s["key"] for s in lay.scales])


@pytest.mark.parametrize("key, r", _level_ids())
def test_level_listing(main_mount, key, r):
    m = main_mount.use()
    lay = m.layers[key]
    d = m.mp / key.lstrip("/") / lay.scales[r]["key"]
    zr = lay.z_range(r)
    w = C.z_width(zr)
    exp = {C.slice_name(z, w, ext) for z in zr for ext in lay.formats} | {"volume.npy", "cutout"}
    names = os.listdir(d)
    assert len(names) == len(set(names)), f"{d}: duplicate names"
    assert set(names) == exp, f"{d}: missing {sorted(exp - set(names))[:6]}, extra {sorted(set(names) - exp)[:6]}"
    if "png" not in lay.formats:
        assert not (d / C.slice_name(zr[0], w, "png")).exists()


SLICE_CASES = [(k, r, ext) for k, r in _level_ids() for ext in ("png", "tif", "npy")
               if ext != "png" or k in MAIN_IMAGE_U8_U16]


@pytest.mark.parametrize("key, r, ext", SLICE_CASES)
def test_slices(main_mount, key, r, ext):
    m = main_mount.use()
    lay = m.layers[key]
    data, z0 = lay.data[r], lay.z_range(r)[0]
    for z in lay.interesting_z(r):
        p = lay.slice_path(m.mp, r, z, ext)
        st = os.stat(p)
        with open(p, "rb") as f:
            raw = f.read()
        assert st.st_size == len(raw), f"{p}: st_size {st.st_size} but read {len(raw)} bytes"
        arr = C.decode(ext, raw, lay.dtype, 1)
        C.assert_same(arr, data[z - z0], what=str(p))


@pytest.mark.parametrize("key, r", _level_ids())
def test_volume_npy(main_mount, key, r):
    m = main_mount.use()
    lay = m.layers[key]
    exp = lay.data[r]
    p = m.mp / key.lstrip("/") / lay.scales[r]["key"] / "volume.npy"
    with open(p, "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x01\x00", f"{p}: not NPY v1.0"
    mm = np.load(p, mmap_mode="r")
    try:
        assert isinstance(mm, np.memmap)
        assert mm.shape == exp.shape and mm.dtype == exp.dtype, (mm.shape, mm.dtype, exp.shape, exp.dtype)
        Z, Y, X = exp.shape
        sub = (slice(Z // 3, Z // 3 + max(1, Z // 4)), slice(Y // 5, Y - Y // 7), slice(X // 2, X - 1))
        C.assert_same(np.array(mm[sub]), exp[sub], what=f"{p}[{sub}]")
        C.assert_same(np.array(mm), exp, what=str(p))
    finally:
        del mm
    with open(p, "rb") as f:
        assert os.stat(p).st_size == len(f.read())


# ---------------------------------------------------------------- requests the client sends

def _covered(boxes, x, y) -> np.ndarray:
    """How many boxes cover each voxel of the slice x (lo, hi) by y (lo, hi)."""
    cov = np.zeros((y[1] - y[0], x[1] - x[0]), dtype=np.int32)
    for (bx, by, _bz) in boxes:
        cov[max(by[0], y[0]) - y[0]:min(by[1], y[1]) - y[0], max(bx[0], x[0]) - x[0]:min(bx[1], x[1]) - x[0]] += 1
    return cov


def _check_slice_requests(cuts, r, z, scale, what, grids) -> None:
    """Cutouts made to read slice z of level r: each holds z, is at most one cube deep,
    lies on one of ``grids`` (per axis: origins the edges may be multiples of the cube
    from) or the bounds, and together they cover the slice exactly once."""
    (ox, oy, oz), (sx, sy, sz) = scale["voxel_offset"], scale["size"]
    cube = scale["chunk_sizes"][0]
    bounds = [(ox, ox + sx), (oy, oy + sy), (oz, oz + sz)]
    assert cuts, f"{what}: no cutout requested"
    paths = [c.path for c in cuts]
    assert len(paths) == len(set(paths)), f"{what}: a cutout was fetched twice: {sorted(paths)}"
    for c in cuts:
        assert c.status == 200, f"{what}: {c.path} answered {c.status}"
        assert c.res == r, f"{what}: {c.path} is of resolution {c.res}, want {r}"
        assert c.z[0] <= z < c.z[1], f"{what}: {c.path} does not hold z {z}"
        assert c.z[1] - c.z[0] <= cube[2], f"{what}: {c.path} is deeper than a cube ({cube[2]})"
        for axis, (lo, hi) in enumerate(c.box):
            for e in (lo, hi):
                ok = e in bounds[axis] or any((e - g[axis]) % cube[axis] == 0 for g in grids)
                assert ok, f"{what}: {c.path}: edge {e} of axis {'xyz'[axis]} is not on the cube grid {cube}"
    cov = _covered([c.box for c in cuts], bounds[0], bounds[1])
    assert cov.min() == 1 and cov.max() == 1, (
        f"{what}: the cutouts cover the slice {cov.min()}..{cov.max()} times: {sorted(paths)}")


def test_ocp_request_shapes(voxfs_bin, ocp_server, tmp_path):
    """A fresh mount reads one slice per level: it fetches only the cubes under it (on the
    cube grid counted from 0 or from the offset, clipped to the image), each once."""
    lay = ocp_layer("/o", ocp_server, "shapes_em")  # a token no other test reads
    with mounted(tmp_path, [lay], "shapes") as m:
        for r, z in ((0, 24), (1, 24), (1, 40)):
            mark = ocp_server.mark()
            p = lay.slice_path(m.mountpoint, r, z, "npy")
            C.assert_same(np.load(p), lay.data[r][z - lay.z_range(r)[0]], what=str(p))
            scale = lay.scales[r]
            _check_slice_requests(ocp_server.cutouts(lay.prefix, since=mark), r, z, scale,
                                  f"{lay.key} level {r} z {z}", [(0, 0, 0), tuple(scale["voxel_offset"])])


def test_ocp_server_that_wants_the_channel_in_the_path(voxfs_bin, tmp_path):
    """A later ndstore generation refuses <token>/hdf5/... (400) and serves
    <token>/<channel>/hdf5/...: voxfs switches to that form once and reads the same voxels."""
    srv = CS.OCPServer(ocp_projects(), channelless_urls=False).start()
    try:
        lay = ocp_layer("/o", srv, "shapes_em")
        with mounted(tmp_path, [lay], "channel-form") as m:
            mark = 0
            for r, z in ((0, 24), (1, 40)):
                p = lay.slice_path(m.mountpoint, r, z, "npy")
                C.assert_same(np.load(p), lay.data[r][z - lay.z_range(r)[0]], what=str(p))
                if mark:  # after the first slice, every level uses the form that worked
                    refused = [c.path for c in srv.cutouts(lay.prefix, since=mark) if c.status != 200]
                    assert not refused, f"the refused form was tried again: {refused}"
                mark = srv.mark()
    finally:
        srv.stop()


def test_boss_request_shapes(voxfs_bin, boss_server, tmp_path):
    """A fresh mount reads one slice per level: it fetches only the 512x512x16 cuboids
    under it (on a cuboid grid from 0 or from the frame's start, clipped to the frame), each once, every
    request with the configured token and every cutout with ``Accept: application/npygz``."""
    lay = boss_layer("/b", boss_server, "em", "cc_shapes", token=SHAPES_TOKEN)  # no other test reads it
    mark0 = boss_server.mark()
    with mounted(tmp_path, [lay], "shapes") as m:
        for r, z in ((0, 10), (1, 19), (1, 3)):
            mark = boss_server.mark()
            p = lay.slice_path(m.mountpoint, r, z, "npy")
            C.assert_same(np.load(p), lay.data[r][z - lay.z_range(r)[0]], what=str(p))
            _check_slice_requests(boss_server.cutouts(lay.prefix, since=mark), r, z, lay.scales[r],
                                  f"{lay.key} level {r} z {z}", [(0, 0, 0), tuple(lay.scales[r]["voxel_offset"])])
    mine = [q for q in _boss_requests_since(boss_server, mark0) if q.authorization == f"Token {SHAPES_TOKEN}"]
    assert any("/v1/coord/" in q.path for q in mine), "the metadata requests did not carry the configured token"
    for q in mine:
        if "/v1/cutout/" in q.path:
            assert "application/npygz" in (q.accept or ""), f"{q.path}: Accept {q.accept!r}"


# ---------------------------------------------------------------- tokens and API URL

def _boss_requests_since(boss_server, mark) -> list:
    with boss_server._lock:
        return list(boss_server.requests[mark:])


def _read_one(mp: Path, lay: Layer) -> None:
    z = lay.z_range(0)[2]
    p = lay.slice_path(mp, 0, z, "npy")
    r = P.read_in_child(p, timeout=60)
    assert r[0] == "OK", f"{p}: {r}"
    C.assert_same(np.load(p), lay.data[0][z - lay.z_range(0)[0]], what=str(p))


def test_boss_env_api_and_token(voxfs_bin, boss_server, tmp_path):
    """Short form ``bossdb://c/e/ch``: the API from $BOSSDB_API_URL, the token from $BOSSDB_TOKEN."""
    lay = boss_layer("/b", boss_server, "ann", "seg", short=True)
    mark = boss_server.mark()
    env = {"BOSSDB_API_URL": boss_server.url, "BOSSDB_TOKEN": ENV_TOKEN}
    with mounted(tmp_path, [lay], "env", env=env) as m:
        _read_one(m.mountpoint, lay)
    reqs = _boss_requests_since(boss_server, mark)
    assert reqs and all(q.authorization == f"Token {ENV_TOKEN}" for q in reqs), \
        sorted({q.authorization for q in reqs}, key=str)


def test_boss_config_token_beats_env(voxfs_bin, boss_server, tmp_path):
    """`token:` and `api:` in the config win over $BOSSDB_TOKEN and $BOSSDB_API_URL (a dead port)."""
    lay = boss_layer("/b", boss_server, "ann", "seg", token=SECRET, api=True)
    mark = boss_server.mark()
    with mounted(tmp_path, [lay], "cfgtok", env={"BOSSDB_TOKEN": ENV_TOKEN, "BOSSDB_API_URL": "http://127.0.0.1:9"}) as m:
        _read_one(m.mountpoint, lay)
    reqs = _boss_requests_since(boss_server, mark)
    assert reqs and all(q.authorization == f"Token {SECRET}" for q in reqs), \
        sorted({q.authorization for q in reqs}, key=str)


def test_boss_public_token_by_default(voxfs_bin, boss_server, tmp_path):
    if os.environ.get("BOSSDB_TOKEN"):
        pytest.skip("BOSSDB_TOKEN is set in this environment")
    lay = boss_layer("/b", boss_server, "ann", "seg", token=None, api=True)
    mark = boss_server.mark()
    with mounted(tmp_path, [lay], "public") as m:
        _read_one(m.mountpoint, lay)
    reqs = _boss_requests_since(boss_server, mark)
    assert reqs and all(q.authorization == "Token public" for q in reqs), \
        sorted({q.authorization for q in reqs}, key=str)


# ---------------------------------------------------------------- refusals at mount time

def _refused(tmp_path: Path, mounts: dict, env: dict | None = None):
    cfg = P.write_config(tmp_path / "bad.yaml", mounts, cache={"dir": str(tmp_path / "cache"), "size": "64MiB"})
    mp = tmp_path / "mnt"
    mp.mkdir()
    log = tmp_path / "voxfs.log"
    try:
        r = P.run_voxfs("mount", cfg, mp, "--log-file", log, timeout=90, env=env)
        assert not P.is_mounted(mp), "mounted anyway"
    finally:
        P.force_unmount(mp)
    text = log.read_text(errors="replace") if log.exists() else ""
    return r, text


def test_unknown_ocp_token_refuses_to_mount(voxfs_bin, ocp_server, tmp_path):
    src = ocp_server.source("nosuchtoken")
    r, _ = _refused(tmp_path, {"/o": src})
    msg = r.stderr.strip()
    assert r.returncode == 1, (r.returncode, msg)
    assert f"{ocp_server.url}/ocp/ca/nosuchtoken" in msg, msg
    assert len(msg.splitlines()) == 1, msg


@pytest.mark.parametrize("where", ["collection", "experiment", "channel"])
def test_unknown_boss_resource_refuses_to_mount(voxfs_bin, boss_server, where, tmp_path):
    c, e, ch = {"collection": ("nosuchcoll", "em", "cc"), "experiment": (COLLECTION, "nosuchexp", "cc"),
                "channel": (COLLECTION, "em", "nosuchchan")}[where]
    src = {"source": f"bossdb://{c}/{e}/{ch}", "api": boss_server.url, "token": SECRET}
    r, log = _refused(tmp_path, {"/b": src})
    msg = r.stderr.strip()
    assert r.returncode == 1, (r.returncode, msg)
    name = {"collection": c, "experiment": e, "channel": ch}[where]
    assert name in msg and (boss_server.url in msg or "bossdb://" in msg), msg
    assert len(msg.splitlines()) == 1, msg
    assert SECRET not in msg and SECRET not in log


def test_boss_wrong_token_refuses_to_mount(voxfs_bin, boss_server, tmp_path):
    src = {"source": f"bossdb://{COLLECTION}/em/cc", "api": boss_server.url, "token": WRONG_TOKEN}
    mark = boss_server.mark()
    r, log = _refused(tmp_path, {"/b": src})
    msg = r.stderr.strip()
    assert r.returncode == 1, (r.returncode, msg)
    assert boss_server.url in msg or "bossdb://" in msg, msg
    assert "403" in msg or "denied" in msg.lower() or "forbidden" in msg.lower() or "token" in msg.lower(), msg
    assert WRONG_TOKEN not in msg and WRONG_TOKEN not in r.stdout, msg
    assert WRONG_TOKEN not in log, "the token appears in the daemon log"
    reqs = _boss_requests_since(boss_server, mark)
    assert any(q.status == 403 for q in reqs), "the emulator never refused a request"


# ---------------------------------------------------------------- faults

FAULT_CASES = [(fam, k) for k in FAULTS for fam in ("ocp", "boss")]


def _fault_layer(errs_mount, fam: str, kind: str) -> Layer:
    return errs_mount.layers[f"/{fam}/err_{kind}"]


def _log_lines(path: Path) -> list:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def _wait_log_line(path: Path, urls, needles: list, timeout: float = 5) -> str | None:
    """The first log line naming one of ``urls`` and holding every one of ``needles``."""
    deadline = time.monotonic() + timeout
    while True:
        for line in _log_lines(path):
            if any(u in line for u in urls) and all(n in line for n in needles):
                return line
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


@pytest.mark.parametrize("fam, kind", FAULT_CASES)
def test_cutout_fault(errs_mount, ocp_server, boss_server, fam, kind):
    m = errs_mount.use()
    srv = ocp_server if fam == "ocp" else boss_server
    lay = _fault_layer(m, fam, kind)
    spec, want = FAULTS[kind]
    p = lay.slice_path(m.mp, 0, ERR_Z, "npy")
    expected = lay.data[0][ERR_Z]
    s0 = json.loads((m.mp / STATS).read_bytes())["network"]
    mark = srv.mark()
    fault = srv.inject(lay.prefix, **spec)
    got = P.read_in_child(p, timeout=120)
    log = m.handle.log_file
    ctx = f"\nrequests: {[(c.path, c.status, c.fault) for c in srv.cutouts(lay.prefix, since=mark)]}\n{m.handle.log_tail(15)}"
    assert fault.hit_urls, f"{fam}/{kind}: the fault was never hit{ctx}"
    if want == "ok":
        assert got[0] == "OK", f"{fam}/{kind}: {got}, want the data after a retry{ctx}"
        C.assert_same(np.load(p), expected, what=f"{p} after {kind}")
        cuts = srv.cutouts(lay.prefix, since=mark)
        for url in fault.hit_urls:
            tries = [c.status for c in cuts if c.path == url]
            assert tries[-1] == 200 and len(tries) >= 2, f"{url}: answers {tries}, want a retry that succeeds{ctx}"
        s1 = json.loads((m.mp / STATS).read_bytes())["network"]
        assert s1["retries"] > s0["retries"], f"network.retries {s0['retries']} -> {s1['retries']}{ctx}"
        return
    assert got[0] == "ERR" and got[1] in want, (
        f"{fam}/{kind}: {got}, want errno {[errno.errorcode[e] for e in want]}{ctx}")
    # the log names the URL (and for an HTTP status: the status and the server's message)
    needles = [str(spec["status"]), spec["message"]] if spec["kind"] == "status" else []
    line = _wait_log_line(log, list(fault.hit_urls), needles)
    assert line, f"{fam}/{kind}: no log line names {sorted(fault.hit_urls)[:2]} with {needles}{ctx}"
    cuts = srv.cutouts(lay.prefix, since=mark)
    for url in fault.hit_urls:
        n = sum(1 for c in cuts if c.path == url)
        if spec.get("status") == 500:
            assert 2 <= n <= 8, f"{url}: {n} tries for a persistent 500 (bounded retries){ctx}"
        elif spec["kind"] == "status":
            assert n <= 2, f"{url}: {n} tries for a {spec['status']} (not retryable){ctx}"
    assert os.listdir(m.mp), "the daemon died"
    # nothing bad was cached: once the server heals, the same read gives the data
    if kind != "not_found":
        srv.clear_faults()
        got = P.read_in_child(p, timeout=60)
        assert got[0] == "OK", f"{fam}/{kind}: {got} after the fault was cleared{ctx}"
        C.assert_same(np.load(p), expected, what=f"{p} after {kind} was cleared")


def test_token_never_in_log_or_stats(errs_mount, main_mount, boss_server):
    """A refused cutout (403) and many good ones: the token is in no log line and not in
    ``/.voxfs/stats.json`` (the error mount logs at debug level)."""
    m = errs_mount.use()
    lay = m.layers["/boss/tokencheck"]
    boss_server.inject(lay.prefix, status=403, message="emulator-msg forbidden again")
    p = lay.slice_path(m.mp, 0, 3, "tif")
    assert P.read_in_child(p, timeout=60) == ("ERR", errno.EACCES)
    boss_server.clear_faults()
    assert P.read_in_child(p, timeout=60)[0] == "OK"
    _read_one(main_mount.mp, main_mount.layers["/kasthuri2015/seg"])
    for mount in (m, main_mount):
        stats = (mount.mp / STATS).read_bytes()
        assert SECRET.encode() not in stats, f"the token is in {mount.mp / STATS}"
        text = mount.handle.log_file.read_text(errors="replace")
        bad = [line for line in text.splitlines() if SECRET in line]
        assert not bad, f"the token is in the log {mount.handle.log_file}: {bad[:3]}"
