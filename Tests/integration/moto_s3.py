"""moto's S3 server on 127.0.0.1 with public buckets filled in process.

Run as a script (tree_servers.S3Server does)::

    python moto_s3.py --port P --bucket B [--load KEY_PREFIX=DIR ...] [--bucket B2 ...]

Each ``--load`` puts every file under DIR into the bucket named before it, as key
KEY_PREFIX + relative path, straight into moto's backend before the port opens:
uploading 1100 objects with boto3 takes ~5 s (signing, checksums, a connection
per request), this takes a fraction of that. The served state is the same as
after ``put_object(..., ACL="public-read")`` on a bucket whose policy grants
``s3:GetObject`` / ``s3:ListBucket`` to ``*`` (anonymous GET needs the policy or
the ACL; anonymous HEAD needs the ACL). Prints ``READY <port>`` once it answers.

The server is moto's own (``ThreadedMotoServer``, werkzeug, threaded), the same
app as ``python -m moto.server``; buckets and objects can also be changed later
over HTTP with boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run by path, not as a module
from launcher import serve_until_interrupted  # noqa: E402

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::{b}", "arn:aws:s3:::{b}/*"],
    }],
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--load", action="append", default=[], metavar="KEY_PREFIX=DIR")
    args = ap.parse_args(argv)
    order, current = [], None
    for i, a in enumerate(argv):
        if a == "--bucket":
            current = argv[i + 1]
        elif a == "--load":
            if current is None:
                ap.error("--load before any --bucket")
            order.append((current, argv[i + 1]))

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.s3.models import get_canned_acl, s3_backends

    t0 = time.monotonic()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for b in args.bucket:
        backend.create_bucket(b, "us-east-1")
        backend.put_bucket_policy(b, json.dumps(POLICY).replace("{b}", b).encode())
    n = 0
    for bucket, spec in order:
        prefix, _, root = spec.partition("=")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                path = os.path.join(dirpath, fn)
                key = prefix + os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, "rb") as f:
                    backend.put_object(bucket, key, f.read())
                backend.put_object_acl(bucket, key, get_canned_acl("public-read"))
                n += 1
    srv = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    return serve_until_interrupted(srv, args.port, n, t0)


if __name__ == "__main__":
    sys.exit(main())
