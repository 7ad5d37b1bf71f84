"""The fixtures themselves (no voxfs needed): nginx behaviour and the volumes
as cloud-volume / tensorstore read them back over HTTP."""

from __future__ import annotations

import gzip
import json
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest

import volumes as V


def curl_headers(url: str, *extra: str) -> tuple[int, dict, bytes]:
    r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "-", *extra, url], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def first_chunk(vol, mip=0):
    d = vol.path / vol.scale(mip)["key"]
    return sorted(p for p in d.iterdir() if p.is_file())[0]


def test_nginx_serves_ranges(nginx_server, volumes):
    vol = volumes["cv/u16"]
    chunk = first_chunk(vol)
    rel = chunk.relative_to(nginx_server.root)
    status, headers, body = curl_headers(f"{nginx_server.url}/{rel}", "-r", "1000-1999")
    assert status == 206
    size = chunk.stat().st_size
    assert headers["content-range"] == f"bytes 1000-1999/{size}"
    assert body == chunk.read_bytes()[1000:2000]


def test_nginx_gzip_static_sends_content_encoding(nginx_server, volumes):
    vol = volumes["gz/u16"]
    assert not (vol.path / "info").exists() and (vol.path / "info.gz").exists()
    gz_chunk = first_chunk(vol)
    assert gz_chunk.suffix == ".gz", "cloud-volume compress='gzip' should write .gz chunk files"
    for rel, gz_file in (("gz/u16/info", vol.path / "info.gz"),
                         (str(gz_chunk.relative_to(nginx_server.root))[:-3], gz_chunk)):
        # no Accept-Encoding sent: 'gzip_static always' still answers with the .gz bytes
        status, headers, body = curl_headers(f"{nginx_server.url}/{rel}")
        assert status == 200, rel
        assert headers.get("content-encoding") == "gzip", (rel, headers)
        assert body == gz_file.read_bytes()
        assert len(gzip.decompress(body)) > 0
    # info decodes to the layer's JSON
    _, _, body = curl_headers(f"{nginx_server.url}/gz/u16/info")
    assert json.loads(gzip.decompress(body)) == vol.info


def test_nginx_broken_tree_answers_500_except_info(nginx_server, volumes):
    vol = volumes["broken/u8"]
    status, _, body = curl_headers(f"{vol.url}/info")
    assert status == 200 and json.loads(body) == vol.info
    rel = first_chunk(vol).relative_to(nginx_server.root)
    status, _, _ = curl_headers(f"{nginx_server.url}/{rel}")
    assert status == 500


def test_deleted_chunk_is_404(nginx_server, volumes):
    vol = volumes["missing/u8"]
    key = vol.scale(0)["key"]
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"{vol.url}/{key}/64-128_64-128_16-32", timeout=10)
    assert ei.value.code == 404
    with urllib.request.urlopen(f"{vol.url}/{key}/0-64_0-64_16-32", timeout=10) as r:
        assert r.status == 200


SERVED = [s for s in V.VOLUMES if not s.name.startswith("broken/")]


@pytest.mark.parametrize("spec", SERVED, ids=[s.name for s in SERVED])
def test_reference_over_http_matches_written(spec, volumes, references):
    vol = volumes[spec.name]
    assert len(vol.info["scales"]) == spec.scales
    for mip in range(spec.scales):
        ref = references(spec.name, mip)
        written = vol.written[mip]
        key, size, off, _ = spec.scale_geometry(mip)
        sc = vol.scale(mip)
        assert sc["key"] == key and tuple(sc["size"]) == size and tuple(sc["voxel_offset"]) == off
        assert ref.shape == (*size, spec.channels) and ref.dtype == np.dtype(spec.dtype)
        if spec.delete_chunks:
            written = written.copy()
            r = V.MISSING_CHUNK_REGION
            written[slice(*r["x"]), slice(*r["y"]), slice(*r["z"])] = 0
        if spec.lossy:
            diff = np.abs(ref.astype(np.int32) - written.astype(np.int32))
            assert diff.max() <= 48 and diff.mean() < 4, (spec.name, mip, diff.max(), diff.mean())
        elif ref.dtype.kind == "f":
            assert np.array_equal(ref.view(np.uint32), written.view(np.uint32))
        else:
            assert np.array_equal(ref, written)


CROSS = [s for s in SERVED if s.name != "cv/rgbjpeg"]


@pytest.mark.parametrize("spec", CROSS, ids=[s.name for s in CROSS])
def test_cloudvolume_and_tensorstore_agree_over_http(spec, volumes):
    """Both readers decode the served bytes identically (jpeg included: both use
    libjpeg-turbo), so either is a fair reference. (Not cv/rgbjpeg: cloud-volume
    12.15 mis-decodes 3-channel jpeg, see volumes.py.)"""
    vol = volumes[spec.name]
    mip = spec.scales - 1
    a = V.read_cv_http(vol.url, mip, fill_missing=bool(spec.delete_chunks))
    b = V.read_ts_http(vol.url, mip)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8))
