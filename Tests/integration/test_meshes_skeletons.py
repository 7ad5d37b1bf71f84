"""Meshes (``P/meshes/<id>.ply|.obj``, ``P/meshes/lod<k>/...``), skeletons
(``P/skeletons/<id>.swc``) and ``P/segment_properties.json`` of segmentation layers
(issue 8), compared with what cloud-volume decodes from the same nginx URLs.

The layers are in mesh_data.py: legacy meshes (gzip'd on the wire and plain),
multi-resolution Draco meshes unsharded and sharded, skeletons unsharded and sharded
with non-identity transforms and vertex attributes, segment properties, and
deliberately broken segments. All layers are served by one mount (this module's).

Comparisons:
* meshes: the set of triangles, each the sorted tuple of its 3 vertices rounded to
  0.01 nm (exact coordinates are on a 1/4 nm lattice, below 16384 nm, so float32
  output cannot cross a bin edge); PLY header checked line by line and parsed with
  plyfile, OBJ parsed strictly, both loaded by trimesh too;
* SWC: node count, each node matched to the nearest cloud-volume vertex (within 1e-3
  relative) with its radius and type, and the undirected edge set.
Every read/stat/listdir of the mount runs in a child process with a timeout.

Run alone:  .venv/bin/python -m pytest Tests/integration/test_meshes_skeletons.py -q
"""

from __future__ import annotations

import base64
import errno
import io
import json
import os
import re
import stat
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import conftest
import mesh_data as M
import voxfs_proc as P

LAYERS = M.LAYERS
MESH_LAYERS = [s for s in LAYERS if s.mesh]
MULTILOD_LAYERS = [s for s in LAYERS if s.multilod]
SKEL_LAYERS = [s for s in LAYERS if s.skeletons]
MESH_CASES = [(s.name, segid, lod) for s in MESH_LAYERS for segid, n in s.mesh_ids for lod in range(n)]
MISSING_LOD_CASES = [(s.name, segid) for s in MULTILOD_LAYERS for segid, n in s.mesh_ids]
SKEL_CASES = [(s.name, segid) for s in SKEL_LAYERS for segid in s.skel_ids]
BROKEN_MESH = [(s.name, segid) for s in MESH_LAYERS for segid, _ in s.broken_meshes]
BROKEN_SKEL = [(s.name, segid) for s in SKEL_LAYERS for segid, _ in s.broken_skels]
STEP = 0.01  # nm, triangle comparison bins
BAD_NAMES = ("abc", "-1", "18446744073709551616", "1e3", "")


def _id(case) -> str:
    return "-".join(str(c) for c in case) if isinstance(case, tuple) else str(case)


def layer_ids(specs) -> list:
    return [s.name for s in specs]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ms_layers(nginx_server) -> dict:
    return M.write_all(nginx_server.root, nginx_server.url)


@pytest.fixture(scope="module")
def ms_refs(ms_layers) -> dict:
    """cloud-volume's reading, over HTTP, of every good mesh (per lod) and skeleton."""
    refs = {}
    for name, layer in ms_layers.items():
        vol = M.cv_http(layer.url)
        for segid, lod in layer.meshes:
            refs[("mesh", name, segid, lod)] = M.cv_mesh(vol, layer.spec, segid, lod)
        for segid in layer.skels:
            refs[("skel", name, segid)] = M.cv_skeleton(vol, layer.spec, segid)
    return refs


@pytest.fixture(scope="module")
def ms_mount(voxfs_bin, ms_layers, work_dir):
    d = work_dir / "meshes"
    d.mkdir(parents=True, exist_ok=True)
    cfg = P.write_config(d / "voxfs.yaml", {"/" + n: "precomputed://" + layer.url for n, layer in ms_layers.items()},
                         cache={"dir": str(d / "cache"), "size": "1GiB"})
    handle = P.VoxfsMount(cfg, d / "mnt", log_file=d / "voxfs.log", binary=voxfs_bin).open()
    conftest._active_mounts.append(handle)
    try:
        yield handle
    finally:
        conftest._active_mounts.remove(handle)
        handle.close()


# ---------------------------------------------------------------- file system access in a child

_FS_CHILD = r"""
import base64, json, os, sys
for op in json.loads(sys.stdin.read()):
    kind, path = op[0], op[1]
    try:
        if kind == "stat":
            st = os.stat(path)
            r = {"mode": st.st_mode, "size": st.st_size}
        elif kind == "read":
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                parts = []
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    parts.append(b)
            finally:
                os.close(fd)
            r = {"size": size, "data": base64.b64encode(b"".join(parts)).decode()}
        elif kind == "pread":
            fd = os.open(path, os.O_RDONLY)
            try:
                r = {"data": base64.b64encode(os.pread(fd, op[3], op[2])).decode()}
            finally:
                os.close(fd)
        elif kind == "list":
            r = {"names": sorted(os.listdir(path))}
        else:
            r = {"bad op": kind}
    except OSError as e:
        r = {"errno": e.errno}
    sys.stdout.write(json.dumps(r) + "\n")
    sys.stdout.flush()
"""


def fs(ops: list, timeout: float = 60) -> list:
    """Runs file system operations (["stat"|"read"|"list", path] or ["pread", path, off, n])
    in one child process; returns one dict per op: {"errno"} on failure, else
    {"mode", "size"} / {"size", "data": bytes} / {"names"} / {"data"}."""
    ops = [[o[0], str(o[1]), *o[2:]] for o in ops]
    p = subprocess.Popen([sys.executable, "-c", _FS_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(json.dumps(ops), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        done = len(out.splitlines())
        raise TimeoutError(f"{ops[done] if done < len(ops) else ops} did not finish within {timeout}s")
    res = [json.loads(line) for line in out.splitlines()]
    if len(res) != len(ops):
        raise RuntimeError(f"fs child: {len(res)} results for {len(ops)} ops: {err}")
    for r in res:
        if "data" in r:
            r["data"] = base64.b64decode(r["data"])
    return res


def err_name(r: dict) -> str:
    if "errno" in r:
        return errno.errorcode.get(r["errno"], str(r["errno"]))
    return "OK"


def read_file(path) -> bytes:
    """Whole file; checks st_size (stat and fstat) equals the bytes read, and that
    preads of the start, the middle and the last bytes agree with it."""
    st, rd = fs([["stat", path], ["read", path]])
    assert "errno" not in st, f"stat {path}: {err_name(st)}"
    assert "errno" not in rd, f"read {path}: {err_name(rd)}"
    assert stat.S_ISREG(st["mode"]), f"{path}: mode {oct(st['mode'])}"
    data = rd["data"]
    assert st["size"] == len(data) == rd["size"], f"{path}: st_size {st['size']}, fstat {rd['size']}, read {len(data)}"
    n = len(data)
    cuts = [(0, min(n, 7)), (n // 2, 33), (max(0, n - 13), 13)]
    res = fs([["pread", path, o, k] for o, k in cuts])
    for (o, k), r in zip(cuts, res):
        assert r.get("data") == data[o:o + k], f"{path}: pread({k}, {o}) differs from the whole read ({err_name(r)})"
    return data


# ---------------------------------------------------------------- mesh parsing and comparison

PLY_HEADER = re.compile(
    rb"ply\n(?:comment [^\n]*\n)*format binary_little_endian 1\.0\n(?:comment [^\n]*\n)*"
    rb"element vertex (\d+)\nproperty float x\nproperty float y\nproperty float z\n"
    rb"element face (\d+)\nproperty list uchar int vertex_indices\nend_header\n")


def parse_ply(data: bytes) -> tuple:
    """Strict contract PLY -> (vertices (n,3) float64, faces (m,3)); cross-checked with plyfile."""
    import plyfile

    m = PLY_HEADER.match(data)
    assert m, f"PLY header not as contracted: {data[:300]!r}"
    nv, nf = int(m.group(1)), int(m.group(2))
    body = data[m.end():]
    assert len(body) == 12 * nv + 13 * nf, f"PLY body {len(body)} bytes for {nv} vertices, {nf} faces"
    verts = np.frombuffer(body[:12 * nv], "<f4").reshape(nv, 3).astype(np.float64)
    fa = np.frombuffer(body[12 * nv:], np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
    assert (fa["n"] == 3).all(), "PLY face with a vertex count other than 3"
    faces = fa["i"].astype(np.int64)
    assert nf == 0 or (faces.min() >= 0 and faces.max() < nv), "PLY face index out of range"
    ply = plyfile.PlyData.read(io.BytesIO(data))
    assert not ply.text and ply.byte_order == "<"
    assert [e.name for e in ply.elements] == ["vertex", "face"]
    pv = ply["vertex"]
    assert [(p.name, np.dtype(p.val_dtype).str) for p in pv.properties] == [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    (fp,) = ply["face"].properties
    assert (fp.name, np.dtype(fp.len_dtype).str, np.dtype(fp.val_dtype).str) == ("vertex_indices", "|u1", "<i4")
    assert np.array_equal(np.stack([pv["x"], pv["y"], pv["z"]], 1), verts)
    pf = ply["face"]["vertex_indices"]
    assert np.array_equal(np.array([list(f) for f in pf], dtype=np.int64).reshape(-1, 3), faces)
    return verts, faces


def parse_obj(data: bytes) -> tuple:
    """Strict contract OBJ: ``v x y z`` lines then ``f a b c`` (1-based); comments allowed."""
    verts, faces = [], []
    for ln, line in enumerate(data.decode("ascii").splitlines(), 1):
        t = line.split()
        if not t or t[0].startswith("#"):
            continue
        if t[0] == "v":
            assert len(t) == 4 and not faces, f"OBJ line {ln}: {line!r}"
            verts.append([float(x) for x in t[1:]])
        elif t[0] == "f":
            assert len(t) == 4 and all(re.fullmatch(r"\d+", x) for x in t[1:]), f"OBJ line {ln}: {line!r}"
            faces.append([int(x) - 1 for x in t[1:]])
        else:
            raise AssertionError(f"OBJ line {ln}: {line!r}")
    v = np.array(verts, np.float64).reshape(-1, 3)
    f = np.array(faces, np.int64).reshape(-1, 3)
    assert len(f) == 0 or (f.min() >= 0 and f.max() < len(v)), "OBJ face index out of range (1-based?)"
    return v, f


def trimesh_counts(data: bytes, fmt: str) -> tuple:
    import trimesh

    m = trimesh.load(io.BytesIO(data), file_type=fmt, process=False, force="mesh")
    return len(m.vertices), len(m.faces)


def tri_set(vertices, faces) -> set:
    q = np.round(np.asarray(vertices, np.float64) / STEP).astype(np.int64)
    return {tuple(sorted(map(tuple, t))) for t in q[np.asarray(faces, np.int64)].tolist()}


def check_mesh_file(data: bytes, fmt: str, ref: tuple, what: str) -> None:
    v, f = parse_ply(data) if fmt == "ply" else parse_obj(data)
    if fmt == "ply":
        assert trimesh_counts(data, fmt) == (len(v), len(f)), f"{what}: trimesh reads other counts"
    else:
        assert trimesh_counts(data, fmt)[1] == len(f), f"{what}: trimesh reads another face count"
    got, want = tri_set(v, f), tri_set(*ref)
    if got != want:
        extra, missing = got - want, want - got
        ex = next(iter(extra or missing))
        raise AssertionError(
            f"{what}: {len(got)} distinct triangles, cloud-volume {len(want)}; {len(extra)} not in cloud-volume's, "
            f"{len(missing)} of cloud-volume's missing; e.g. {'extra' if extra else 'missing'} "
            f"{[tuple(c * STEP for c in p) for p in ex]}")


def write_ply(v, f) -> bytes:
    """Contract PLY (for the self-test of the checks)."""
    head = (f"ply\nformat binary_little_endian 1.0\ncomment test\nelement vertex {len(v)}\nproperty float x\n"
            f"property float y\nproperty float z\nelement face {len(f)}\n"
            f"property list uchar int vertex_indices\nend_header\n").encode()
    fa = np.zeros(len(f), np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
    fa["n"], fa["i"] = 3, f
    return head + np.asarray(v, "<f4").tobytes() + fa.tobytes()


def write_obj(v, f, base: int = 1) -> bytes:
    lines = ["# test"] + [f"v {x!r} {y!r} {z!r}" for x, y, z in np.asarray(v, np.float32).tolist()]
    lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in np.asarray(f).tolist()]
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------- SWC

def parse_swc(text: str) -> list:
    """Strict SWC: '#' comments, else 7 fields ``id type x y z radius parent``; ids 1..N,
    parent -1 or an existing id, no cycles. Returns [(id, type, x, y, z, r, parent)]."""
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        f = s.split()
        assert len(f) == 7, f"SWC line {ln}: {line!r}"
        try:
            rows.append((int(f[0]), int(f[1]), float(f[2]), float(f[3]), float(f[4]), float(f[5]), int(f[6])))
        except ValueError:
            raise AssertionError(f"SWC line {ln}: {line!r}")
    ids = [r[0] for r in rows]
    assert sorted(ids) == list(range(1, len(rows) + 1)), f"SWC ids are not 1..{len(rows)}"
    parent = {r[0]: r[6] for r in rows}
    for i, p in parent.items():
        assert p == -1 or (p in parent and p != i), f"SWC node {i}: parent {p}"
    for i in parent:  # no cycles
        seen, j = set(), i
        while j != -1:
            assert j not in seen, f"SWC parent cycle through {j}"
            seen.add(j)
            j = parent[j]
    return rows


def check_swc(text: str, ref: dict, what: str) -> None:
    rows = parse_swc(text)
    rv = ref["vertices"]
    assert len(rows) == len(rv), f"{what}: {len(rows)} SWC nodes, cloud-volume {len(rv)} vertices"
    if len(rv) > 1:
        d = np.sqrt(((rv[:, None, :] - rv[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        assert d.min() > 10 * 1e-3 * max(1, np.abs(rv).max()), "fixture vertices too close to match"
    node_to_v = {}
    for (i, typ, x, y, z, r, _) in rows:
        c = np.array([x, y, z])
        k = int(np.argmin(((rv - c) ** 2).sum(1)))
        tol = 1e-3 * np.maximum(1, np.abs(rv[k]))
        assert (np.abs(c - rv[k]) <= tol).all(), f"{what}: node {i} at {c.tolist()} matches no vertex " \
                                                 f"(nearest {rv[k].tolist()})"
        assert abs(r - ref["radius"][k]) <= 1e-3 * max(1, abs(ref["radius"][k])), \
            f"{what}: node {i} radius {r}, cloud-volume {ref['radius'][k]}"
        assert typ == int(ref["types"][k]), f"{what}: node {i} type {typ}, cloud-volume {int(ref['types'][k])}"
        node_to_v[i] = k
    assert len(set(node_to_v.values())) == len(rows), f"{what}: two SWC nodes on one vertex"
    got = {frozenset((node_to_v[i], node_to_v[p])) for (i, *_, p) in rows if p != -1}
    want = {frozenset(map(int, e)) for e in ref["edges"]}
    assert got == want, f"{what}: {len(got)} SWC edges, cloud-volume {len(want)}; " \
                        f"{len(got - want)} extra, {len(want - got)} missing"


def write_swc(ref: dict, parent_of=None) -> str:
    """Contract SWC from a reference skeleton (for the self-test of the checks)."""
    n = len(ref["vertices"])
    adj = {i: set() for i in range(n)}
    for a, b in ref["edges"]:
        adj[int(a)].add(int(b))
        adj[int(b)].add(int(a))
    parent, order = {}, []
    for root in range(n):
        if root in parent:
            continue
        parent[root], stack = -1, [root]
        while stack:
            u = stack.pop()
            order.append(u)
            for w in sorted(adj[u]):
                if w not in parent:
                    parent[w] = u
                    stack.append(w)
    num = {u: k + 1 for k, u in enumerate(order)}
    lines = ["# test"]
    for u in order:
        x, y, z = ref["vertices"][u]
        p = parent[u] if parent_of is None else parent_of(u, parent[u])
        lines.append(f"{num[u]} {int(ref['types'][u])} {x:.4f} {y:.4f} {z:.4f} {ref['radius'][u]:.4f} "
                     f"{num[p] if p != -1 else -1}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- helpers on the mount

def lpath(mount, name: str):
    return mount.mountpoint / name


def mesh_paths(mount, spec, segid: int, lod: int, fmt: str) -> list:
    base = lpath(mount, spec.name) / "meshes"
    if not spec.multilod:
        return [base / f"{segid}.{fmt}"]
    out = [base / f"lod{lod}" / f"{segid}.{fmt}"]
    if lod == 0:
        out.insert(0, base / f"{segid}.{fmt}")
    return out


def expect_errno(ops_paths: list, want: int, what: str) -> list:
    """stat and read of each path, twice; returns failure strings."""
    ops = [[op, p] for _ in range(2) for p in ops_paths for op in ("stat", "read")]
    fails = []
    for op, r in zip(ops, fs(ops)):
        if r.get("errno") != want:
            got = err_name(r) if "errno" in r else f"OK ({r.get('size')} bytes)"
            fails.append(f"{what}: {op[0]} {op[1]}: got {got}, want {errno.errorcode[want]}")
    return fails


def daemon_alive(mount) -> None:
    assert mount.pids and all(P._alive(pid) for pid in mount.pids), f"daemon gone: {mount.pids}\n{mount.log_tail()}"


# ---------------------------------------------------------------- fixture self-checks (no voxfs)

@pytest.mark.parametrize("name", layer_ids(LAYERS))
def test_fixture_cloudvolume_reads_what_was_written(name, ms_layers, ms_refs):
    """cloud-volume, over HTTP, decodes exactly the meshes and skeletons the generator
    meant (for multilod: the spec formula applied here to the Draco-stored integers)."""
    layer = ms_layers[name]
    for (segid, lod), exp in layer.meshes.items():
        ref = ms_refs[("mesh", name, segid, lod)]
        assert tri_set(*ref) == tri_set(*exp), (segid, lod)
        assert len(ref[1]) == len(exp[1]) and np.abs(ref[0]).max() < 16384
        lattice = np.abs(ref[0] * 4 - np.round(ref[0] * 4)).max()
        assert lattice < 1e-3, f"{segid} lod {lod}: off the 1/4 nm lattice by {lattice / 4}"
    for segid, exp in layer.skels.items():
        ref = ms_refs[("skel", name, segid)]
        np.testing.assert_allclose(ref["vertices"], exp["vertices"], rtol=1e-6, atol=1e-4)
        assert np.array_equal(ref["edges"], exp["edges"].astype(np.int64))
        np.testing.assert_allclose(ref["radius"], exp["radius"])
        assert np.array_equal(ref["types"], exp["types"].astype(np.int64))


def test_fixture_multilod_layout(ms_layers):
    """Manifests parse with cloud-volume's reader to what was meant; >= 2 lods with
    several fragments, non-zero grid_origin / vertex_offsets, non-identity transforms;
    in shards each segment's chunk is the manifest, preceded by its fragment data,
    in the shard file that ``shard_location`` names."""
    from cloudvolume.datasource.precomputed.mesh.multilod import MultiLevelPrecomputedMeshManifest as MM

    import seg_volumes as SV

    for spec in MULTILOD_LAYERS:
        layer = ms_layers[spec.name]
        geo = M.MULTILOD[spec.name]
        assert layer.mesh_info["transform"] != [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
        assert any(n >= 2 for _, n in spec.mesh_ids)
        mdir = layer.path / spec.mesh_dir
        shards = {}
        if geo["sharding"]:
            sh = geo["sharding"]
            assert sh["data_encoding"] == "raw"
            for f in mdir.glob("*.shard"):
                data = f.read_bytes()
                shards[f.name] = (data, SV.parse_shard(data, sh))
        for segid, m in layer.manifests.items():
            if geo["sharding"]:
                fname, _ = M.shard_location(geo["sharding"], segid)
                data, chunks = shards[fname]
                s, e = chunks[segid]
                manifest = data[s:e]
                frag_start = s - sum(m["lod_sizes"])
                assert data[frag_start:s] == m["fragments"]
            else:
                manifest = (mdir / f"{segid}.index").read_bytes()
                assert (mdir / str(segid)).read_bytes() == m["fragments"]
            assert manifest == m["manifest"]
            mm = MM.from_binary(manifest, segment_id=segid)
            assert mm.num_lods == len(m["positions"])
            assert np.any(mm.grid_origin != 0) and np.any(mm.vertex_offsets != 0)
            for lod in range(mm.num_lods):
                assert [tuple(p) for p in mm.fragment_positions[lod].tolist()] == list(m["positions"][lod])
                assert mm.fragment_offsets[lod].tolist() == m["sizes"][lod]
            if mm.num_lods >= 2:
                assert sum(1 for s in m["sizes"][1] if s) >= 2
            assert sum(1 for s in m["sizes"][0] if s) >= 4
        if geo["sharding"]:
            assert "shard file absent" in layer.unknown_mesh_ids and "in an existing shard" in layer.unknown_mesh_ids
            # several segments share a minishard somewhere (delta-coded entries)
            locs = [M.shard_location(geo["sharding"], s) for s, _ in spec.mesh_ids + spec.broken_meshes]
            assert len(set(locs)) < len(locs)


def test_fixture_skeleton_layout(ms_layers, nginx_server):
    """Sharded skeletons sit where ``shard_location`` says; gzip'd unsharded skeletons and
    legacy fragments go out with Content-Encoding: gzip."""
    import seg_volumes as SV

    for spec in SKEL_LAYERS:
        layer = ms_layers[spec.name]
        sdir = layer.path / spec.skel_dir
        if spec.skeletons == "sharded":
            sh = layer.skel_info["sharding"]
            found = {}
            for f in sdir.glob("*.shard"):
                for cid in SV.parse_shard(f.read_bytes(), sh):
                    found[cid] = f.name
            assert set(found) == set(spec.skel_ids) | {s for s, _ in spec.broken_skels}
            for segid, fname in found.items():
                assert M.shard_location(sh, segid)[0] == fname, segid
            assert sh["preshift_bits"] > 0 and {100, 101} <= set(found)  # share a hash key
            assert "shard file absent" in layer.unknown_skel_ids
    layer = ms_layers["gz/ms-legacy-u64"]
    assert (layer.path / "skeletons" / "101.gz").exists() and not (layer.path / "skeletons" / "101").exists()
    with urllib.request.urlopen(layer.url + "/skeletons/101", timeout=10) as r:
        assert r.headers.get("Content-Encoding") == "gzip"
    frag = json.loads((layer.path / "mesh" / f"{M.BIG}:0").read_text())["fragments"]
    assert len(frag) == 4 and any((layer.path / "mesh" / (f + ".gz")).exists() for f in frag) \
        and any((layer.path / "mesh" / f).exists() for f in frag)


def test_fixture_broken_segments_are_broken(ms_layers):
    """cloud-volume fails on every broken segment except the two it does not check
    (face / edge index past the vertex count), whose damage is verified here."""
    for spec in LAYERS:
        layer = ms_layers[spec.name]
        vol = M.cv_http(layer.url)
        for segid, what in spec.broken_meshes:
            if "cv accepts" in what:
                v, f = M.cv_mesh(vol, spec, segid)
                assert f.max() >= len(v)
                continue
            if "shorter than the manifest" in what:
                # lod 1 lies wholly past the end (nginx: 416, cloud-volume retries for seconds):
                # checked on the file instead
                size = (layer.path / spec.mesh_dir / str(segid)).stat().st_size
                idx = (layer.path / spec.mesh_dir / f"{segid}.index").read_bytes()
                from cloudvolume.datasource.precomputed.mesh.multilod import MultiLevelPrecomputedMeshManifest as MM

                mm = MM.from_binary(idx, segment_id=segid)
                assert size < int(mm.fragment_offsets[0].sum()), (segid, size)
            with pytest.raises(Exception):
                M.cv_mesh(vol, spec, segid, 0)
        for segid, what in spec.broken_skels:
            if "cv accepts" in what:
                s = vol.skeleton.get(segid)
                assert s.edges.max() >= len(s.vertices)
                continue
            with pytest.raises(Exception):
                vol.skeleton.get(segid)


def test_checks_accept_contract_files_and_catch_mistakes(ms_layers, ms_refs):
    """The PLY/OBJ/SWC checks pass on files written here to the contract from
    cloud-volume's output, and fail on plausible mistakes: 0-based OBJ faces, another
    PLY list type, coordinates before the transform, a neighbouring lod, SWC radius
    from the wrong attribute, re-hung edges, a dropped isolated vertex."""
    spec = M.BY_NAME["ms/multilod-u64"]
    ref = ms_refs[("mesh", spec.name, 101, 0)]
    check_mesh_file(write_ply(*ref), "ply", ref, "ply")
    check_mesh_file(write_obj(*ref), "obj", ref, "obj")
    # the obj with vertices shuffled and faces re-indexed: still the same triangles
    perm = np.random.default_rng(0).permutation(len(ref[0]))
    inv = np.argsort(perm)
    check_mesh_file(write_obj(ref[0][perm], inv[ref[1]]), "obj", ref, "obj shuffled")
    with pytest.raises(AssertionError):
        check_mesh_file(write_obj(*ref, base=0), "obj", ref, "0-based")
    with pytest.raises(AssertionError):
        check_mesh_file(write_ply(*ref).replace(b"list uchar int", b"list int int"), "ply", ref, "list int int")
    geo = M.MULTILOD[spec.name]
    t = np.asarray(geo["transform"], np.float64).reshape(3, 4)
    untransformed = (ref[0] - t[:, 3]) @ np.linalg.inv(t[:, :3]).T
    with pytest.raises(AssertionError):
        check_mesh_file(write_ply(untransformed, ref[1]), "ply", ref, "untransformed")
    with pytest.raises(AssertionError):
        check_mesh_file(write_ply(*ms_refs[("mesh", spec.name, 101, 1)]), "ply", ref, "lod 1 for lod 0")
    # swc
    sref = ms_refs[("skel", spec.name, M.H63)]
    check_swc(write_swc(sref), sref, "swc")
    wrong_type = dict(sref, types=np.zeros_like(sref["types"]))
    with pytest.raises(AssertionError):
        check_swc(write_swc(wrong_type), sref, "vertex_types instead of compartment")
    with pytest.raises(AssertionError):
        check_swc(write_swc(dict(sref, radius=sref["radius"] + 1)), sref, "radius")
    with pytest.raises(AssertionError):  # every non-root hung on its grandparent (or the root)
        check_swc(write_swc(sref, parent_of=lambda u, p: p if p == -1 else 0), sref, "re-hung")
    lsref = ms_refs[("skel", "gz/ms-legacy-u64", M.MAX)]  # a tree and an isolated vertex
    text = write_swc(lsref)
    check_swc(text, lsref, "isolated")
    lines = text.splitlines()
    iso = [ln for ln in lines[1:] if ln.endswith(" -1")][-1]
    with pytest.raises(AssertionError):
        check_swc("\n".join(ln for ln in lines if ln != iso) + "\n", lsref, "isolated dropped")


# ---------------------------------------------------------------- voxfs: layout

@pytest.mark.parametrize("name", layer_ids(LAYERS))
def test_layer_listing(name, ms_layers, ms_mount):
    """P lists info, the scale directories, and meshes/, skeletons/,
    segment_properties.json when the info names them; info is unchanged."""
    spec, layer = M.BY_NAME[name], ms_layers[name]
    p = lpath(ms_mount, name)
    want = {"info", *(s["key"] for s in layer.info["scales"])}
    if spec.mesh:
        want.add("meshes")
    if spec.skeletons:
        want.add("skeletons")
    if spec.segprops is not None:
        want.add("segment_properties.json")
    ls, st_m, st_s, st_p, info = fs([["list", p], ["stat", p / "meshes"], ["stat", p / "skeletons"],
                                      ["stat", p / "segment_properties.json"], ["read", p / "info"]])
    assert "errno" not in ls, f"listdir {p}: {err_name(ls)}"
    assert set(ls["names"]) == want, f"{sorted(ls['names'])} != {sorted(want)}"
    for r, present, isdir, what in ((st_m, spec.mesh, True, "meshes"), (st_s, spec.skeletons, True, "skeletons"),
                                    (st_p, spec.segprops is not None, False, "segment_properties.json")):
        if present:
            assert "errno" not in r, f"{what}: {err_name(r)}"
            assert (stat.S_ISDIR if isdir else stat.S_ISREG)(r["mode"]), f"{what}: mode {oct(r['mode'])}"
        else:
            assert r.get("errno") == errno.ENOENT, f"{what} (not in the info): {err_name(r)}"
    with urllib.request.urlopen(layer.url + "/info", timeout=10) as r:
        assert json.loads(info["data"]) == json.loads(r.read())


@pytest.mark.parametrize("name", layer_ids(MESH_LAYERS))
def test_meshes_listing(name, ms_mount):
    """meshes/ lists <id>.ply and <id>.obj for each segment_properties id (nothing
    without segment_properties), and lod0..lod7 directories for multilod meshes."""
    spec = M.BY_NAME[name]
    d = lpath(ms_mount, name) / "meshes"
    (ls,) = fs([["list", d]])
    assert "errno" not in ls, f"listdir {d}: {err_name(ls)}"
    names = set(ls["names"])
    lods = {n for n in names if re.fullmatch(r"lod\d+", n)}
    files = names - lods
    want = {f"{i}.{e}" for i in (spec.segprops or ()) for e in ("ply", "obj")}
    assert files == want, f"files {sorted(files)} != {sorted(want)}"
    checks = [["stat", d / n] for n in sorted(lods)]
    if spec.multilod:
        assert lods == {f"lod{k}" for k in range(M.MAX_LODS)}, sorted(lods)
        checks += [["stat", d / "lod8"], ["list", d / "lod0"]]
    res = fs(checks)
    for op, r in zip(checks, res):
        if op[0] == "stat" and str(op[1]).endswith("lod8"):
            assert r.get("errno") == errno.ENOENT, f"lod8: {err_name(r)}"
        elif op[0] == "stat":
            assert "errno" not in r and stat.S_ISDIR(r["mode"]), f"{op[1]}: {r}"
        else:
            assert "errno" not in r, f"listdir {op[1]}: {err_name(r)}"
            assert all(re.fullmatch(r"\d+\.(ply|obj)", n) for n in r["names"]), r["names"]


@pytest.mark.parametrize("name", layer_ids(SKEL_LAYERS))
def test_skeletons_listing(name, ms_mount):
    spec = M.BY_NAME[name]
    d = lpath(ms_mount, name) / "skeletons"
    (ls,) = fs([["list", d]])
    assert "errno" not in ls, f"listdir {d}: {err_name(ls)}"
    want = {f"{i}.swc" for i in (spec.segprops or ())}
    assert set(ls["names"]) == want, f"{sorted(ls['names'])} != {sorted(want)}"


@pytest.mark.parametrize("name", layer_ids([s for s in LAYERS if s.segprops is not None]))
def test_segment_properties_json(name, ms_layers, ms_mount):
    """The segment_properties info, byte for byte (UTF-8 labels, its own formatting)."""
    data = read_file(lpath(ms_mount, name) / "segment_properties.json")
    assert data == ms_layers[name].segprops_bytes


# ---------------------------------------------------------------- voxfs: meshes

@pytest.mark.parametrize("name,segid,lod", MESH_CASES, ids=[_id(c) for c in MESH_CASES])
def test_mesh_matches_cloudvolume(name, segid, lod, ms_refs, ms_mount):
    """.ply and .obj (meshes/<id>.* is lod 0; meshes/lod<k>/<id>.*) hold the triangles
    cloud-volume decodes, in nm, after the transform; st_size is the bytes read."""
    spec = M.BY_NAME[name]
    ref = ms_refs[("mesh", name, segid, lod)]
    fails = []
    for fmt in ("ply", "obj"):
        for p in mesh_paths(ms_mount, spec, segid, lod, fmt):
            try:
                check_mesh_file(read_file(p), fmt, ref, str(p.relative_to(ms_mount.mountpoint)))
            except (AssertionError, TimeoutError) as e:
                fails.append(str(e).splitlines()[0][:400])
    assert not fails, "\n".join(fails)


@pytest.mark.parametrize("name,segid", MISSING_LOD_CASES, ids=[_id(c) for c in MISSING_LOD_CASES])
def test_mesh_missing_lods_enoent(name, segid, ms_mount):
    """lod<k>/<id>.ply|obj for every k the segment's manifest lacks (k < 8): ENOENT."""
    spec = M.BY_NAME[name]
    n = spec.mesh_lods[segid]
    d = lpath(ms_mount, name) / "meshes"
    paths = [d / f"lod{k}" / f"{segid}.{e}" for k in range(n, M.MAX_LODS) for e in ("ply", "obj")]
    fails = expect_errno(paths, errno.ENOENT, f"segment {segid} ({n} lods)")
    assert not fails, "\n".join(fails)


@pytest.mark.parametrize("name", layer_ids(MESH_LAYERS))
def test_mesh_bad_names_enoent(name, ms_layers, ms_mount):
    """Unknown ids (no manifest; for shards, absent from an existing shard file and in a
    shard file that does not exist), malformed names and other extensions: ENOENT."""
    spec, layer = M.BY_NAME[name], ms_layers[name]
    good = spec.mesh_ids[0][0]
    dirs = [lpath(ms_mount, name) / "meshes"]
    if spec.multilod:
        dirs.append(dirs[0] / "lod0")
    names = [f"{b}.{e}" for b in BAD_NAMES for e in ("ply", "obj")]
    names += [f"{i}.{e}" for i in layer.unknown_mesh_ids.values() for e in ("ply", "obj")]
    names += [f"{good}.stl", f"{good}", f"{good}.swc", f"{good}.ply.gz", f" {good}.ply", f"{good}.ply "]
    fails = expect_errno([d / n for d in dirs for n in names], errno.ENOENT, "bad name")
    assert not fails, "\n".join(fails)


@pytest.mark.parametrize("name,segid", BROKEN_MESH, ids=[_id(c) for c in BROKEN_MESH])
def test_broken_mesh_eio(name, segid, ms_refs, ms_mount):
    """A malformed fragment or manifest gives EIO on stat and read (twice, nothing
    cached as good); the daemon lives on and a good mesh of the layer still reads right."""
    spec = M.BY_NAME[name]
    what = dict(spec.broken_meshes)[segid]
    lods = [0, 1] if ("manifest" in what or "shorter" in what) and spec.multilod else [0]
    paths = [p for lod in lods for fmt in ("ply", "obj") for p in mesh_paths(ms_mount, spec, segid, lod, fmt)]
    fails = expect_errno(paths, errno.EIO, f"segment {segid} ({what})")
    daemon_alive(ms_mount)
    good = spec.mesh_ids[0][0]
    try:
        p = mesh_paths(ms_mount, spec, good, 0, "ply")[0]
        check_mesh_file(read_file(p), "ply", ms_refs[("mesh", name, good, 0)], f"{p.name} after the EIO")
    except (AssertionError, TimeoutError) as e:
        fails.append(str(e).splitlines()[0])
    assert not fails, "\n".join(fails)


# ---------------------------------------------------------------- voxfs: skeletons

@pytest.mark.parametrize("name,segid", SKEL_CASES, ids=[_id(c) for c in SKEL_CASES])
def test_skeleton_matches_cloudvolume(name, segid, ms_refs, ms_mount):
    """skeletons/<id>.swc: one node per vertex at cloud-volume's nm coordinates (after
    the skeleton transform), radius and type from the vertex attributes, same edges."""
    p = lpath(ms_mount, name) / "skeletons" / f"{segid}.swc"
    text = read_file(p).decode("ascii")
    check_swc(text, ms_refs[("skel", name, segid)], f"{name}/skeletons/{segid}.swc")


@pytest.mark.parametrize("name", layer_ids(SKEL_LAYERS))
def test_skeleton_bad_names_enoent(name, ms_layers, ms_mount):
    spec, layer = M.BY_NAME[name], ms_layers[name]
    good = spec.skel_ids[0]
    d = lpath(ms_mount, name) / "skeletons"
    names = [f"{b}.swc" for b in BAD_NAMES] + [f"{i}.swc" for i in layer.unknown_skel_ids.values()]
    names += [f"{good}", f"{good}.ply", f"{good}.swc.gz", f"{good}.SWC"]
    fails = expect_errno([d / n for n in names], errno.ENOENT, "bad name")
    assert not fails, "\n".join(fails)


@pytest.mark.parametrize("name,segid", BROKEN_SKEL, ids=[_id(c) for c in BROKEN_SKEL])
def test_broken_skeleton_eio(name, segid, ms_refs, ms_mount):
    spec = M.BY_NAME[name]
    what = dict(spec.broken_skels)[segid]
    fails = expect_errno([lpath(ms_mount, name) / "skeletons" / f"{segid}.swc"], errno.EIO,
                         f"skeleton {segid} ({what})")
    daemon_alive(ms_mount)
    good = spec.skel_ids[0]
    try:
        p = lpath(ms_mount, name) / "skeletons" / f"{good}.swc"
        check_swc(read_file(p).decode("ascii"), ms_refs[("skel", name, good)], f"{p.name} after the EIO")
    except (AssertionError, TimeoutError) as e:
        fails.append(str(e).splitlines()[0])
    assert not fails, "\n".join(fails)


# ---------------------------------------------------------------- voxfs: still serving

def test_still_serving_everything(ms_layers, ms_refs, ms_mount):
    """After all of the above (broken segments included), the daemon is alive and one
    mesh and one skeleton of every layer still read right, as does a volume slice."""
    daemon_alive(ms_mount)
    fails = []
    for spec in LAYERS:
        try:
            if spec.mesh:
                segid, n = spec.mesh_ids[-1]
                p = mesh_paths(ms_mount, spec, segid, n - 1, "obj")[-1]
                check_mesh_file(read_file(p), "obj", ms_refs[("mesh", spec.name, segid, n - 1)], str(p))
            if spec.skeletons:
                segid = spec.skel_ids[-1]
                p = lpath(ms_mount, spec.name) / "skeletons" / f"{segid}.swc"
                check_swc(read_file(p).decode("ascii"), ms_refs[("skel", spec.name, segid)], str(p))
            key = ms_layers[spec.name].info["scales"][0]["key"]
            data = read_file(lpath(ms_mount, spec.name) / key / "z0.npy")
            a = np.load(io.BytesIO(data))
            assert a.shape == (M.VOL_SIZE[1], M.VOL_SIZE[0]) and a.dtype == np.dtype(spec.dtype)
        except (AssertionError, TimeoutError) as e:
            fails.append(f"{spec.name}: {str(e).splitlines()[0]}")
    daemon_alive(ms_mount)
    assert not fails, "\n".join(fails)
