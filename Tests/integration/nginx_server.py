"""A throw-away nginx serving a directory tree on 127.0.0.1 for the voxfs tests.

Special subtrees (relative to the served root):

* ``/gz/...``      ``gzip_static always; gunzip off;``: a request for ``X`` is
                   answered with the bytes of ``X.gz`` and ``Content-Encoding: gzip``
                   (whatever the client's Accept-Encoding says).
* ``/broken/...``  every request answers ``500`` except a layer's ``info``
                   (``/broken/<...>/info``), so a volume there mounts fine but
                   every chunk read fails.
* ``/idx/...``     directory listings: ``autoindex on; autoindex_exact_size on;``
                   (HTML, exact byte sizes, GMT dates to the minute, names over 50
                   characters shortened in the link text but never in the href).
* ``/idx-json/...`` the same files as ``/idx/`` (an ``alias``), listed with
                   ``autoindex_format json;``: ``[{"name", "type": "file"|"directory",
                   "mtime": RFC 1123, "size" (files only)}, ...]``,
                   ``Content-Type: application/json``.

A directory requested without its trailing slash answers ``301`` with an absolute
``Location`` on the same host and port.

Everything else is plain static serving (nginx answers ``Range`` requests
with ``206`` by default).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(prefix: Path, root: Path, port: int) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    p = prefix
    return f"""{user}worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 512; }}
http {{
    # "combined" plus the validators a ranged read sends (fields after the usual ones)
    log_format voxfs '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                     '"$http_referer" "$http_user_agent" "range=$http_range" "if_range=$http_if_range" '
                     '"if_match=$http_if_match"';
    access_log {p}/access.log voxfs;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    default_type application/octet-stream;
    types {{ application/json json; }}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
        location /gz/ {{
            gzip_static always;
            gunzip off;
        }}
        location /broken/ {{
            return 500;
        }}
        location /idx/ {{
            autoindex on;
            autoindex_exact_size on;
        }}
        location /idx-json/ {{
            alias {root}/idx/;
            autoindex on;
            autoindex_format json;
        }}
        # regex locations win over the prefix above: a broken layer's info is served
        location ~ ^/broken/(.+/)?info$ {{ }}
    }}
}}
"""


class NginxServer:
    """``nginx -c CONF -p PREFIX -g 'daemon off;'`` in a subprocess."""

    def __init__(self, root: Path, prefix: Path, port: int | None = None):
        self.root = Path(root)
        self.prefix = Path(prefix)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def start(self, attempts: int = 5) -> "NginxServer":
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx not found on PATH (apt-get install nginx-light)")
        fixed_port = self.port
        last_err = ""
        for _ in range(attempts):
            if fixed_port is None:
                self.port = free_port()
            conf = self.prefix / "nginx.conf"
            conf.write_text(_conf(self.prefix, self.root, self.port))
            self.proc = subprocess.Popen(
                ["nginx", "-c", str(conf), "-p", str(self.prefix), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_ready(10.0):
                return self
            last_err = self._reap()
            if fixed_port is not None:
                break
        raise RuntimeError(f"nginx did not start: {last_err}\n{self._log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.url}/__ping__", timeout=1)
                return True
            except urllib.error.HTTPError:
                return True  # 404 is an answer
            except OSError:
                time.sleep(0.05)
        return False

    def _reap(self) -> str:
        err = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                _, e = self.proc.communicate(timeout=10)
                err = (e or b"").decode(errors="replace")
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        return err

    def _log_tail(self, n: int = 20) -> str:
        return tail_lines(self.error_log, n)

    def stop(self) -> None:
        """Stop nginx (fast shutdown) and wait; the port then refuses connections."""
        if self.proc is None:
            return
        stop_process(self.proc)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> "NginxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def tail_lines(path: Path, n: int) -> str:
    """The last ``n`` lines of a log file ("" when it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
