"""Peak RSS of the daemon stays under --memory, however wide the planes are."""

from __future__ import annotations

import json
import threading

import numpy as np

import voxfs_proc as P

X, Y, Z = 8192, 1024, 16
CHUNK = (512, 512, 16)  # 4 MiB decoded chunks; a band of rows needs a row of 16 of them


def _write_wide_layer(root):
    (root / "s0").mkdir(parents=True)
    info = {"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [{
        "key": "s0", "size": [X, Y, Z], "voxel_offset": [0, 0, 0], "chunk_sizes": [list(CHUNK)],
        "resolution": [8, 8, 40], "encoding": "raw"}]}
    (root / "info").write_text(json.dumps(info))
    cx, cy, cz = CHUNK
    base = np.random.default_rng(7).integers(0, 255, (cx, cy, cz), dtype=np.uint8)
    for gx in range(X // cx):
        for gy in range(Y // cy):
            name = f"{gx * cx}-{(gx + 1) * cx}_{gy * cy}-{(gy + 1) * cy}_0-{cz}"
            (root / "s0" / name).write_bytes((base + gx + 3 * gy).astype(np.uint8).tobytes(order="F"))
    return base


def _peak_rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_peak_rss_under_memory_bound(voxfs_bin, tmp_path):
    layer = tmp_path / "wide"
    base = _write_wide_layer(layer)
    cfg = P.write_config(tmp_path / "c.yaml", {"/w": f"precomputed://file://{layer}"},
                         cache={"dir": str(tmp_path / "cache"), "size": "1GiB"})
    bound = 128 << 20
    with P.VoxfsMount(cfg, tmp_path / "mnt", "--memory", "128MiB", log_file=tmp_path / "voxfs.log") as m:
        scale = m.mountpoint / "w" / "s0"
        names = ["z00.png", "z01.png", "z02.png", "z03.npy", "z04.tif", "z05.png", "volume.npy"]
        sizes = {}

        def read(name):
            with open(scale / name, "rb") as f:
                total = 0
                while chunk := f.read(1 << 20):
                    total += len(chunk)
            sizes[name] = total

        threads = [threading.Thread(target=read, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sizes["volume.npy"] == (scale / "volume.npy").stat().st_size
        # The data read is right, too: one voxel per chunk column of slice 3.
        plane = np.load(scale / "z03.npy")
        for gx in range(X // CHUNK[0]):
            assert plane[700, gx * 512 + 5] == np.uint8(base[5, 700 - 512, 3] + gx + 3)
        pids = P.pids_for_mountpoint(m.mountpoint)
        assert pids, "daemon not found"
        peak = max(_peak_rss_bytes(pid) for pid in pids)
        # 1.9 GB of files were served from 128 MiB of chunks: far more than the bound.
        assert peak <= bound, f"peak RSS {peak / 2**20:.1f} MiB > 128 MiB\n{m.log_tail()}"
