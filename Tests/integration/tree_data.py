"""The files the remote-file-tree tests serve, and what reading them must give.

``write_tree(root)`` writes the shared tree once per session; every backend (nginx
HTML and JSON autoindex, WebDAV, S3, GCS) serves these same bytes:

    small.txt                 13 bytes of text
    empty.bin                 0 bytes
    rand.bin                  3 MiB + 12345 random bytes (crosses blocks, odd tail)
    with space é&+%x.bin      5 bytes; a name that needs percent-encoding everywhere
    sub/b.bin                 200001 random bytes
    sub/nested/deep.bin       70000 random bytes
    sub/nested/deeper/leaf.txt
    cubes/chunked_gzip.h5     /data: uint8 256^3, chunks 64^3, gzip (L4dense-like)
    cubes/contiguous.h5       /data: the same array, contiguous
    many/k0000 .. k1099       1100 tiny files (size i % 17): more than one page of
                              ListObjectsV2 (moto pages at 1000) or GCS objects.list
    many/a_first/one.txt      a common prefix on the first page
    many/zz_last/two.txt      a common prefix after the 1000th entry

No name starts with ``.``: nginx's autoindex never lists dot files.

``write_big(path)`` writes the 1 GiB + 12345 byte file (nginx only). Every 4 KiB
page carries its own offset, so a block read from the wrong place never matches.
``big_chunk(offset, n)`` recomputes any of its bytes without reading the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MiB = 1 << 20
SPECIAL_NAME = "with space é&+%x.bin"
MANY = 1100
CUBE_SHAPE = (256, 256, 256)
CUBE_CHUNKS = (64, 64, 64)
CUBES = ("cubes/chunked_gzip.h5", "cubes/contiguous.h5")

BIG_SIZE = (1 << 30) + 12345
BIG_SEED = 20240404


@dataclass
class Tree:
    """What a mount of the tree must show: files (relpath -> size), dirs, sha256s."""

    root: Path
    files: dict = field(default_factory=dict)  # relpath -> size
    dirs: set = field(default_factory=set)  # relpaths, "" is the root
    sha256: dict = field(default_factory=dict)  # relpath -> hex digest
    cube: np.ndarray | None = field(default=None, repr=False)

    def children(self, rel: str) -> dict:
        """Direct entries of directory ``rel``: name -> size (files) or None (dirs)."""
        pre = rel + "/" if rel else ""
        out = {}
        for f, size in self.files.items():
            if f.startswith(pre) and "/" not in f[len(pre):]:
                out[f[len(pre):]] = size
        for d in self.dirs:
            if d and d.startswith(pre) and "/" not in d[len(pre):]:
                out[d[len(pre):]] = None
        return out

    def content_files(self) -> list:
        """Every file except the 1100 tiny ones of many/ (of those: three)."""
        return sorted(f for f in self.files
                      if not f.startswith("many/k") or f in ("many/k0000", "many/k0999", "many/k1099"))


def cube_array() -> np.ndarray:
    z, y, x = np.ogrid[:CUBE_SHAPE[0], :CUBE_SHAPE[1], :CUBE_SHAPE[2]]
    rng = np.random.default_rng(4)
    noise = rng.integers(0, 6, size=CUBE_SHAPE, dtype=np.uint8)
    return (((x // 8 + y // 16 + z // 4) % 11) * 20 + noise).astype(np.uint8)


def _put(tree: Tree, rel: str, data: bytes) -> None:
    p = tree.root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    tree.files[rel] = len(data)
    tree.sha256[rel] = hashlib.sha256(data).hexdigest()
    parts = rel.split("/")[:-1]
    for i in range(len(parts) + 1):
        tree.dirs.add("/".join(parts[:i]))


def write_tree(root: Path) -> Tree:
    import h5py

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tree = Tree(root)
    tree.dirs.add("")
    rng = np.random.default_rng(7)
    rand = lambda n: rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()  # noqa: E731
    _put(tree, "small.txt", b"hello voxfs\n\x00")
    _put(tree, "empty.bin", b"")
    _put(tree, "rand.bin", rand(3 * MiB + 12345))
    _put(tree, SPECIAL_NAME, b"\x01\x02special")
    _put(tree, "sub/b.bin", rand(200001))
    _put(tree, "sub/nested/deep.bin", rand(70000))
    _put(tree, "sub/nested/deeper/leaf.txt", b"leaf\n")
    for i in range(MANY):
        _put(tree, f"many/k{i:04d}", bytes([i & 0xFF]) * (i % 17))
    _put(tree, "many/a_first/one.txt", b"one\n")
    _put(tree, "many/zz_last/two.txt", b"two\n")

    cube = cube_array()
    tree.cube = cube
    for rel in CUBES:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(p, "w") as f:
            if "gzip" in rel:
                f.create_dataset("data", data=cube, chunks=CUBE_CHUNKS, compression="gzip", compression_opts=4)
            else:
                f.create_dataset("data", data=cube)
        data = p.read_bytes()
        tree.files[rel] = len(data)
        tree.sha256[rel] = hashlib.sha256(data).hexdigest()
        tree.dirs.add("cubes")
    return tree


# ---------------------------------------------------------------- the 1 GiB file

def _big_base() -> np.ndarray:
    return np.random.default_rng(BIG_SEED).integers(0, 2**63, size=MiB // 8, dtype=np.uint64)


def big_mib(i: int, base: np.ndarray | None = None) -> bytes:
    """MiB number ``i`` of the big file (the last one is cut at BIG_SIZE)."""
    blk = (_big_base() if base is None else base).copy()
    # every 4 KiB page starts with its absolute offset, then a per-MiB word
    blk[::512] = np.arange(i * MiB, (i + 1) * MiB, 4096, dtype=np.uint64)
    blk[1::512] ^= np.uint64((i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    data = blk.tobytes()
    end = min(MiB, BIG_SIZE - i * MiB)
    return data[:end]


def big_chunk(offset: int, n: int) -> bytes:
    """Bytes [offset, offset + n) of the big file, recomputed."""
    out = bytearray()
    base = _big_base()
    end = min(offset + n, BIG_SIZE)
    pos = offset
    while pos < end:
        i = pos // MiB
        blk = big_mib(i, base)
        lo = pos - i * MiB
        take = min(len(blk) - lo, end - pos)
        out += blk[lo:lo + take]
        pos += take
    return bytes(out)


def write_big(path: Path) -> str:
    """Write the big file at ``path``; returns its sha256 (hex)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = _big_base()
    h = hashlib.sha256()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for i in range((BIG_SIZE + MiB - 1) // MiB):
            b = big_mib(i, base)
            h.update(b)
            f.write(b)
    os.replace(tmp, path)
    return h.hexdigest()
