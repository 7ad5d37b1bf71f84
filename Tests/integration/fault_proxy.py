"""A fault-injecting HTTP/1.1 reverse proxy for the reliability tests (stdlib only).

``FaultProxy(upstream)`` listens on a free 127.0.0.1 port and forwards every request
to ``upstream`` (``http://host:port``, e.g. the tests' nginx or wsgidav), one upstream
keep-alive connection per client connection. Per request it may inject one fault,
drawn with a seeded RNG from per-kind probabilities:

| kind | what the client gets |
| --- | --- |
| ``status``       | ``500``, ``503`` or ``429`` with ``Retry-After: 1`` and an empty body (upstream is not asked) |
| ``reset``        | the upstream's status line and headers (full ``Content-Length``) and less than half of the body, then a TCP RST (``SO_LINGER`` 0) |
| ``stall``        | ``stall_seconds`` of silence with the connection open: nothing at all (``silent``), the headers only (``headers``) or the headers and part of the body (``partial``); then the connection is closed. ``stall_mode="trickle"`` instead sends the whole response (headers too) one byte per ``trickle_interval`` for up to ``stall_seconds`` (faster than 1 byte/s: only a whole-request deadline ends it) |
| ``truncate``     | fewer body bytes than the upstream sent, then close: ``keep_length`` promises the full ``Content-Length``; ``short_length`` sends a ``Content-Length`` that matches the cut body (``Content-Range``, if any, unchanged) |
| ``bad_range``    | (``Range`` requests) ``206`` for the asked range shifted by one byte, with the ``Content-Range`` of those bytes |
| ``ignore_range`` | (``Range`` requests) ``200`` with the whole body |
| ``flip``         | one byte of the body XORed with a non-zero mask, length kept (a ``Content-Encoding: gzip`` body is flipped as sent, compressed) |

A kind that does not apply to a request (``flip`` of an empty body, ``bad_range``
without ``Range``) injects nothing, but the RNG draws the same numbers, so a seed
gives one fault sequence per request order. Faults apply only to requests whose
method is in ``methods`` (GET and HEAD), whose path matches ``path_regex`` and not
``exclude_regex``, and after the first ``skip_first`` such requests.

``counts`` holds the injected faults per kind (``"truncate/short_length"`` etc. per
variant too), ``events`` the last few thousand faults (request number, method, path,
``Range``, kind, detail) for reproducing a failure, ``requests`` the requests seen.
``configure(...)`` changes the faults at any time (tests reconfigure per test);
``reset_counts()`` zeroes the counters.

In a test::

    with FaultProxy(nginx.url) as proxy:
        proxy.configure(kind="reset", rate=0.1, seed=3, exclude_regex=r"/$|/info$")
        ... mount f"{proxy.url}/..." ...
        print(proxy.counts)

As a child process (``python fault_proxy.py --upstream URL [--port P] [--kind K
--rate R --seed S ...]``) it prints ``LISTENING <url>`` and serves until killed; it is
then reconfigured with ``POST /__fault_proxy__/configure`` (a JSON object of
``configure``'s arguments) and reports with ``GET /__fault_proxy__/counts``. Those
two paths are never forwarded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("status", "reset", "stall", "truncate", "bad_range", "ignore_range", "flip")
STALL_MODES = ("silent", "headers", "partial")  # "mixed" draws one of these; "trickle" only when asked
TRUNCATE_VARIANTS = ("keep_length", "short_length")
CONTROL = "/__fault_proxy__/"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class FaultConfig:
    """What to inject; see ``FaultProxy.configure``."""

    def __init__(self, rates: dict | None = None, seed: int = 0, path_regex: str | None = None,
                 exclude_regex: str | None = None, methods=("GET", "HEAD"), skip_first: int = 0,
                 stall_seconds: float = 30.0, stall_mode: str = "mixed", statuses=(500, 503, 429),
                 truncate_variant: str = "mixed", trickle_interval: float = 0.5):
        rates = dict(rates or {})
        for k, r in rates.items():
            if k not in KINDS:
                raise ValueError(f"unknown fault kind {k!r} (one of {KINDS})")
            if not 0.0 <= float(r) <= 1.0:
                raise ValueError(f"rate of {k} must be in [0, 1], not {r}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"rates add up to more than 1: {rates}")
        if stall_mode not in (*STALL_MODES, "mixed", "trickle"):
            raise ValueError(f"stall_mode {stall_mode!r}")
        if truncate_variant not in (*TRUNCATE_VARIANTS, "mixed"):
            raise ValueError(f"truncate_variant {truncate_variant!r}")
        self.rates = {k: float(rates.get(k, 0.0)) for k in KINDS}
        self.seed = seed
        self.path_regex = re.compile(path_regex) if path_regex else None
        self.exclude_regex = re.compile(exclude_regex) if exclude_regex else None
        self.methods = {m.upper() for m in methods}
        self.skip_first = int(skip_first)
        self.stall_seconds = float(stall_seconds)
        self.stall_mode = stall_mode
        self.statuses = tuple(statuses)
        self.truncate_variant = truncate_variant
        self.trickle_interval = float(trickle_interval)

    def eligible(self, method: str, path: str) -> bool:
        if method.upper() not in self.methods:
            return False
        if self.path_regex and not self.path_regex.search(path):
            return False
        if self.exclude_regex and self.exclude_regex.search(path):
            return False
        return True


class _Decision:
    """The fault for one request, and the random numbers its injection uses."""

    def __init__(self, n: int, kind: str | None, u1: float, u2: float, u3: float):
        self.n = n
        self.kind = kind
        self.u1, self.u2, self.u3 = u1, u2, u3


class FaultProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = f"http://{u.hostname}:{u.port or 80}"
        self.up_host, self.up_port = u.hostname, u.port or 80
        self.host, self._want_port = host, port
        self.port: int | None = None
        self._lock = threading.Lock()
        self._cfg = FaultConfig()
        self._rng = random.Random(0)
        self._eligible_seen = 0
        self.requests = 0
        self.counts: Counter = Counter()
        self.events: deque = deque(maxlen=5000)
        self.bytes_forwarded = 0
        self.upstream_errors = 0
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set = set()

    # ------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def configure(self, kind: str | None = None, rate: float = 0.0, *, rates: dict | None = None,
                  seed: int = 0, **kw) -> "FaultProxy":
        """Replace the fault configuration. ``kind``/``rate`` is short for ``rates={kind: rate}``;
        ``rates`` gives several kinds at once (probabilities add up, at most 1). Other keywords:
        ``path_regex``, ``exclude_regex``, ``methods``, ``skip_first``, ``stall_seconds``,
        ``stall_mode`` (``silent``/``headers``/``partial``/``mixed``), ``statuses``,
        ``truncate_variant`` (``keep_length``/``short_length``/``mixed``). The RNG is reseeded
        and ``skip_first`` counts from now."""
        r = dict(rates or {})
        if kind is not None:
            r[kind] = rate
        cfg = FaultConfig(r, seed=seed, **kw)
        with self._lock:
            self._cfg = cfg
            self._rng = random.Random(seed)
            self._eligible_seen = 0
        return self

    def off(self) -> "FaultProxy":
        return self.configure()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts = Counter()
            self.events.clear()
            self.requests = 0
            self.bytes_forwarded = 0
            self.upstream_errors = 0

    def snapshot(self) -> dict:
        with self._lock:
            return {"requests": self.requests, "faults": dict(self.counts), "bytes_forwarded": self.bytes_forwarded,
                    "upstream_errors": self.upstream_errors}

    def _decide(self, method: str, path: str) -> _Decision:
        with self._lock:
            self.requests += 1
            n = self.requests
            cfg = self._cfg
            if not cfg.eligible(method, path):
                return _Decision(n, None, 0, 0, 0)
            self._eligible_seen += 1
            if self._eligible_seen <= cfg.skip_first:
                return _Decision(n, None, 0, 0, 0)
            u, u1, u2, u3 = (self._rng.random() for _ in range(4))
            kind, acc = None, 0.0
            for k in KINDS:
                acc += cfg.rates[k]
                if u < acc:
                    kind = k
                    break
            return _Decision(n, kind, u1, u2, u3)

    def _record(self, d: _Decision, method: str, path: str, rng_hdr: str | None, kind: str, detail: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            if "/" in detail.split(" ")[0]:
                self.counts[detail.split(" ")[0]] += 1
            self.events.append({"n": d.n, "method": method, "path": path, "range": rng_hdr, "kind": kind,
                                "detail": detail, "t": time.time()})

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_forwarded += n

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "FaultProxy":
        proxy = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                # A client that gives up (curl after a stall, a reset) is normal here.
                if not isinstance(sys.exc_info()[1], OSError):
                    super().handle_error(request, client_address)

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self._stop.clear()
        self._server = Server((self.host, self._want_port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name=f"fault-proxy-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening, ends stalls and closes every client connection."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _UpstreamError(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy/1"
    proxy: FaultProxy  # set on the subclass made in start()
    timeout = 300  # an idle client connection is dropped after this long

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self._up: http.client.HTTPConnection | None = None
        with self.proxy._lock:
            self.proxy._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        with self.proxy._lock:
            self.proxy._conns.discard(self.connection)
        if self._up is not None:
            self._up.close()

    # every method goes through _handle
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    # ------------------------------------------------------------ upstream

    def _request_body(self) -> bytes | None:
        n = self.headers.get("Content-Length")
        if n:
            return self.rfile.read(int(n))
        return None

    def _forward(self, method: str, headers: dict, body: bytes | None):
        """(status, reason, [(name, value)], body) from the upstream; one retry on a stale
        keep-alive connection."""
        p = self.proxy
        for attempt in (1, 2):
            if self._up is None:
                self._up = http.client.HTTPConnection(p.up_host, p.up_port, timeout=60)
            try:
                self._up.request(method, self.path, body=body, headers=headers)
                resp = self._up.getresponse()
                data = resp.read()
                hdrs = resp.getheaders()
                if resp.will_close:
                    self._up.close()
                    self._up = None
                return resp.status, resp.reason, hdrs, data
            except (OSError, http.client.HTTPException) as e:
                self._up.close()
                self._up = None
                if attempt == 2:
                    raise _UpstreamError(str(e)) from e
        raise AssertionError("unreachable")

    def _upstream_headers(self, drop=()) -> dict:
        out = {}
        drop = {d.lower() for d in drop}
        for k, v in self.headers.items():
            kl = k.lower()
            if kl in HOP_BY_HOP or kl in drop or kl == "host":
                continue
            out[k] = v
        out["Host"] = f"{self.proxy.up_host}:{self.proxy.up_port}"
        return out

    def _rewrite(self, name: str, value: str) -> str:
        if name.lower() in ("location", "content-location") and value.startswith(self.proxy.upstream):
            return self.proxy.url + value[len(self.proxy.upstream):]
        return value

    # ------------------------------------------------------------ sending

    def _head_bytes(self, status: int, reason: str, headers: list, length: int | None, close: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason}"]
        for k, v in headers:
            kl = k.lower()
            if kl in HOP_BY_HOP or kl == "content-length":
                continue
            lines.append(f"{k}: {self._rewrite(k, v)}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.proxy._add_bytes(len(data))

    def _reset(self) -> None:
        """Close the client connection with a TCP RST."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    def _close(self) -> None:
        """Close the client connection (FIN)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _stall(self, seconds: float) -> None:
        self.proxy._stop.wait(seconds)

    # ------------------------------------------------------------ one request

    def _handle(self):
        p = self.proxy
        method = self.command
        path = self.path
        if path.startswith(CONTROL):
            return self._control(method, path)
        body = self._request_body()
        rng_hdr = self.headers.get("Range")
        d = p._decide(method, urllib.parse.urlsplit(path).path)
        kind = d.kind
        try:
            if kind == "status":
                code = p._cfg.statuses[int(d.u1 * len(p._cfg.statuses)) % len(p._cfg.statuses)]
                p._record(d, method, path, rng_hdr, "status", f"status/{code}")
                reason = {500: "Internal Server Error", 503: "Service Unavailable",
                          429: "Too Many Requests"}.get(code, "Error")
                self._send_raw(self._head_bytes(code, reason, [("Retry-After", "1")], 0, close=False))
                return
            if kind == "stall" and p._cfg.stall_mode in ("silent", "mixed"):
                mode = p._cfg.stall_mode if p._cfg.stall_mode != "mixed" else STALL_MODES[int(d.u1 * 3) % 3]
                if mode == "silent":
                    p._record(d, method, path, rng_hdr, "stall", f"stall/silent {p._cfg.stall_seconds}s")
                    self._stall(p._cfg.stall_seconds)
                    self._close()
                    return
            m = _RANGE.match(rng_hdr or "")
            if kind == "bad_range" and m:
                a = int(m.group(1))
                b = int(m.group(2)) if m.group(2) else None
                shift = -1 if a > 0 else 1
                shifted = f"bytes={a + shift}-{'' if b is None else b + shift}"
                hdrs = self._upstream_headers()
                hdrs["Range"] = shifted
                status, reason, rh, data = self._forward(method, hdrs, body)
                cr = dict((k.lower(), v) for k, v in rh).get("content-range", "")
                p._record(d, method, path, rng_hdr, "bad_range", f"bad_range asked {rng_hdr} sent {status} {cr}")
                self._send_raw(self._head_bytes(status, reason, rh, len(data), close=False) + data)
                return
            if kind == "ignore_range" and m:
                status, reason, rh, data = self._forward(method, self._upstream_headers(drop=("range", "if-range")),
                                                         body)
                rh = [(k, v) for k, v in rh if k.lower() != "content-range"]
                p._record(d, method, path, rng_hdr, "ignore_range", f"ignore_range {status} {len(data)} bytes")
                self._send_raw(self._head_bytes(status, reason, rh, len(data), close=False) + data)
                return

            status, reason, rh, data = self._forward(method, self._upstream_headers(), body)
            head_only = method == "HEAD"
            n = len(data)

            if kind == "reset":
                if n:
                    cut = int(d.u2 * (n // 2 + 1))
                    p._record(d, method, path, rng_hdr, "reset", f"reset after {cut} of {n} body bytes")
                    self._send_raw(self._head_bytes(status, reason, rh, n, close=False) + data[:cut])
                else:
                    head = self._head_bytes(status, reason, rh, _length(rh) if head_only else 0, close=False)
                    cut = int(d.u2 * len(head) // 2)
                    p._record(d, method, path, rng_hdr, "reset", f"reset after {cut} of {len(head)} header bytes")
                    self._send_raw(head[:cut])
                self._reset()
                return
            if kind == "stall":
                mode = p._cfg.stall_mode if p._cfg.stall_mode != "mixed" else STALL_MODES[int(d.u1 * 3) % 3]
                if mode == "partial" and n < 2:
                    mode = "headers"
                length = _length(rh) if head_only else n
                if head_only and mode != "trickle":  # HEAD: no body to stall in; the headers are all there is
                    mode = "silent"
                p._record(d, method, path, rng_hdr, "stall", f"stall/{mode} {p._cfg.stall_seconds}s")
                if p._cfg.stall_mode == "trickle":  # the whole response, headers too, byte by byte
                    payload = self._head_bytes(status, reason, rh, length, close=False) + (b"" if head_only else data)
                    deadline = time.monotonic() + p._cfg.stall_seconds
                    for i in range(len(payload)):
                        self._send_raw(payload[i:i + 1])
                        if time.monotonic() >= deadline or p._stop.wait(p._cfg.trickle_interval):
                            break
                    self._close()
                    return
                if mode == "headers":
                    self._send_raw(self._head_bytes(status, reason, rh, length, close=False))
                elif mode == "partial":
                    self._send_raw(self._head_bytes(status, reason, rh, length, close=False) + data[:n // 2])
                self._stall(p._cfg.stall_seconds)
                self._close()
                return
            if kind == "truncate" and n >= 1 and not head_only:
                cut = int(d.u2 * n)  # 0 .. n-1
                v = p._cfg.truncate_variant
                variant = v if v != "mixed" else TRUNCATE_VARIANTS[int(d.u1 * 2) % 2]
                p._record(d, method, path, rng_hdr, "truncate", f"truncate/{variant} {cut} of {n} bytes")
                if variant == "keep_length":
                    self._send_raw(self._head_bytes(status, reason, rh, n, close=True) + data[:cut])
                else:
                    self._send_raw(self._head_bytes(status, reason, rh, cut, close=True) + data[:cut])
                self._close()
                return
            if kind == "flip" and n >= 1 and not head_only:
                pos = int(d.u2 * n)
                mask = 1 + int(d.u3 * 255)
                data = bytearray(data)
                old = data[pos]
                data[pos] ^= mask
                enc = dict((k.lower(), v) for k, v in rh).get("content-encoding", "identity")
                p._record(d, method, path, rng_hdr, "flip",
                          f"flip byte {pos} of {n} ({old:#04x} -> {data[pos]:#04x}, {enc})")
                data = bytes(data)
            if head_only:  # the upstream's Content-Length (of the body a GET would get) stays
                self._send_raw(self._head_bytes(status, reason, rh, _length(rh), close=False))
            else:
                self._send_raw(self._head_bytes(status, reason, rh, n, close=False) + data)
        except _UpstreamError as e:
            with p._lock:
                p.upstream_errors += 1
            msg = f"upstream {p.upstream}: {e}\n".encode()
            try:
                self._send_raw(self._head_bytes(502, "Bad Gateway", [("Content-Type", "text/plain")], len(msg),
                                                close=True) + msg)
            except OSError:
                pass
            self._close()
        except OSError:
            self.close_connection = True

    def _control(self, method: str, path: str):
        p = self.proxy
        body = self._request_body() or b""
        try:
            if method == "POST" and path.startswith(CONTROL + "configure"):
                p.configure(**json.loads(body or b"{}"))
                out, code = {"ok": True}, 200
            elif method == "POST" and path.startswith(CONTROL + "reset"):
                p.reset_counts()
                out, code = {"ok": True}, 200
            elif path.startswith(CONTROL + "counts"):
                out, code = p.snapshot(), 200
            elif path.startswith(CONTROL + "events"):
                out, code = list(p.events), 200
            else:
                out, code = {"error": "unknown control path"}, 404
        except (TypeError, ValueError) as e:
            out, code = {"error": str(e)}, 400
        data = json.dumps(out).encode()
        self._send_raw(self._head_bytes(code, "OK" if code == 200 else "Error",
                                        [("Content-Type", "application/json")], len(data), close=False) + data)


def _length(headers: list) -> int | None:
    for k, v in headers:
        if k.lower() == "content-length":
            return int(v)
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kind", action="append", default=[], help="KIND=RATE, repeatable")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exclude-regex")
    ap.add_argument("--path-regex")
    ap.add_argument("--skip-first", type=int, default=0)
    ap.add_argument("--stall-seconds", type=float, default=30.0)
    a = ap.parse_args(argv)
    rates = {}
    for kr in a.kind:
        k, _, r = kr.partition("=")
        rates[k] = float(r or 0.1)
    proxy = FaultProxy(a.upstream, port=a.port).start()
    proxy.configure(rates=rates, seed=a.seed, exclude_regex=a.exclude_regex, path_regex=a.path_regex,
                    skip_first=a.skip_first, stall_seconds=a.stall_seconds)
    print("LISTENING", proxy.url, flush=True)
    from launcher import run_until_interrupted  # beside this file when run as a script

    return run_until_interrupted(proxy.stop)


if __name__ == "__main__":
    sys.exit(main())
