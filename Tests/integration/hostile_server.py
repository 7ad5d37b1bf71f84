"""A small HTTP server on loopback that answers listings in bad faith.

One server speaks every listing format voxfs reads, each under its own path:

| format | mount source | listing request |
| --- | --- | --- |
| nginx HTML autoindex | ``http://127.0.0.1:P/html/`` | ``GET /html/<dir>/`` |
| nginx JSON autoindex | ``http://127.0.0.1:P/json/`` | ``GET /json/<dir>/`` |
| WebDAV | ``webdav+http://127.0.0.1:P/dav/`` | ``PROPFIND /dav/<dir>/`` |
| S3 ListObjectsV2 | ``s3://hostile/pre/`` (``AWS_ENDPOINT_URL_S3``) | ``GET /hostile?list-type=2&prefix=pre/<dir>/`` |
| GCS objects.list | ``gs://hostile/pre/`` (``STORAGE_EMULATOR_HOST``) | ``GET /storage/v1/b/hostile/o?prefix=pre/<dir>/`` |

Every mount root holds the same directories (``DIRS``):

* ``good/``       ``fine.bin`` (``FINE`` bytes, readable with ranges) and ``ok-dir/``
                  (empty), plus every bad entry the format can express: ``.``, ``..``
                  (also percent-encoded), a name with ``/`` (``a/b``, ``../escape.bin``),
                  a NUL (``%00`` in a URL or href, ``\\u0000`` in JSON, in S3 only with
                  ``encoding-type=url``: XML 1.0 cannot carry NUL), a 300-byte name,
                  and for S3/GCS the directory's own marker object (``pre/good/``), keys
                  outside the prefix and keys with ``/`` sent as files. Only
                  ``fine.bin`` and ``ok-dir`` may show.
* ``malformed/``  a body that does not parse (cut XML / JSON), ``200`` (not HTML,
                  whose parsers are lenient by design).
* ``truncated/``  a ``Content-Length`` larger than the body sent, then the
                  connection closes (HTML and JSON).
* ``redirect/``   ``302`` to the same path on another host, ``127.0.0.2`` (a second
                  listener of this server, serving a valid listing with
                  ``followed.bin``: a client that follows shows it).
* ``loop/``       (S3, GCS) every page says "more" with the same continuation token.

Everything except ``good`` must make ``ls`` fail with ``EIO``. ``requests`` records
(host, method, path) of every request; ``other_host_requests()`` lists those that
reached 127.0.0.2.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

from nginx_server import free_port

FORMATS = ("html", "json", "dav", "s3", "gcs")
BUCKET = "hostile"
PREFIX = "pre/"
FINE = bytes((i * 37 + 11) & 0xFF for i in range(200_003))
LONG = "L" * 300
MTIME = 1_700_000_000
ETAG = '"' + hashlib.md5(FINE).hexdigest() + '"'  # GET's ETag = the S3 listing's = the DAV getetag
MD5_B64 = base64.b64encode(hashlib.md5(FINE).digest()).decode()

DIRS = {
    "html": ["good", "truncated", "redirect"],  # HTML has no "malformed": parsers are lenient
    "json": ["good", "malformed", "truncated", "redirect"],
    "dav": ["good", "malformed", "redirect"],
    "s3": ["good", "malformed", "redirect", "loop"],
    "gcs": ["good", "malformed", "redirect", "loop"],
}
GOOD = {"fine.bin": len(FINE), "ok-dir": None}


# ---------------------------------------------------------------- renderers
# entries: list of (name_or_raw, kind) with kind "file" / "dir"; a raw href is
# passed as-is for hostile entries.

def _html(path: str, entries: list) -> bytes:
    """nginx's autoindex page: ``entries`` are (href, text, size or None)."""
    date = time.strftime("%d-%b-%Y %H:%M", time.gmtime(MTIME))
    lines = [f"<html>\r\n<head><title>Index of {html.escape(path)}</title></head>\r\n<body>\r\n"
             f"<h1>Index of {html.escape(path)}</h1><hr><pre><a href=\"../\">../</a>\r\n"]
    for href, text, size in entries:
        pad = " " * max(1, 51 - len(text))
        sz = "-" if size is None else str(size)
        lines.append(f'<a href="{href}">{html.escape(text)}</a>{pad}{date} {sz:>19}\r\n')
    lines.append("</pre><hr></body>\r\n</html>\r\n")
    return "".join(lines).encode()


def _json(entries: list) -> bytes:
    """nginx's ``autoindex_format json``: entries are dicts."""
    date = formatdate(MTIME, usegmt=True)
    out = []
    for e in entries:
        e = dict(e)
        e.setdefault("mtime", date)
        out.append(json.dumps(e, ensure_ascii=False))
    return ("[\n" + ",\n".join(out) + "\n]\n").encode()


def _dav(responses: list) -> bytes:
    """``responses``: (href, size or None for a collection)."""
    date = formatdate(MTIME, usegmt=True)
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">']
    for href, size in responses:
        if size is None:
            props = "<D:resourcetype><D:collection/></D:resourcetype>"
        else:
            props = (f"<D:resourcetype/><D:getcontentlength>{size}</D:getcontentlength>"
                     f"<D:getetag>{xml_escape(ETAG)}</D:getetag>")
        parts.append(f"<D:response><D:href>{xml_escape(href)}</D:href><D:propstat><D:prop>{props}"
                     f"<D:getlastmodified>{date}</D:getlastmodified></D:prop>"
                     f"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")
    parts.append("</D:multistatus>\n")
    return "".join(parts).encode()


def _s3(prefix: str, keys: list, prefixes: list, url_encode: bool, truncated: bool = False,
        token: str | None = None) -> bytes:
    def enc(k):
        return urllib.parse.quote(k, safe="/") if url_encode else xml_escape(k)

    date = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(MTIME))
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
             f"<Name>{BUCKET}</Name><Prefix>{enc(prefix)}</Prefix><Delimiter>/</Delimiter>"
             f"<MaxKeys>1000</MaxKeys><KeyCount>{len(keys) + len(prefixes)}</KeyCount>"
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
    if url_encode:
        parts.append("<EncodingType>url</EncodingType>")
    if token:
        parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
    for k, size in keys:
        parts.append(f"<Contents><Key>{enc(k)}</Key><LastModified>{date}</LastModified>"
                     f"<ETag>{xml_escape(ETAG)}</ETag><Size>{size}</Size>"
                     "<StorageClass>STANDARD</StorageClass></Contents>")
    for p in prefixes:
        parts.append(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>")
    parts.append("</ListBucketResult>\n")
    return "".join(parts).encode()


def _gcs(items: list, prefixes: list, token: str | None = None) -> bytes:
    date = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(MTIME))
    body: dict = {"kind": "storage#objects"}
    if prefixes:
        body["prefixes"] = prefixes
    if items:
        body["items"] = [{"kind": "storage#object", "name": n, "bucket": BUCKET, "size": str(s),
                          "generation": "1700000000000001", "metageneration": "1",
                          "updated": date, "timeCreated": date, "etag": "CIGAgICAgICAAhAB",
                          "md5Hash": MD5_B64} for n, s in items]
    if token:
        body["nextPageToken"] = token
    return json.dumps(body, ensure_ascii=False).encode()


# ---------------------------------------------------------------- listings per format

def listing(fmt: str, d: str | None, url_encode: bool = False, followed: bool = False) -> tuple:
    """(content type, body) of directory ``d`` (None: the mount root) in format ``fmt``."""
    if followed:  # what the other host answers: valid, with a tell-tale entry
        files, dirs = {"followed.bin": 3}, []
    elif d is None:
        files, dirs = {}, DIRS[fmt]
    elif d == "ok-dir" or d == "good/ok-dir":
        files, dirs = {}, []
    elif d == "good":
        files, dirs = {"fine.bin": len(FINE)}, ["ok-dir"]
    else:
        raise KeyError(d)
    hostile = d == "good" and not followed
    path = f"/{fmt}/" + (f"{d}/" if d else "")
    if fmt == "html":
        e = [(urllib.parse.quote(n) + "/", n + "/", None) for n in dirs]
        e += [(urllib.parse.quote(n), n, s) for n, s in files.items()]
        if hostile:
            e += [("./", "./", None), (".", ".", None), ("..", "..", None), ("%2e%2e/", "../", None),
                  ("%2E/", "./", None), ("a%2Fb", "a/b", 1), ("..%2Fescape.bin", "../escape.bin", 1),
                  ("../escape.bin", "escape.bin", 1), ("nul%00x.bin", "nul.bin", 1),
                  (LONG, LONG[:47] + "..>", 1), ("?C=N;O=D", "Name", None)]
        return "text/html", _html(path, e)
    if fmt == "json":
        e = [{"name": n, "type": "directory"} for n in dirs]
        e += [{"name": n, "type": "file", "size": s} for n, s in files.items()]
        if hostile:
            e += [{"name": ".", "type": "directory"}, {"name": "..", "type": "directory"},
                  {"name": "a/b", "type": "file", "size": 1}, {"name": "../escape.bin", "type": "file", "size": 1},
                  {"name": "nul\u0000x.bin", "type": "file", "size": 1}, {"name": LONG, "type": "file", "size": 1},
                  {"name": "", "type": "file", "size": 1}]
        return "application/json", _json(e)
    if fmt == "dav":
        r = [(path, None)]  # the collection itself comes first
        r += [(path + urllib.parse.quote(n) + "/", None) for n in dirs]
        r += [(path + urllib.parse.quote(n), s) for n, s in files.items()]
        if hostile:
            r += [(path + ".", 1), (path + "..", None), (path + "%2e%2e/", None), (path + "./", None),
                  (path + "a%2Fb", 1), (path + "..%2Fescape.bin", 1), (path + "../escape.bin", 1),
                  (path + "nul%00x.bin", 1), (path + LONG, 1)]
        return "application/xml; charset=utf-8", _dav(r)
    if fmt == "s3":
        pre = PREFIX + (f"{d}/" if d else "")
        keys = [(pre + n, s) for n, s in files.items()]
        prefixes = [pre + n + "/" for n in dirs]
        if hostile:
            keys += [(pre, 0), (pre + ".", 1), (pre + "..", 1), (pre + "a/b", 1), (pre + "../escape.bin", 1),
                     (pre + LONG, 1), ("other/evil.bin", 1), (PREFIX + "escape.bin", 1)]
            prefixes += [pre + "../", pre + "./", pre + "/", "other/"]
            if url_encode:
                keys.append((pre + "nul\u0000x.bin", 1))
        return "application/xml", _s3(pre, keys, prefixes, url_encode)
    if fmt == "gcs":
        pre = PREFIX + (f"{d}/" if d else "")
        items = [(pre + n, s) for n, s in files.items()]
        prefixes = [pre + n + "/" for n in dirs]
        if hostile:
            items += [(pre, 0), (pre + ".", 1), (pre + "..", 1), (pre + "a/b", 1), (pre + "../escape.bin", 1),
                      (pre + "nul\u0000x.bin", 1), (pre + LONG, 1), ("other/evil.bin", 1)]
            prefixes += [pre + "../", pre + "./", pre + "/", "other/"]
        return "application/json; charset=UTF-8", _gcs(items, prefixes)
    raise KeyError(fmt)


MALFORMED = {
    "json": b'[\n{ "name":"x.bin", "type":"file", "mtime":"Mon, 01 Jan 2024 00:00:00 GMT", "size":1 },\n{ "name":',
    "dav": (b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response>'
            b"<D:href>/dav/malformed/x.bin</D:href><D:propstat><D:prop><D:getcontentlength>1"),
    "s3": (b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/'
           b'2006-03-01/"><Name>hostile</Name><IsTruncated>false</IsTruncated><Contents><Key>pre/malformed/x.bin'
           b"</Key><Size>1</Size></Contents><Contents><Key>pre/malf"),
    "gcs": b'{"kind": "storage#objects", "items": [{"name": "pre/malformed/x.bin", "size": "1"}, {"name": "pre/ma',
}


# ---------------------------------------------------------------- the server

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def hs(self) -> "HostileServer":
        return self.server.hostile

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/octet-stream",
              headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _truncated(self, ctype: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) + 5000))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def _redirect(self) -> None:
        loc = f"http://127.0.0.2:{self.hs.other_port}{self.path}"
        self._send(302, b"", "text/html", {"Location": loc})

    def _file(self, data: bytes, head: bool) -> None:
        common = {"ETag": ETAG, "Last-Modified": formatdate(MTIME, usegmt=True), "Accept-Ranges": "bytes",
                  "x-goog-generation": "1700000000000001", "x-goog-metageneration": "1"}
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a, _, b = rng[6:].partition("-")
            try:
                if a == "":
                    start, end = max(0, len(data) - int(b)), len(data) - 1
                else:
                    start = int(a)
                    end = min(int(b), len(data) - 1) if b else len(data) - 1
            except ValueError:
                start, end = 0, -2
            if start >= len(data) or end < start:
                return self._send(416, b"", headers={"Content-Range": f"bytes */{len(data)}"}, head=head)
            return self._send(206, data[start:end + 1], headers={
                **common, "Content-Range": f"bytes {start}-{end}/{len(data)}"}, head=head)
        self._send(200, data, headers=common, head=head)

    # -- dispatch

    def _record(self) -> None:
        self.hs.record(self.server.server_address[0], self.command, self.path)

    def do_HEAD(self):
        self._record()
        self._dispatch(head=True)

    def do_GET(self):
        self._record()
        self._dispatch(head=False)

    def do_PROPFIND(self):
        self._record()
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self._dispatch(head=False, propfind=True)

    def _dispatch(self, head: bool, propfind: bool = False) -> None:
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        path = urllib.parse.unquote(u.path)
        followed = self.server.server_address[0] != "127.0.0.1"
        parts = path.strip("/").split("/")
        fmt = parts[0] if parts else ""
        try:
            # ----- object stores
            if fmt == BUCKET and "list-type" in q:  # S3 ListObjectsV2
                return self._store_listing("s3", q.get("prefix", [""])[0], q, followed)
            if path == f"/storage/v1/b/{BUCKET}/o":  # GCS objects.list
                return self._store_listing("gcs", q.get("prefix", [""])[0], q, followed)
            for pre in (f"/storage/v1/b/{BUCKET}/o/", f"/download/storage/v1/b/{BUCKET}/o/", f"/{BUCKET}/"):
                if path.startswith(pre):
                    name = path[len(pre):]
                    if name == PREFIX + "good/fine.bin":
                        return self._file(FINE, head)
                    return self._send(404, b"", head=head)
            # ----- html / json / dav
            if fmt in ("html", "json", "dav"):
                rest = "/".join(parts[1:])
                if propfind and fmt != "dav":
                    return self._send(405, b"", head=head)
                if rest == "good/fine.bin":
                    if propfind:
                        ct, body = "application/xml; charset=utf-8", _dav([(f"/dav/{rest}", len(FINE))])
                        return self._send(207, body, ct)
                    return self._file(FINE, head)
                if fmt == "dav" and not propfind:  # GET on a WebDAV collection
                    return self._send(405, b"", head=head)
                if path.endswith("/") or propfind:
                    d = rest.strip("/") or None
                    return self._dir_listing(fmt, d, head, followed)
                if rest in ("good", "good/ok-dir", "malformed", "truncated", "redirect") or rest in DIRS[fmt]:
                    loc = f"http://{self.headers.get('Host', '127.0.0.1')}{u.path}/"
                    return self._send(301, b"", "text/html", {"Location": loc}, head=head)
            return self._send(404, b"", head=head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _dir_listing(self, fmt: str, d: str | None, head: bool, followed: bool) -> None:
        status = 207 if fmt == "dav" else 200
        if followed:
            ct, body = listing(fmt, d, followed=True)
            return self._send(status, body, ct, head=head)
        if d == "redirect":
            return self._redirect()
        if d == "malformed":
            ct = {"html": "text/html", "json": "application/json", "dav": "application/xml; charset=utf-8"}[fmt]
            return self._send(status, MALFORMED[fmt], ct, head=head)
        if d == "truncated":
            ct, body = listing(fmt, "good")
            return self._truncated(ct, body)
        try:
            ct, body = listing(fmt, d)
        except KeyError:
            return self._send(404, b"", head=head)
        self._send(status, body, ct, head=head)

    def _store_listing(self, fmt: str, prefix: str, q: dict, followed: bool) -> None:
        url_encode = q.get("encoding-type", [""])[0] == "url"
        if not prefix.startswith(PREFIX):
            d = "?"
        else:
            d = prefix[len(PREFIX):].strip("/") or None
        if followed:
            ct, body = listing(fmt, d, url_encode=url_encode, followed=True)
            return self._send(200, body, ct)
        if d == "redirect":
            return self._redirect()
        if d == "malformed":
            return self._send(200, MALFORMED[fmt], "application/xml" if fmt == "s3" else "application/json")
        if d == "loop":
            if fmt == "s3":
                body = _s3(prefix, [(prefix + "x.bin", 1)], [], url_encode, truncated=True, token="again")
                return self._send(200, body, "application/xml")
            body = _gcs([(prefix + "x.bin", 1)], [], token="again")
            return self._send(200, body, "application/json; charset=UTF-8")
        try:
            ct, body = listing(fmt, d, url_encode=url_encode)
        except KeyError:
            ct, body = listing(fmt, "ok-dir", url_encode=url_encode)  # an empty prefix lists as empty
        self._send(200, body, ct)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HostileServer:
    """The hostile server on 127.0.0.1:port and its redirect target on 127.0.0.2."""

    def __init__(self):
        self.port: int | None = None
        self.other_port: int | None = None
        self._servers: list = []
        self._threads: list = []
        self._lock = threading.Lock()
        self.requests: list = []  # (host, method, path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, host: str, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((host, method, path))

    def other_host_requests(self) -> list:
        with self._lock:
            return [r for r in self.requests if r[0] != "127.0.0.1"]

    def start(self) -> "HostileServer":
        for host in ("127.0.0.1", "127.0.0.2"):
            srv = _Server((host, 0 if host == "127.0.0.2" else free_port()), _Handler)
            srv.hostile = self
            if host == "127.0.0.1":
                self.port = srv.server_address[1]
            else:
                self.other_port = srv.server_address[1]
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            self._servers.append(srv)
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def source(self, fmt: str) -> str:
        return {
            "html": f"{self.url}/html/",
            "json": f"{self.url}/json/",
            "dav": f"webdav+{self.url}/dav/",
            "s3": f"s3://{BUCKET}/{PREFIX}",
            "gcs": f"gs://{BUCKET}/{PREFIX}",
        }[fmt]

    @property
    def env(self) -> dict:
        return {"AWS_ENDPOINT_URL_S3": self.url, "STORAGE_EMULATOR_HOST": self.url}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
