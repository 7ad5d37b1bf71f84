"""gcp-storage-emulator (PyPI) on 127.0.0.1, brought closer to the real GCS contract.

Run as a script (tree_servers.GcsServer does)::

    python gcs_emulator.py --port P --bucket B [--load NAME_PREFIX=DIR ...] [--page-size N] [--raw]

``--load`` puts every file under DIR into bucket B as object NAME_PREFIX + relative
path, in process, before the port opens (HTTP uploads would be slow: the emulator
rewrites its whole metadata JSON on every insert, and its media upload of an empty
body fails). ``--bucket`` may be repeated; each ``--load`` goes to the bucket named
before it. The script prints ``READY <port>`` once it answers.

What the unpatched emulator (2026.7.19) does, found with curl:

* Object bytes are served at ``/BUCKET/OBJECT`` (raw slashes),
  ``/storage/v1/b/BUCKET/o/OBJECT?alt=media`` and
  ``/download/storage/v1/b/BUCKET/o/OBJECT?alt=media`` (OBJECT percent-encoded,
  ``%2F`` or raw ``/`` both work); ``/storage/v1/b/BUCKET/o/OBJECT`` without
  ``alt=media`` is the JSON object resource.
* ``Range: bytes=a-b`` / ``bytes=a-`` -> ``206`` with ``Content-Range: bytes a-b/size``;
  no ``ETag``, ``Last-Modified`` or ``x-goog-generation`` headers on any download;
  ``x-goog-hash: crc32c=..,md5=..`` only on un-ranged ``200``s. ``If-Range``,
  ``If-Match`` and ``?generation=`` are ignored. A range past the end answers
  ``206`` with an empty body and a bogus ``Content-Range: bytes 100-21/22``.
  ``HEAD`` answers ``501``. HTTP/1.0, one request per connection, one thread.
* Listing ``GET /storage/v1/b/BUCKET/o?prefix=P&delimiter=/`` ->
  ``{"kind": "storage#objects", "prefixes": [...], "items": [...]}`` with both keys
  always present, names sorted; ``items[]`` carry ``name``, ``size`` (a decimal
  string), ``generation`` (string, ns timestamp), ``metageneration``, ``updated`` /
  ``timeCreated`` (RFC 3339 with microseconds), ``etag`` and ``md5Hash`` (base64 MD5),
  ``crc32c``, ``mediaLink``. ``maxResults`` and ``pageToken`` are ignored: everything
  comes in one page and there is never a ``nextPageToken``.

What this script changes, all towards the documented GCS behaviour (``--raw``
turns every patch off except the in-process loading and threading):

* Paging: ``maxResults`` (default and cap ``--page-size``, 1000 like GCS) bounds the
  number of ``items`` plus ``prefixes`` in one page; ``nextPageToken`` (opaque) is
  present iff more follow and ``pageToken`` resumes after it. Empty ``items`` /
  ``prefixes`` are left out, as GCS does. An unknown bucket answers ``404`` with a
  JSON error body.
* ``updated`` / ``timeCreated`` have millisecond precision (``...T12:34:56.789Z``).
* Downloads on all three routes get ``Last-Modified``, ``x-goog-generation``,
  ``x-goog-metageneration``, ``x-goog-stored-content-length``; the XML route
  ``/BUCKET/OBJECT`` also ``ETag: "<md5 hex>"`` (the JSON media routes send no
  ``ETag``, as before). ``?generation=N`` naming another generation answers
  ``404`` (what GCS does once an object was overwritten, without versioning); a
  range starting at or past the end answers ``416``; ``HEAD`` works (headers only).
* A threading HTTP server, so concurrent fetches do not queue behind each other.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import os
import sys
import time
from datetime import datetime, timezone
from email.utils import formatdate
from http import HTTPStatus, server as http_server

from gcp_storage_emulator import server as gserver
from gcp_storage_emulator import storage as gstorage
from gcp_storage_emulator.exceptions import BadRequest, NotFound
from gcp_storage_emulator.handlers import objects

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run by path, not as a module
from launcher import serve_until_interrupted  # noqa: E402

PAGE_SIZE = 1000


# ---------------------------------------------------------------- patches

def _ms(ts: str) -> str:
    """RFC 3339 with microseconds -> with milliseconds (as GCS writes it)."""
    if ts and "." in ts and ts.endswith("Z"):
        head, frac = ts[:-1].split(".", 1)
        return f"{head}.{(frac + '000')[:3]}Z"
    return ts


def _error(response, status: HTTPStatus, message: str) -> None:
    response.status = status
    response.json({"error": {"code": status.value, "message": message,
                             "errors": [{"message": message, "reason": status.phrase}]}})


def paged_ls(request, response, storage, *args, **kwargs):
    q = request.query
    bucket = request.params["bucket_name"]
    prefix = q["prefix"][0] if q.get("prefix") else None
    delimiter = q["delimiter"][0] if q.get("delimiter") else None
    match_glob = q["matchGlob"][0] if q.get("matchGlob") else None
    try:
        max_results = int(q["maxResults"][0]) if q.get("maxResults") else PAGE_SIZE
    except ValueError:
        return _error(response, HTTPStatus.BAD_REQUEST, "Invalid value for maxResults")
    if max_results <= 0:
        return _error(response, HTTPStatus.BAD_REQUEST, "Invalid value for maxResults")
    max_results = min(max_results, PAGE_SIZE)
    try:
        files, prefixes = storage.get_file_list(bucket, prefix, delimiter, match_glob)
    except NotFound:
        return _error(response, HTTPStatus.NOT_FOUND, "The specified bucket does not exist.")
    except BadRequest as e:
        return _error(response, HTTPStatus.BAD_REQUEST, str(e))
    entries = sorted([(o["name"], 0, o) for o in files] + [(p, 1, p) for p in prefixes],
                     key=lambda e: e[0])
    names = [e[0] for e in entries]
    start = 0
    if q.get("pageToken"):
        try:
            after = base64.urlsafe_b64decode(q["pageToken"][0].encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _error(response, HTTPStatus.BAD_REQUEST, "Invalid pageToken")
        start = bisect.bisect_right(names, after)
    page = entries[start:start + max_results]
    body: dict = {"kind": "storage#objects"}
    prefs = [e[2] for e in page if e[1] == 1]
    items = [e[2] for e in page if e[1] == 0]
    if prefs:
        body["prefixes"] = prefs
    if items:
        body["items"] = items
    if start + max_results < len(entries):
        body["nextPageToken"] = base64.urlsafe_b64encode(page[-1][0].encode()).decode()
    response.json(body)


_orig_download = objects.download


def media_download(request, response, storage, *args, **kwargs):
    """Object bytes on every route (``/BUCKET/OBJECT``, ``/download/storage/v1/b/B/o/O``,
    ``/storage/v1/b/B/o/O?alt=media``) with the GCS checks and headers."""
    bucket, name = request.params["bucket_name"], request.params["object_id"]
    try:
        obj = storage.get_file_obj(bucket, name)
    except NotFound:
        response.status = HTTPStatus.NOT_FOUND
        return
    gen = request.query.get("generation")
    if gen and gen[0] != obj["generation"]:  # that generation is gone (no versioning)
        return _error(response, HTTPStatus.NOT_FOUND, "No such object: " + f"{bucket}/{name}#{gen[0]}")
    size = int(obj["size"])
    rng = request.get_header("range", None)
    if rng:
        rng = rng.strip()
        if rng.startswith("bytes=") and "," not in rng:
            first = rng[6:].split("-", 1)[0].strip()
            if first.isdigit() and int(first) >= size:
                response.status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
                response["Content-Range"] = f"bytes */{size}"
                response.write_file(b"", content_type="application/xml")
                return
    _orig_download(request, response, storage, *args, **kwargs)
    if response.status in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
        updated = datetime.strptime(obj["updated"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        response["Last-Modified"] = formatdate(updated.timestamp(), usegmt=True)
        response["x-goog-generation"] = obj["generation"]
        response["x-goog-metageneration"] = obj["metageneration"]
        response["x-goog-stored-content-length"] = str(size)
        response["x-goog-stored-content-encoding"] = "identity"
        response["Accept-Ranges"] = "bytes"
        if request.path.startswith(f"/{bucket}/"):  # the XML API's ETag: the MD5 in hex
            md5_hex = binascii.hexlify(base64.b64decode(obj["md5Hash"])).decode()
            response["ETag"] = f'"{md5_hex}"'


def _close_with_head(self):
    handler = self._handler
    handler.send_response(self.status.value, self.status.phrase)
    for k, v in self._headers.items():
        handler.send_header(k, v)
    content = self._content.encode("utf-8") if isinstance(self._content, str) else self._content
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(content)


def _do_head(self):
    gserver.Router(self).handle(gserver.GET)


def apply_patches(raw: bool) -> None:
    # in memory the metadata file is useless; rewriting it on each insert is O(n^2)
    gstorage.Storage._write_config_to_file = lambda self: None

    class ThreadingServer(http_server.ThreadingHTTPServer):
        daemon_threads = True

    gserver.server.HTTPServer = ThreadingServer  # APIThread looks it up at run time
    if raw:
        return
    new_handlers = []
    for regex, handlers in gserver.HANDLERS:
        handlers = dict(handlers)
        if handlers.get(gserver.GET) is objects.ls:
            handlers[gserver.GET] = paged_ls
        if handlers.get(gserver.GET) is objects.download:
            handlers[gserver.GET] = media_download
        new_handlers.append((regex, handlers))
    gserver.HANDLERS = tuple(new_handlers)
    objects.download = media_download  # objects.get (``?alt=media``) calls it by name
    gserver.Response.close = _close_with_head
    gserver.RequestHandler.do_HEAD = _do_head


# ---------------------------------------------------------------- loading

def load_tree(storage, base_url: str, bucket: str, name_prefix: str, root: str) -> int:
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            name = name_prefix + rel
            with open(path, "rb") as f:
                content = f.read()
            obj = objects._make_object_resource(base_url, bucket, name, "application/octet-stream",
                                                str(len(content)))
            obj = objects._checksums(content, obj)
            for k in ("updated", "timeCreated", "timeStorageClassUpdated"):
                obj[k] = _ms(obj[k])
            storage.create_file(bucket, name, content, obj)
            n += 1
    return n


def main(argv=None) -> int:
    global PAGE_SIZE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--load", action="append", default=[], metavar="NAME_PREFIX=DIR")
    ap.add_argument("--page-size", type=int, default=PAGE_SIZE)
    ap.add_argument("--raw", action="store_true", help="no GCS-contract patches")
    # keep the order of --bucket / --load: each --load goes to the bucket named before it
    order = []
    args_list = list(sys.argv[1:] if argv is None else argv)
    current = None
    i = 0
    while i < len(args_list):
        if args_list[i] == "--bucket":
            current = args_list[i + 1]
        elif args_list[i] == "--load":
            order.append((current, args_list[i + 1]))
        i += 1
    args = ap.parse_args(args_list)
    PAGE_SIZE = args.page_size
    apply_patches(args.raw)

    srv = gserver.create_server(args.host, args.port, in_memory=True)
    storage = srv._storage
    for b in args.bucket:
        gserver.buckets.create_bucket(b, storage)
    base_url = f"http://{args.host}:{args.port}"
    t0 = time.monotonic()
    total = 0
    for bucket, spec in order:
        if bucket is None:
            ap.error("--load before any --bucket")
        name_prefix, _, root = spec.partition("=")
        total += load_tree(storage, base_url, bucket, name_prefix, root)
    return serve_until_interrupted(srv, args.port, total, t0)


if __name__ == "__main__":
    sys.exit(main())
