#!/usr/bin/env python3
"""moto's S3 server on 127.0.0.1 with one big flat "directory" for bench/run's ls workload.

    python moto_bucket.py --port P --bucket B --prefix dir/ --count 100000 [--stock]

Puts COUNT empty objects ``PREFIX + "f%06d.txt"`` into bucket B straight into moto's
backend (in process: 100,000 take about 3.5 s; over HTTP with boto3 they would take
minutes), grants anonymous ``s3:ListBucket`` / ``s3:GetObject`` with the tests' policy
(Tests/integration/moto_s3.py), then serves moto's own threaded server and prints
``READY <port> (...)`` (Tests/integration/launcher.py).

**The listing memo.** Stock moto 5.2 answers each ListObjectsV2 / ListObjects page by
walking, filtering and sorting every key of the bucket, so a page of 1,000 keys costs
about 0.35 s at 100,000 keys on top of about 0.17 s to render the page: listing the
directory once takes about 50 s, for any client. Unless ``--stock`` is given, the sorted
(keys, common prefixes) of a (bucket, prefix, delimiter) is computed once and reused
while the bucket's key count is unchanged; pages, tokens and bytes on the wire are
exactly stock moto's. Rendering (moto's generic serializer) stays as it is.

``list_all()`` is the raw client the benchmark measures the server with.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "integration"))

KEY_FORMAT = "f{:06d}.txt"


def list_all(endpoint: str, bucket: str, prefix: str, timeout: float = 120) -> tuple:
    """The raw listing: every ListObjectsV2 page of ``prefix`` (delimiter '/'), one plain GET each,
    with the query voxfs sends, counting ``<Key>`` elements and following
    ``NextContinuationToken`` with a regex (no XML parse); (keys, pages)."""
    url = urlsplit(endpoint)
    base = f"/{bucket}/?list-type=2&delimiter=/&encoding-type=url&prefix={quote(prefix)}"
    keys = pages = 0
    token = None
    while True:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
        try:
            conn.request("GET", base + (f"&continuation-token={quote(token, safe='')}" if token else ""))
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if r.status != 200:
            raise RuntimeError(f"ListObjectsV2 page {pages + 1}: HTTP {r.status}: {body[:200]!r}")
        pages += 1
        keys += body.count(b"<Key>")
        m = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if not m:
            return keys, pages
        token = m.group(1).decode()


def memoize_listing(backend_cls) -> None:
    """Patches ``S3Backend.list_objects`` as the module docstring says."""
    stock = backend_cls.list_objects
    memo: dict = {}

    def list_objects(self, bucket, prefix, delimiter, marker, max_keys):
        key = (bucket.name, prefix, delimiter, len(bucket.keys))
        if key not in memo:
            memo.clear()
            memo[key] = stock(self, bucket, prefix, delimiter, marker=None, max_keys=None)[:2]
        keys, folders = memo[key]
        if marker:  # what the stock method does after its scan
            keys = self._get_results_from_token(keys, self._pagination_tokens.get(marker) or marker)
        if max_keys is None:
            return list(keys), list(folders), False, None
        keys, truncated, next_marker = self._truncate_result(keys, max_keys)
        return keys, list(folders), truncated, next_marker

    backend_cls.list_objects = list_objects


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", default="dir/")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--stock", action="store_true", help="no listing memo: stock moto's per-page scan")
    args = ap.parse_args(argv)

    from launcher import serve_until_interrupted
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.s3.models import S3Backend, s3_backends
    from moto_s3 import POLICY

    t0 = time.monotonic()
    if not args.stock:
        memoize_listing(S3Backend)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(args.bucket, "us-east-1")
    backend.put_bucket_policy(args.bucket, json.dumps(POLICY).replace("{b}", args.bucket).encode())
    for i in range(args.count):
        backend.put_object(args.bucket, args.prefix + KEY_FORMAT.format(i), b"")
    srv = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    return serve_until_interrupted(srv, args.port, args.count, t0)


if __name__ == "__main__":
    sys.exit(main())
