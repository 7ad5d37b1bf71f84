"""Every modifying operation on the mount fails with EROFS."""

from __future__ import annotations

import errno
import os

import pytest

FILE = "cv/u8/8_8_40/z05.png"
DIR = "cv/u8/8_8_40"


def _ops(mp):
    f = mp / FILE
    d = mp / DIR
    return {
        "open_w_trunc": lambda: open(f, "wb"),
        "open_rplus": lambda: open(f, "r+b"),
        "open_append": lambda: open(f, "ab"),
        "os_open_wronly": lambda: os.open(f, os.O_WRONLY),
        "os_open_rdwr": lambda: os.open(f, os.O_RDWR),
        "write_info": lambda: open(mp / "cv/u8/info", "wb"),
        "create_in_scale": lambda: open(d / "new.png", "xb"),
        "create_in_root": lambda: open(mp / "new.txt", "xb"),
        "create_in_layer": lambda: os.open(mp / "cv/u8/new", os.O_CREAT | os.O_WRONLY, 0o644),
        "mkdir_root": lambda: os.mkdir(mp / "newdir"),
        "mkdir_scale": lambda: os.mkdir(d / "newdir"),
        "rmdir_scale": lambda: os.rmdir(d),
        "unlink_slice": lambda: os.unlink(f),
        "unlink_info": lambda: os.unlink(mp / "cv/u8/info"),
        "rename_slice": lambda: os.rename(f, d / "renamed.png"),
        "rename_dir": lambda: os.rename(d, mp / "cv/u8/renamed"),
        "chmod": lambda: os.chmod(f, 0o777),
        "chown": lambda: os.chown(f, 1234, 1234),
        "truncate": lambda: os.truncate(f, 0),
        "touch_utime": lambda: os.utime(f, (0, 0)),
        "symlink": lambda: os.symlink("z05.png", d / "link.png"),
        "hardlink": lambda: os.link(f, d / "hard.png"),
        "mknod_fifo": lambda: os.mkfifo(d / "fifo"),
        "setxattr": lambda: os.setxattr(f, "user.voxfs", b"1"),
        "removexattr": lambda: os.removexattr(f, "user.voxfs"),
        "setxattr_dir": lambda: os.setxattr(d, "user.voxfs", b"1"),
    }


OPS = list(_ops(__import__("pathlib").Path("/")).keys())


@pytest.mark.parametrize("op", OPS)
def test_erofs(op, voxfs_mount):
    mp = voxfs_mount.mp
    f = mp / FILE
    before = f.read_bytes()
    with pytest.raises(OSError) as ei:
        r = _ops(mp)[op]()
        if isinstance(r, int):
            os.close(r)
        elif r is not None:
            r.close()
    assert ei.value.errno == errno.EROFS, f"{op}: {ei.value!r}"
    assert f.read_bytes() == before
    for name in ("new.png", "newdir", "renamed.png", "link.png", "hard.png", "fifo"):
        assert not (mp / DIR / name).exists()
    assert not (mp / "new.txt").exists() and not (mp / "newdir").exists()


def test_other_users_are_kept_out_unless_allow_other(voxfs_mount):
    """Without -o allow_other, the mount is its owner's alone: the kernel refuses other
    users (here uid 65534) before voxfs sees their requests."""
    mp = voxfs_mount.mp
    with open("/proc/self/mountinfo") as f:
        line = next(l for l in f if f" {mp} " in l)
    assert "allow_other" not in line, line
    code = (
        "import os, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n"
        "    os.stat(sys.argv[1]); print('ok')\n"
        "except OSError as e:\n"
        "    print(e.errno)\n"
    )
    import subprocess, sys
    r = subprocess.run([sys.executable, "-c", code, str(mp / FILE)], capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == str(errno.EACCES), r.stdout + r.stderr
