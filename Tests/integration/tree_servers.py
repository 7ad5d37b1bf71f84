"""Real listing servers on 127.0.0.1 for the remote-file-tree tests (issue 4).

Each server is a child process on a free port, started once per session by the
fixtures at the bottom (imported into conftest.py) and stopped at session end. A
child also gets SIGTERM if pytest itself dies (PR_SET_PDEATHSIG), so none is left
running. Each starts in well under 5 s.

* ``WebDavServer``  wsgidav 4.4 on cheroot, anonymous, read-only, share ``/dav``.
  Mount with ``webdav+http://127.0.0.1:PORT/dav/<dir>/``.
  PROPFIND ``Depth: 1`` (``allprop`` without a body) answers ``207`` with prefix
  ``ns0:`` for ``DAV:`` and hrefs as absolute, percent-encoded paths
  (``/dav/tree/with%20space/``, ``&`` as ``%26``; directories end in ``/``). Files
  carry ``getcontentlength``, ``getlastmodified`` (RFC 1123),
  ``getetag`` (*unquoted* ``inode-mtime-size``, e.g. ``16556572-1795386311-22``),
  an empty ``resourcetype``; collections have ``<collection/>`` and no length or
  ETag (a ``prop`` request for them lists those under ``404`` propstat). The
  first response is the collection itself.
  GET honours ``Range`` (``206``, ``Content-Range``; ``416`` past the end; a range on
  an empty file answers ``200``), sends ``ETag: "inode-mtime-size"`` (quoted in the
  header), ``Last-Modified``, ``Accept-Ranges: bytes``, and honours ``If-Range``
  (an ETag or an HTTP date; a mismatch gives ``200`` with the whole file) and
  ``If-Match`` (``412``). Keep-alive works.
* ``S3Server``      moto 5.2's server, run by moto_s3.py (objects put in process). Path style:
  ``AWS_ENDPOINT_URL_S3=http://127.0.0.1:PORT``, list with
  ``GET /BUCKET?list-type=2&prefix=P&delimiter=/[&continuation-token=T]``, objects at
  ``GET /BUCKET/KEY``. Anonymous ListObjectsV2 always works; anonymous GetObject
  needs a bucket policy granting ``s3:GetObject`` to ``*`` (else ``403``), and
  anonymous HEAD needs the object ACL ``public-read`` (the policy alone gives
  ``403``): moto_s3.py sets both. A page holds at most ``max-keys`` (1000) keys and
  common prefixes together (``IsTruncated``, ``NextContinuationToken``,
  ``KeyCount``); ``encoding-type=url`` percent-encodes keys and prefixes; ``Size``,
  ``LastModified`` (``2026-11-22T22:24:36.000Z``, whole seconds), ``ETag``
  (``"md5 hex"``). Ranged GET: ``206``, ``content-range: bytes a-b/size``, ``ETag``,
  ``last-modified`` (whole seconds); ``416`` past the end and on empty objects.
  ``If-Range`` is ignored (always ``206``); ``If-Match`` / ``If-Unmodified-Since``
  are honoured (``412``), ``If-None-Match`` gives ``304``. Every response closes
  the connection.
* ``GcsServer``     gcp-storage-emulator run by gcs_emulator.py, which loads the
  objects in process and patches paging and the download headers towards the real
  GCS contract (its docstring lists what the emulator does by itself and what is
  patched). ``STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT``; listing
  ``GET /storage/v1/b/BUCKET/o?prefix=P&delimiter=/&maxResults=N&pageToken=T``,
  bytes at ``/BUCKET/OBJECT`` (and the JSON API ``?alt=media`` forms).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nginx_server import free_port, stop_process, tail_lines

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 20.0


_LAUNCH = (
    "import ctypes, runpy, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with pytest\n"
    "except OSError:\n"
    "    pass\n"
    "kind, target = sys.argv[1], sys.argv[2]\n"
    "sys.argv = [target] + sys.argv[3:]\n"
    "if kind == 'module':\n"
    "    runpy.run_module(target, run_name='__main__', alter_sys=True)\n"
    "else:\n"
    "    runpy.run_path(target, run_name='__main__')\n"
)


def python_child(kind: str, target: str, *args) -> list:
    """argv running module or script ``target`` in a Python that dies with this process."""
    return [sys.executable, "-c", _LAUNCH, kind, target, *map(str, args)]


class ChildServer:
    """A server child process on ``127.0.0.1:port``; ``start()`` waits until it answers."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log = self.workdir / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list:
        raise NotImplementedError

    def ready_path(self) -> str:
        return "/"

    def start(self, attempts: int = 3) -> "ChildServer":
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.workdir)
            if self._wait_ready(START_TIMEOUT):
                return self
            last = self.log_tail()
            self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{last}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(self.url + self.ready_path(), timeout=1).close()
                return True
            except urllib.error.HTTPError:
                return True  # any HTTP answer
            except OSError:
                time.sleep(0.05)
        return False

    def log_tail(self, n: int = 30) -> str:
        return tail_lines(self.log, n)

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- WebDAV

class WebDavServer(ChildServer):
    """wsgidav serving directory ``root`` read-only and anonymously as ``/dav``."""

    name = "wsgidav"
    share = "/dav"

    def __init__(self, root: Path, workdir: Path):
        super().__init__(workdir)
        self.root = Path(root)

    def command(self) -> list:
        conf = {
            "host": "127.0.0.1",
            "port": self.port,
            "server": "cheroot",
            "server_args": {"numthreads": 16},
            "provider_mapping": {self.share: {"root": str(self.root), "readonly": True}},
            "http_authenticator": {"accept_basic": False, "accept_digest": False, "default_to_digest": False},
            "simple_dc": {"user_mapping": {"*": True}},  # anonymous
            "dir_browser": {"enable": False},
            "lock_storage": False,
            "verbose": 1,
            "logging": {"enable": False},
        }
        cf = self.workdir / "wsgidav.json"
        cf.write_text(json.dumps(conf, indent=1))
        return python_child("module", "wsgidav.server.server_cli", "-c", cf)

    def ready_path(self) -> str:
        return self.share + "/"

    def source(self, rel_dir: str) -> str:
        """``webdav+http://...`` URL of directory ``rel_dir`` (relative to root)."""
        rel = rel_dir.strip("/")
        return f"webdav+{self.url}{self.share}/{rel}/" if rel else f"webdav+{self.url}{self.share}/"


# ---------------------------------------------------------------- S3 (moto)

class S3Server(ChildServer):
    """moto's S3 server via moto_s3.py; ``loads``: [(bucket, key_prefix, dir or None)]."""

    name = "moto"

    def __init__(self, workdir: Path, loads: list):
        super().__init__(workdir)
        self.loads = loads

    def command(self) -> list:
        cmd = python_child("path", str(HERE / "moto_s3.py"), "--port", self.port)
        seen = []
        for bucket, prefix, root in self.loads:
            if bucket not in seen:
                cmd += ["--bucket", bucket]
                seen.append(bucket)
            if root is not None:
                cmd += ["--load", f"{prefix}={root}"]
        return cmd

    def ready_path(self) -> str:
        return "/moto-api/"

    def client(self):
        """A signed boto3 client (for changing objects; the daemon reads anonymously)."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 3}))

    def source(self, bucket: str, key_prefix: str = "") -> str:
        return f"s3://{bucket}/{key_prefix}" if key_prefix else f"s3://{bucket}"

    @property
    def env(self) -> dict:
        return {"AWS_ENDPOINT_URL_S3": self.url}


# ---------------------------------------------------------------- GCS

class GcsServer(ChildServer):
    """gcp-storage-emulator via gcs_emulator.py; ``loads``: [(bucket, name_prefix, dir)]."""

    name = "gcs-emulator"

    def __init__(self, workdir: Path, loads: list, page_size: int = 1000, raw: bool = False):
        super().__init__(workdir)
        self.loads = loads
        self.page_size = page_size
        self.raw = raw

    def command(self) -> list:
        cmd = python_child("path", str(HERE / "gcs_emulator.py"), "--port", self.port,
                           "--page-size", self.page_size)
        for bucket, prefix, root in self.loads:
            cmd += ["--bucket", bucket]
            if root is not None:
                cmd += ["--load", f"{prefix}={root}"]
        if self.raw:
            cmd.append("--raw")
        return cmd

    def source(self, bucket: str, name_prefix: str = "") -> str:
        return f"gs://{bucket}/{name_prefix}"

    @property
    def env(self) -> dict:
        return {"STORAGE_EMULATOR_HOST": self.url}


# ---------------------------------------------------------------- session fixtures
# (imported into conftest.py)

TREE_BUCKET = "vox-tree"  # the whole tree under TREE_PREFIX
TREE_PREFIX = "data/tree/"
FLAT_BUCKET = "vox-flat"  # FLAT_FILES at the bucket's top level
FLAT_FILES = ["small.txt", "empty.bin", "sub/b.bin", "sub/nested/deep.bin"]


@pytest.fixture(scope="session")
def tree_source(nginx_server):
    """The shared tree (tree_data.write_tree) under nginx's ``/idx/tree/``."""
    import tree_data

    return tree_data.write_tree(nginx_server.root / "idx" / "tree")


@pytest.fixture(scope="session")
def big_file(nginx_server):
    """(path, sha256) of the 1 GiB file under nginx's ``/idx/big/``; removed at the end."""
    import tree_data

    p = nginx_server.root / "idx" / "big" / "huge.bin"
    digest = tree_data.write_big(p)
    yield p, digest
    p.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def dav_server(tree_source, work_dir):
    srv = WebDavServer(tree_source.root.parent, work_dir / "wsgidav").start()
    yield srv
    srv.stop()


def _flat_copy(tree_source, dest: Path) -> Path:
    for rel in FLAT_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes((tree_source.root / rel).read_bytes())
    return dest


@pytest.fixture(scope="session")
def flat_source(tree_source, work_dir) -> Path:
    """FLAT_FILES of the tree, copied to a directory of their own."""
    return _flat_copy(tree_source, work_dir / "flat")


@pytest.fixture(scope="session")
def s3_server(tree_source, flat_source, work_dir):
    srv = S3Server(work_dir / "moto", [(TREE_BUCKET, TREE_PREFIX, tree_source.root),
                                       (FLAT_BUCKET, "", flat_source)]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def gcs_server(tree_source, flat_source, work_dir):
    srv = GcsServer(work_dir / "gcs", [(TREE_BUCKET, TREE_PREFIX, tree_source.root),
                                       (FLAT_BUCKET, "", flat_source)]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def gcs_small_pages(tree_source, work_dir):
    """A second emulator with the same tree whose pages hold at most 7 entries."""
    srv = GcsServer(work_dir / "gcs-small-pages", [(TREE_BUCKET, TREE_PREFIX, tree_source.root)],
                    page_size=7).start()
    yield srv
    srv.stop()
