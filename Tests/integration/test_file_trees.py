"""Remote file trees (issue 4): WebDAV, S3, GCS and nginx autoindex listings mounted
as read-only directory trees, read through the real mount.

Every backend serves the same tree (tree_data.write_tree) from a real server on
127.0.0.1 (tree_servers.py): nginx autoindex as HTML (``/idx/``) and as JSON
(``/idx-json/``), wsgidav (``webdav+http://``), moto (``s3://``, the daemon gets
``AWS_ENDPOINT_URL_S3``) and gcp-storage-emulator (``gs://``, the daemon gets
``STORAGE_EMULATOR_HOST``). One daemon per backend serves the listing, content,
h5py and pread tests; tests that count requests or change files get their own.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import tree_data as D
import tree_mounts as M
import voxfs_proc as P
from tree_servers import FLAT_BUCKET, FLAT_FILES, TREE_BUCKET, TREE_PREFIX

BACKENDS = ["html", "json", "dav", "s3", "gcs"]
KEY = "/t"  # where each backend's tree is mounted


@pytest.fixture(autouse=True)
def _mount_logs():
    yield  # the report of the test is made before this teardown
    M.release_logs()


class Backend:
    """How one backend names the tree, one file of it and the bucket root."""

    def __init__(self, name: str, request):
        self.name = name
        nginx = request.getfixturevalue("nginx_server")
        self.env: dict = {}
        if name in ("html", "json"):
            loc = "idx" if name == "html" else "idx-json"
            self.tree_url = f"{nginx.url}/{loc}/tree/"
            self.flat_url = None
        elif name == "dav":
            dav = request.getfixturevalue("dav_server")
            self.tree_url = dav.source("tree")
            self.flat_url = None
        elif name == "s3":
            s3 = request.getfixturevalue("s3_server")
            self.env = s3.env
            self.tree_url = s3.source(TREE_BUCKET, TREE_PREFIX)
            self.flat_url = s3.source(FLAT_BUCKET)  # s3://bucket, no prefix
        elif name == "gcs":
            gcs = request.getfixturevalue("gcs_server")
            self.env = gcs.env
            self.tree_url = gcs.source(TREE_BUCKET, TREE_PREFIX)
            self.flat_url = gcs.source(FLAT_BUCKET)  # gs://bucket/
        else:
            raise ValueError(name)

    def file_url(self, rel: str) -> str:
        return self.tree_url + rel


class TreeMount:
    def __init__(self, backend: Backend, handle, tree: D.Tree):
        self.backend = backend
        self.handle = handle
        self.mp = handle.mountpoint
        self.root = self.mp / KEY.lstrip("/")
        self.tree = tree


@pytest.fixture(scope="module", params=BACKENDS)
def tree_mount(request, voxfs_bin, tree_source, work_dir):
    """One daemon per backend (pytest runs each backend's tests together)."""
    b = Backend(request.param, request)
    with M.mounted(work_dir / f"tree-{b.name}", {KEY: b.tree_url}, env=b.env, name=b.name) as h:
        yield TreeMount(b, h, tree_source)


def _expect_dir(root, tree: D.Tree, rel: str) -> None:
    got = M.ls_l(root / rel if rel else root)
    want = tree.children(rel)
    assert set(got) == set(want), (
        f"{rel or '.'}: missing {sorted(set(want) - set(got))[:10]}, extra {sorted(set(got) - set(want))[:10]}")
    for name, size in want.items():
        kind, got_size = got[name]
        if size is None:
            assert kind == "d", f"{rel}/{name}: want a directory, ls -l shows {kind!r}"
        else:
            assert kind == "-", f"{rel}/{name}: want a regular file, ls -l shows {kind!r}"
            assert got_size == size, f"{rel}/{name}: size {got_size}, want {size}"


# ---------------------------------------------------------------- listings


def test_listing_matches_server(tree_mount):
    """``ls -l`` of every directory: names, file vs directory and exact sizes."""
    for rel in sorted(tree_mount.tree.dirs, key=lambda d: (d.count("/"), d)):
        _expect_dir(tree_mount.root, tree_mount.tree, rel)


def test_more_than_one_page(tree_mount):
    """many/: 1100 keys and two prefixes, one of them after the 1000th entry (S3 and
    GCS page at 1000): every entry shows, once."""
    names = M.raw_readdir(tree_mount.root / "many")
    plain = [n for n in names if n not in (".", "..")]
    assert len(plain) == len(set(plain)), "duplicate entries in many/"
    want = set(tree_mount.tree.children("many"))
    assert set(plain) == want, f"missing {sorted(want - set(plain))[:10]}, extra {sorted(set(plain) - want)[:10]}"
    assert (tree_mount.root / "many" / "zz_last" / "two.txt").read_bytes() == b"two\n"


def test_special_name(tree_mount):
    p = tree_mount.root / D.SPECIAL_NAME
    assert p.stat().st_size == tree_mount.tree.files[D.SPECIAL_NAME]
    assert p.read_bytes() == (tree_mount.tree.root / D.SPECIAL_NAME).read_bytes()


def test_readdir_has_no_junk(tree_mount):
    """Each name once, no empty name; ``/.voxfs`` is not listed."""
    for d in (tree_mount.root, tree_mount.root / "sub"):
        names = M.raw_readdir(d)
        assert len(names) == len(set(names)) and "" not in names, names
    assert ".voxfs" not in M.raw_readdir(tree_mount.mp)


# ---------------------------------------------------------------- contents


def test_contents_sha256(tree_mount):
    """Every file (the empty one included) reads byte-identical to the original."""
    tree = tree_mount.tree
    files = tree.content_files()
    got = M.hash_in_child([tree_mount.root / f for f in files], timeout=180)
    bad = []
    for f in files:
        r = got[tree_mount.root / f]
        if "errno" in r:
            bad.append(f"{f}: errno {r['errno']} after {r['size']} bytes")
        elif (r["sha256"], r["size"]) != (tree.sha256[f], tree.files[f]):
            bad.append(f"{f}: {r['size']} bytes, sha256 {r['sha256'][:12]}, want {tree.files[f]} / "
                       f"{tree.sha256[f][:12]}")
    assert not bad, "\n".join(bad)


def test_h5py_cubes(tree_mount):
    """h5py opens the L4dense-like cubes through the mount; each ``data`` equals the original."""
    code = (
        "import h5py, json, numpy as np, sys\n"
        "with h5py.File(sys.argv[1], 'r') as f:\n"
        "    d = f['data']\n"
        "    np.save(sys.argv[2], d[...])\n"
        "    print(json.dumps({'shape': d.shape, 'chunks': d.chunks, 'compression': d.compression}))\n"
    )
    for rel in D.CUBES:
        out = tree_mount.mp.parent / f"cube-{tree_mount.backend.name}.npy"
        r = subprocess.run([sys.executable, "-c", code, str(tree_mount.root / rel), str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{rel}: h5py failed: {r.stderr.strip()[-2000:]}"
        meta = json.loads(r.stdout)
        if "gzip" in rel:
            assert meta["chunks"] == list(D.CUBE_CHUNKS) and meta["compression"] == "gzip", meta
        else:
            assert meta["chunks"] is None and meta["compression"] is None, meta
        a = np.load(out)
        out.unlink()
        assert a.shape == D.CUBE_SHAPE and a.dtype == np.uint8, meta
        assert np.array_equal(a, tree_mount.tree.cube), f"{rel}: data differs from the original"


def test_random_preads(tree_mount):
    """384 4 KiB preads (random, plus across 64 KiB / 1 MiB block ends and past EOF) on three
    files equal the original bytes."""
    rng = random.Random(f"preads-{tree_mount.backend.name}")
    bad = []
    for rel in ("rand.bin", "cubes/chunked_gzip.h5", "sub/b.bin"):
        want = (tree_mount.tree.root / rel).read_bytes()
        n = len(want)
        offsets = [rng.randrange(0, n) for _ in range(120)]
        offsets += [0, n - 1, n - 4096, n, n + 10, (1 << 20) - 100, (1 << 20) - 4096, 65536 - 7]
        fd = os.open(tree_mount.root / rel, os.O_RDONLY)
        try:
            for off in offsets:
                if off < 0:
                    continue
                got = os.pread(fd, 4096, off)
                if got != want[off:off + 4096]:
                    bad.append(f"{rel} @ {off}: {len(got)} bytes, want {len(want[off:off + 4096])}")
        finally:
            os.close(fd)
    assert not bad, "\n".join(bad[:20])


def test_read_only(tree_mount):
    root = tree_mount.root
    f = root / "small.txt"
    for op in (lambda: open(f, "r+b"), lambda: open(f, "ab"), lambda: open(root / "new.txt", "xb"),
               lambda: os.mkdir(root / "newdir"), lambda: os.unlink(f), lambda: os.truncate(f, 0),
               lambda: os.rename(f, root / "moved.txt"), lambda: os.chmod(f, 0o777)):
        with pytest.raises(OSError) as ei:
            r = op()
            if r is not None:
                r.close()
        assert ei.value.errno == errno.EROFS, repr(ei.value)
    assert f.read_bytes() == (tree_mount.tree.root / "small.txt").read_bytes()
    assert not (root / "new.txt").exists() and not (root / "newdir").exists()


def test_stats_counts_network(tree_mount):
    s = M.stats(tree_mount.mp)
    assert s["network"]["requests"] > 0 and s["network"]["bytes_fetched"] > 0, s["network"]


# ---------------------------------------------------------------- single files and bucket roots


@pytest.mark.parametrize("backend", ["html", "dav", "s3", "gcs"])
def test_single_file_mount(backend, request, voxfs_bin, tree_source, tmp_path):
    """A source URL not ending in ``/`` mounts that one file."""
    b = Backend(backend, request)
    rel = "rand.bin"
    with M.mounted(tmp_path, {"/one.bin": b.file_url(rel), "/sub/small.txt": b.file_url("small.txt")},
                   env=b.env) as m:
        p = m.mountpoint / "one.bin"
        st = os.stat(p)
        assert stat.S_ISREG(st.st_mode), oct(st.st_mode)
        assert st.st_size == tree_source.files[rel]
        got = M.hash_in_child([p])[p]
        assert got.get("sha256") == tree_source.sha256[rel], got
        q = m.mountpoint / "sub" / "small.txt"
        assert stat.S_ISREG(os.stat(q).st_mode)
        assert q.read_bytes() == (tree_source.root / "small.txt").read_bytes()
        assert sorted(os.listdir(m.mountpoint)) == ["one.bin", "sub"]


@pytest.mark.parametrize("backend", ["s3", "gcs"])
def test_bucket_root_mount(backend, request, voxfs_bin, tree_source, tmp_path):
    """``s3://bucket`` and ``gs://bucket/``: the whole bucket, no prefix."""
    b = Backend(backend, request)
    with M.mounted(tmp_path, {"/flat": b.flat_url}, env=b.env) as m:
        root = m.mountpoint / "flat"
        assert sorted(os.listdir(root)) == ["empty.bin", "small.txt", "sub"]
        assert sorted(os.listdir(root / "sub")) == ["b.bin", "nested"]
        paths = [root / f for f in FLAT_FILES]
        got = M.hash_in_child(paths)
        for f, p in zip(FLAT_FILES, paths):
            assert os.stat(p).st_size == tree_source.files[f]
            assert got[p].get("sha256") == tree_source.sha256[f], (f, got[p])


def test_gcs_short_pages(voxfs_bin, gcs_small_pages, tree_source, tmp_path):
    """GCS may return fewer entries than asked for: with pages of 7 entries (items and
    prefixes together), every directory still lists completely."""
    url = gcs_small_pages.source(TREE_BUCKET, TREE_PREFIX)
    with M.mounted(tmp_path, {KEY: url}, env=gcs_small_pages.env) as m:
        root = m.mountpoint / KEY.lstrip("/")
        for rel in ("", "sub", "many", "many/zz_last"):
            _expect_dir(root, tree_source, rel)
        p = root / "sub" / "b.bin"
        assert M.hash_in_child([p])[p].get("sha256") == tree_source.sha256["sub/b.bin"]


# ---------------------------------------------------------------- counting requests


def test_nested_directories_list_lazily(voxfs_bin, nginx_server, tree_source, tmp_path):
    """Listing a directory never visited costs a request: nothing below was listed ahead."""
    with M.mounted(tmp_path, {KEY: f"{nginx_server.url}/idx/tree/"}) as m:
        root = m.mountpoint / KEY.lstrip("/")
        os.listdir(root)
        r1, _ = M.net(m.mountpoint)
        assert sorted(os.listdir(root / "sub")) == ["b.bin", "nested"]
        r2, _ = M.net(m.mountpoint)
        assert r2 > r1, f"sub/ listed without a request ({r1} -> {r2}): listed ahead of time"
        assert sorted(os.listdir(root / "sub" / "nested")) == ["deep.bin", "deeper"]
        r3, _ = M.net(m.mountpoint)
        assert r3 > r2, f"sub/nested/ listed without a request ({r2} -> {r3})"


def _log_since(nginx_server, pos: int) -> str:
    with open(nginx_server.access_log, "rb") as f:
        f.seek(pos)
        return f.read().decode(errors="replace")


def test_one_pread_fetches_one_block(voxfs_bin, nginx_server, tree_source, tmp_path):
    """One cold 4 KiB pread fetches one 64 KiB block (the kernel may read ahead a
    little: at most 2 requests / 2 blocks), and a second pread earlier in the same
    block (backwards, so the kernel reads nothing ahead) fetches nothing."""
    block = 64 << 10
    with M.mounted(tmp_path, {KEY: {"source": f"{nginx_server.url}/idx/tree/", "block_size": "64KiB"}}) as m:
        p = m.mountpoint / KEY.lstrip("/") / "rand.bin"
        want = (tree_source.root / "rand.bin").read_bytes()
        assert os.stat(p).st_size == len(want)
        fd = os.open(p, os.O_RDONLY)
        try:
            r0, b0 = M.net(m.mountpoint)
            pos = nginx_server.access_log.stat().st_size
            off = 17 * block + 8192
            assert os.pread(fd, 4096, off) == want[off:off + 4096]
            r1, b1 = M.net(m.mountpoint)
            log = _log_since(nginx_server, pos)
            assert 1 <= r1 - r0 <= 2, f"{r1 - r0} requests for one 4 KiB pread:\n{log}"
            assert 4096 <= b1 - b0 <= 2 * block, f"{b1 - b0} bytes fetched for one 4 KiB pread:\n{log}"
            pos = nginx_server.access_log.stat().st_size
            off2 = 17 * block + 123
            assert os.pread(fd, 4096, off2) == want[off2:off2 + 4096]
            r2, b2 = M.net(m.mountpoint)
            assert (r2, b2) == (r1, b1), (f"re-reading a fetched block went to the network "
                                          f"({r1} -> {r2}):\n{_log_since(nginx_server, pos)}")
        finally:
            os.close(fd)


# ---------------------------------------------------------------- the 1 GiB file


def test_big_file_sha256(voxfs_bin, nginx_server, big_file, tmp_path):
    """A 1 GiB + 12345 byte file read once, streaming: sha256 equals the original's."""
    _, digest = big_file
    try:
        _read_big(nginx_server, digest, tmp_path)
    finally:
        shutil.rmtree(tmp_path / "big-cache", ignore_errors=True)  # up to 512 MiB


def _read_big(nginx_server, digest, tmp_path):
    with M.mounted(tmp_path, {"/big": {"source": f"{nginx_server.url}/idx/big/", "block_size": "4MiB"}},
                   name="big", cache_size="512MiB") as m:
        p = m.mountpoint / "big" / "huge.bin"
        assert os.listdir(p.parent) == ["huge.bin"]
        assert os.stat(p).st_size == D.BIG_SIZE
        t0 = time.monotonic()
        got = M.hash_in_child([p], timeout=300)[p]
        secs = time.monotonic() - t0
        assert "errno" not in got, f"read failed with errno {got.get('errno')} after {got['size']} bytes"
        assert got["size"] == D.BIG_SIZE
        if got["sha256"] != digest:  # say where
            wrong = []
            for i, seg in enumerate(got["segments"]):
                start = i * M.SEGMENT
                want = hashlib.sha256(D.big_chunk(start, M.SEGMENT)).hexdigest()
                if seg != want:
                    wrong.append(f"[{start}, {start + M.SEGMENT})")
            pytest.fail(f"sha256 differs; wrong 64 MiB segments: {wrong[:8]}")
        print(f"1 GiB read in {secs:.1f} s")


# ---------------------------------------------------------------- a file changed mid-read


_CHANGED_READER = r"""
import errno, hashlib, os, sys
path, first, far = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
try:
    head = os.pread(fd, first, 0)
    print("HEAD", len(head), hashlib.sha256(head).hexdigest(), flush=True)
    sys.stdin.readline()  # the parent changes the file meanwhile
    try:
        b = os.pread(fd, 4096, far)
        print("READ", len(b), hashlib.sha256(b).hexdigest(), flush=True)
    except OSError as e:
        print("ERR", e.errno, flush=True)
finally:
    os.close(fd)
"""


def _mutable_nginx(request, name, data):
    nginx = request.getfixturevalue("nginx_server")
    d = nginx.root / "idx" / name
    d.mkdir(parents=True)
    (d / "m.bin").write_bytes(data)

    def replace(new):
        f = d / "m.bin"
        tmp = d / "m.bin.new"
        tmp.write_bytes(new)
        st = f.stat()
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns + 10 * 10**9))  # a different mtime too
        os.replace(tmp, f)

    def cleanup():
        for x in d.iterdir():
            x.unlink()
        d.rmdir()

    def log():
        return "nginx saw:\n" + "\n".join(ln for ln in _log_since(nginx, 0).splitlines() if name in ln)

    return f"{nginx.url}/idx/{name}/", {}, replace, cleanup, log


def _mutable_s3(request, name, data):
    s3 = request.getfixturevalue("s3_server")
    c = s3.client()
    key = f"{name}/m.bin"
    c.put_object(Bucket=TREE_BUCKET, Key=key, Body=data, ACL="public-read")
    return (s3.source(TREE_BUCKET, name + "/"), s3.env,
            lambda new: c.put_object(Bucket=TREE_BUCKET, Key=key, Body=new, ACL="public-read"),
            lambda: c.delete_object(Bucket=TREE_BUCKET, Key=key), lambda: "")


def _mutable_gcs(request, name, data):
    import requests

    gcs = request.getfixturevalue("gcs_server")

    def put(body):
        r = requests.post(f"{gcs.url}/upload/storage/v1/b/{TREE_BUCKET}/o",
                          params={"uploadType": "media", "name": f"{name}/m.bin"}, data=body,
                          headers={"Content-Type": "application/octet-stream"}, timeout=60)
        assert r.status_code == 200, r.text[:300]
        return r.json()["generation"]

    gen = put(data)

    def replace(new):
        assert put(new) != gen

    def cleanup():
        requests.delete(f"{gcs.url}/storage/v1/b/{TREE_BUCKET}/o/" + f"{name}%2Fm.bin", timeout=10)

    return gcs.source(TREE_BUCKET, name + "/"), gcs.env, replace, cleanup, lambda: ""


@pytest.mark.parametrize("where", ["nginx", "s3", "gcs"])
def test_file_changed_mid_read_gives_eio(where, request, voxfs_bin, tmp_path):
    """Read the first blocks, replace the file on the server (same size, new bytes; on
    nginx also mtime + 10 s), read far away through the same descriptor: EIO, never
    bytes of the new file next to bytes of the old."""
    size = (64 << 20) if where == "nginx" else (8 << 20)
    block = 64 << 10
    rng = np.random.default_rng(11)
    old = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
    new = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
    name = f"mutable-{where}-{os.getpid()}-{time.monotonic_ns()}"
    source, env, replace, cleanup, log = {"nginx": _mutable_nginx, "s3": _mutable_s3,
                                          "gcs": _mutable_gcs}[where](request, name, old)
    try:
        with M.mounted(tmp_path, {"/m": {"source": source, "block_size": "64KiB"}}, env=env) as m:
            p = m.mountpoint / "m" / "m.bin"
            assert os.stat(p).st_size == size
            child = subprocess.Popen([sys.executable, "-c", _CHANGED_READER, str(p), str(2 * block),
                                      str(size - 4096)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                line = child.stdout.readline().split()
                assert line[:1] == ["HEAD"], f"first read failed: {line} {child.stderr.read() if child.poll() else ''}"
                assert int(line[1]) == 2 * block and line[2] == hashlib.sha256(old[:2 * block]).hexdigest()
                replace(new)
                child.stdin.write("go\n")
                child.stdin.flush()
                out, err = child.communicate(timeout=90)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
            fields = out.split()
            if fields[:1] == ["READ"]:
                which = {hashlib.sha256(old[size - 4096:]).hexdigest(): "the old file",
                         hashlib.sha256(new[size - 4096:]).hexdigest(): "the new file"}.get(fields[2], "neither")
                pytest.fail(f"read after the change returned {fields[1]} bytes of {which}; want EIO\n{log()}")
            assert fields == ["ERR", str(errno.EIO)], f"{out!r} {err!r}\n{log()}"
            assert P.is_mounted(m.mountpoint)
            M.stats(m.mountpoint)  # the daemon still answers
    finally:
        cleanup()


# ---------------------------------------------------------------- a very large directory


@pytest.fixture(scope="module")
def hundred_thousand(nginx_server):
    """100,000 empty files in one directory served by nginx (HTML and JSON indexes)."""
    d = nginx_server.root / "idx" / "hundredk"
    d.mkdir(parents=True, exist_ok=True)
    names = [f"f{i:06d}.txt" for i in range(100_000)]
    for name in names:
        open(d / name, "wb").close()
    yield names
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("index", ["idx", "idx-json"])
def test_directory_of_100000_entries(voxfs_bin, nginx_server, hundred_thousand, index, tmp_path):
    """Every one of 100,000 entries lists, with attributes, in one listing request."""
    with M.mounted(tmp_path, {KEY: f"{nginx_server.url}/{index}/hundredk/"}) as m:
        root = m.mountpoint / KEY.lstrip("/")
        r0, _ = M.net(m.mountpoint)
        sizes = M.ls_l(root, timeout=120)
        r1, _ = M.net(m.mountpoint)
        assert sorted(sizes) == hundred_thousand
        assert all(v == ("-", 0) for v in sizes.values())
        assert r1 == r0, f"ls -l of a listed directory made {r1 - r0} requests (a HEAD per entry?)"
