"""The remote-file-tree servers behave as tree_servers.py / hostile_server.py say.

No voxfs needed: these check the test peers themselves (listing formats, paging,
ranges, validators), so a failure in test_file_trees.py points at voxfs.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import requests

import hostile_server as H
import tree_data as D
from tree_servers import FLAT_BUCKET, TREE_BUCKET, TREE_PREFIX

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
DAV = "{DAV:}"


def _children(tree, rel):
    return {n: s for n, s in tree.children(rel).items()}


# ---------------------------------------------------------------- nginx autoindex

def _nginx_html(body: str) -> dict:
    out = {}
    for href, rest in re.findall(r"<a href=\"([^\"]+)\">[^<]*</a>[ \t]*(.*)", body):
        if href == "../":
            continue
        size = rest.split()[-1]
        name = urllib.parse.unquote(href)
        out[name.rstrip("/")] = None if name.endswith("/") else int(size)
    return out


@pytest.mark.parametrize("rel", ["", "sub", "many"])
def test_nginx_autoindex_html_and_json(rel, nginx_server, tree_source):
    path = f"tree/{rel}/" if rel else "tree/"
    r = requests.get(f"{nginx_server.url}/idx/{path}", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert _nginx_html(r.text) == _children(tree_source, rel)
    j = requests.get(f"{nginx_server.url}/idx-json/{path}", timeout=10)
    assert j.headers["Content-Type"] == "application/json"
    got = {e["name"]: (e.get("size") if e["type"] == "file" else None) for e in j.json()}
    assert got == _children(tree_source, rel)


def test_nginx_range_and_validators(nginx_server, tree_source):
    url = f"{nginx_server.url}/idx-json/tree/rand.bin"
    want = (tree_source.root / "rand.bin").read_bytes()
    r = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert r.status_code == 206 and r.content == want[1000:2000]
    assert r.headers["Content-Range"] == f"bytes 1000-1999/{len(want)}"
    etag = r.headers["ETag"]
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10).status_code == 206
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'}, timeout=10).status_code == 200


# ---------------------------------------------------------------- WebDAV

def _propfind(url: str) -> dict:
    r = requests.request("PROPFIND", url, headers={"Depth": "1"}, timeout=10)
    assert r.status_code == 207, r.status_code
    out = {}
    base = urllib.parse.urlsplit(url).path
    for resp in ET.fromstring(r.content).iter(DAV + "response"):
        href = urllib.parse.unquote(resp.find(DAV + "href").text)
        if href == base:
            continue
        name = href[len(base):].rstrip("/")
        is_dir = resp.find(f".//{DAV}collection") is not None
        size = resp.find(f".//{DAV}getcontentlength")
        etag = resp.find(f".//{DAV}getetag")
        assert is_dir or (etag is not None and etag.text), f"{name}: no getetag"
        out[name] = None if is_dir else int(size.text)
    return out


@pytest.mark.parametrize("rel", ["", "sub/nested", "many"])
def test_webdav_propfind(rel, dav_server, tree_source):
    url = f"{dav_server.url}/dav/tree/" + (f"{rel}/" if rel else "")
    assert _propfind(url) == _children(tree_source, rel)


def test_webdav_range_if_range(dav_server, tree_source):
    name = urllib.parse.quote(D.SPECIAL_NAME)
    url = f"{dav_server.url}/dav/tree/sub/b.bin"
    want = (tree_source.root / "sub/b.bin").read_bytes()
    r = requests.get(url, headers={"Range": "bytes=5-104"}, timeout=10)
    assert r.status_code == 206 and r.content == want[5:105]
    assert r.headers["Content-Range"] == f"bytes 5-104/{len(want)}"
    etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
    assert etag.startswith('"') and etag.endswith('"')
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10).status_code == 206
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": lm}, timeout=10).status_code == 206
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'}, timeout=10).status_code == 200
    assert requests.get(f"{dav_server.url}/dav/tree/{name}", timeout=10).content == \
        (tree_source.root / D.SPECIAL_NAME).read_bytes()


# ---------------------------------------------------------------- S3 (moto), anonymous

def _s3_list(url: str, bucket: str, prefix: str) -> tuple:
    keys, prefixes, token, pages = {}, [], None, 0
    while True:
        q = {"list-type": "2", "prefix": prefix, "delimiter": "/"}
        if token:
            q["continuation-token"] = token
        r = requests.get(f"{url}/{bucket}", params=q, timeout=10)  # no Authorization: anonymous
        assert r.status_code == 200, r.text[:300]
        x = ET.fromstring(r.content)
        pages += 1
        for c in x.iter(S3NS + "Contents"):
            keys[c.find(S3NS + "Key").text[len(prefix):]] = int(c.find(S3NS + "Size").text)
        prefixes += [p.find(S3NS + "Prefix").text[len(prefix):].rstrip("/") for p in x.iter(S3NS + "CommonPrefixes")]
        if x.find(S3NS + "IsTruncated").text != "true":
            return keys, prefixes, pages
        token = x.find(S3NS + "NextContinuationToken").text


def test_s3_anonymous_listing_pages(s3_server, tree_source):
    keys, prefixes, pages = _s3_list(s3_server.url, TREE_BUCKET, TREE_PREFIX + "many/")
    assert pages == 2
    want = _children(tree_source, "many")
    assert keys == {k: v for k, v in want.items() if v is not None}
    assert sorted(prefixes) == sorted(k for k, v in want.items() if v is None)
    keys, prefixes, _ = _s3_list(s3_server.url, FLAT_BUCKET, "")
    assert keys == {"empty.bin": 0, "small.txt": 13} and prefixes == ["sub"]


def test_s3_anonymous_ranged_get(s3_server, tree_source):
    url = f"{s3_server.url}/{TREE_BUCKET}/{TREE_PREFIX}" + urllib.parse.quote(D.SPECIAL_NAME)
    assert requests.get(url, timeout=10).content == (tree_source.root / D.SPECIAL_NAME).read_bytes()
    url = f"{s3_server.url}/{TREE_BUCKET}/{TREE_PREFIX}rand.bin"
    want = (tree_source.root / "rand.bin").read_bytes()
    r = requests.get(url, headers={"Range": "bytes=65536-131071"}, timeout=10)
    assert r.status_code == 206 and r.content == want[65536:131072]
    assert r.headers["Content-Range"] == f"bytes 65536-131071/{len(want)}"
    assert r.headers["ETag"].startswith('"') and "Last-Modified" in r.headers
    assert requests.head(url, timeout=10).headers["Content-Length"] == str(len(want))
    assert requests.get(url, headers={"Range": f"bytes={len(want)}-"}, timeout=10).status_code == 416
    # moto ignores If-Range (a real S3 would answer 200 with the whole object)
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'}, timeout=10).status_code == 206
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Match": '"x"'}, timeout=10).status_code == 412


# ---------------------------------------------------------------- GCS emulator

def _gcs_list(url: str, bucket: str, prefix: str, max_results: int | None = None) -> tuple:
    items, prefixes, token, pages = {}, [], None, 0
    while True:
        q = {"prefix": prefix, "delimiter": "/"}
        if max_results:
            q["maxResults"] = str(max_results)
        if token:
            q["pageToken"] = token
        r = requests.get(f"{url}/storage/v1/b/{bucket}/o", params=q, timeout=10)
        assert r.status_code == 200, r.text[:300]
        j = r.json()
        pages += 1
        assert len(j.get("items", [])) + len(j.get("prefixes", [])) <= (max_results or 1000)
        for it in j.get("items", []):
            assert isinstance(it["size"], str) and it["generation"].isdigit() and it["updated"].endswith("Z")
            items[it["name"][len(prefix):]] = int(it["size"])
        prefixes += [p[len(prefix):].rstrip("/") for p in j.get("prefixes", [])]
        token = j.get("nextPageToken")
        if not token:
            return items, prefixes, pages


@pytest.mark.parametrize("max_results", [None, 7])
def test_gcs_listing_pages(max_results, gcs_server, tree_source):
    items, prefixes, pages = _gcs_list(gcs_server.url, TREE_BUCKET, TREE_PREFIX + "many/", max_results)
    want = _children(tree_source, "many")
    assert pages == (2 if max_results is None else -(-len(want) // 7))
    assert items == {k: v for k, v in want.items() if v is not None}
    assert sorted(prefixes) == sorted(k for k, v in want.items() if v is None)
    items, prefixes, _ = _gcs_list(gcs_server.url, FLAT_BUCKET, "")
    assert items == {"empty.bin": 0, "small.txt": 13} and prefixes == ["sub"]


def test_gcs_downloads(gcs_server, tree_source):
    want = (tree_source.root / "rand.bin").read_bytes()
    meta = requests.get(f"{gcs_server.url}/storage/v1/b/{TREE_BUCKET}/o/"
                        + urllib.parse.quote(TREE_PREFIX + "rand.bin", safe=""), timeout=10).json()
    for url in (f"{gcs_server.url}/{TREE_BUCKET}/{TREE_PREFIX}rand.bin",
                f"{gcs_server.url}/storage/v1/b/{TREE_BUCKET}/o/"
                + urllib.parse.quote(TREE_PREFIX + "rand.bin", safe="") + "?alt=media",
                f"{gcs_server.url}/download/storage/v1/b/{TREE_BUCKET}/o/"
                + urllib.parse.quote(TREE_PREFIX + "rand.bin", safe="") + "?alt=media"):
        r = requests.get(url, headers={"Range": "bytes=1048570-1048589"}, timeout=10)
        assert r.status_code == 206 and r.content == want[1048570:1048590], url
        assert r.headers["Content-Range"] == f"bytes 1048570-1048589/{len(want)}"
        assert r.headers["x-goog-generation"] == meta["generation"]
        sep = "&" if "?" in url else "?"
        assert requests.get(f"{url}{sep}generation={meta['generation']}", headers={"Range": "bytes=0-0"},
                            timeout=10).status_code == 206
        assert requests.get(f"{url}{sep}generation=1", timeout=10).status_code == 404
    url = f"{gcs_server.url}/{TREE_BUCKET}/{TREE_PREFIX}rand.bin"
    r = requests.get(url, headers={"Range": "bytes=0-0"}, timeout=10)
    assert r.headers["x-goog-generation"] == meta["generation"]
    assert r.headers["ETag"].startswith('"') and "Last-Modified" in r.headers
    assert requests.head(url, timeout=10).headers["Content-Length"] == str(len(want))
    assert requests.get(url, headers={"Range": f"bytes={len(want)}-"}, timeout=10).status_code == 416
    assert requests.get(url + "?generation=1", timeout=10).status_code == 404
    name = urllib.parse.quote(TREE_PREFIX + D.SPECIAL_NAME)
    assert requests.get(f"{gcs_server.url}/{TREE_BUCKET}/{name}", timeout=10).content == \
        (tree_source.root / D.SPECIAL_NAME).read_bytes()


# ---------------------------------------------------------------- the hostile server

@pytest.fixture(scope="module")
def hostile():
    srv = H.HostileServer().start()
    yield srv
    srv.stop()


def _get(url: str, method: str = "GET", headers: dict | None = None):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, u.path + ("?" + u.query if u.query else ""), headers=headers or {})
    r = c.getresponse()
    return r, c


def _hostile_urls(srv, fmt: str, d: str) -> tuple:
    if fmt in ("html", "json", "dav"):
        return ("PROPFIND" if fmt == "dav" else "GET"), f"{srv.url}/{fmt}/{d}/"
    if fmt == "s3":
        return "GET", f"{srv.url}/{H.BUCKET}?list-type=2&prefix={H.PREFIX}{d}/&delimiter=/&encoding-type=url"
    return "GET", f"{srv.url}/storage/v1/b/{H.BUCKET}/o?prefix={H.PREFIX}{d}/&delimiter=/"


@pytest.mark.parametrize("fmt", H.FORMATS)
def test_hostile_server_answers_as_documented(fmt, hostile):
    method, url = _hostile_urls(hostile, fmt, "good")
    r, c = _get(url, method, {"Depth": "1"})
    body = r.read()
    c.close()
    assert r.status == (207 if fmt == "dav" else 200)
    if fmt == "json":
        names = {e["name"] for e in json.loads(body)}
        assert {"fine.bin", "ok-dir", ".", "..", "a/b", "nul\x00x.bin", H.LONG, ""} <= names
    elif fmt == "gcs":
        names = {i["name"] for i in json.loads(body)["items"]}
        assert {"pre/good/fine.bin", "pre/good/", "pre/good/..", "pre/good/nul\x00x.bin", "other/evil.bin"} <= names
    elif fmt == "s3":
        keys = {urllib.parse.unquote(k.text) for k in ET.fromstring(body).iter(S3NS + "Key")}
        assert {"pre/good/fine.bin", "pre/good/", "pre/good/a/b", "pre/good/nul\x00x.bin"} <= keys
    elif fmt == "dav":
        hrefs = {h.text for h in ET.fromstring(body).iter(DAV + "href")}
        assert {"/dav/good/", "/dav/good/fine.bin", "/dav/good/nul%00x.bin", "/dav/good/a%2Fb"} <= hrefs
    else:
        assert b'href="nul%00x.bin"' in body and b'href="a%2Fb"' in body
    for d in H.DIRS[fmt]:
        method, url = _hostile_urls(hostile, fmt, d)
        r, c = _get(url, method, {"Depth": "1"})
        if d == "redirect":
            assert r.status == 302 and r.getheader("Location").startswith("http://127.0.0.2:")
            r.read()
            f, c2 = _get(r.getheader("Location"), method, {"Depth": "1"})
            assert b"followed.bin" in f.read()
            c2.close()
        elif d == "truncated":
            with pytest.raises(http.client.IncompleteRead):
                r.read()
        elif d == "malformed":
            data = r.read()
            with pytest.raises(ValueError if fmt in ("json", "gcs") else ET.ParseError):
                json.loads(data) if fmt in ("json", "gcs") else ET.fromstring(data)
        elif d == "loop":
            data = r.read()
            assert b"again" in data
        else:
            r.read()
            assert r.status in (200, 207)
        c.close()
    for path in (f"/{H.BUCKET}/{H.PREFIX}good/fine.bin", "/html/good/fine.bin", "/dav/good/fine.bin",
                 f"/download/storage/v1/b/{H.BUCKET}/o/pre%2Fgood%2Ffine.bin?alt=media"):
        r, c = _get(hostile.url + path, headers={"Range": "bytes=10-19"})
        assert r.status == 206 and r.read() == H.FINE[10:20], path
        c.close()
