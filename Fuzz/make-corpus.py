#!/usr/bin/env python3
"""Writes the seed corpus Fuzz/Corpus/<target>/ from the repository's test fixtures and the
unit tests' literals (plus a few edge cases). Deterministic; rerun after changing a harness's
input format. Needs only the standard library."""
import gzip
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "Tests", "VoxSourcesTests", "Fixtures")
CORPUS = os.path.join(HERE, "Corpus")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def u32(*values):
    return b"".join(struct.pack("<I", v) for v in values)


def u64(*values):
    return b"".join(struct.pack("<Q", v & (2**64 - 1)) for v in values)


def i64(*values):
    return b"".join(struct.pack("<q", v) for v in values)


def f32(*values):
    return b"".join(struct.pack("<f", v) for v in values)


seeds = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, {})[name] = data


# --- compressed_segmentation: header (see cseg_decode harness), then the stream -----------
def cseg_header(uint32, channels, shape, block):
    h = (1 if uint32 else 0) | ((channels - 1) << 1)
    for i, v in enumerate(list(shape) + list(block)):
        assert 1 <= v <= 32
        h |= (v - 1) << (2 + 5 * i)
    return u32(h)


for name, uint32, shape, block in [("u64_mixed", False, (6, 5, 3), (4, 4, 2)), ("u32_many", True, (9, 7, 4), (4, 3, 3)),
                                   ("u64_single", False, (5, 5, 2), (8, 8, 8)), ("u64_16bit", False, (20, 20, 2), (8, 8, 2))]:
    add("cseg_decode", name, cseg_header(uint32, 1, shape, block) + fixture("cseg_%s.enc" % name))
# One block, 0 bits (a single id), uint32: offset 1, header (table at +2, 0 bits), values at +2, table.
add("cseg_decode", "single_id_u32", cseg_header(True, 1, (4, 4, 4), (8, 8, 8)) + u32(1, 2, 2, 7))
# Two channels of the single-id block.
add("cseg_decode", "two_channels_u32", cseg_header(True, 2, (2, 2, 2), (2, 2, 2)) + u32(2, 5, 2, 2, 9, 2, 2, 11))
# 32-bit indices over one 1x1x2 block: table of two uint64 ids.
add("cseg_decode", "bits32_u64", cseg_header(False, 1, (1, 1, 2), (1, 1, 2)) + u32(1, (32 << 24) | 4, 2, 0, 1, 5, 0, 6, 0))
add("cseg_decode", "header_only", cseg_header(False, 1, (1, 1, 1), (1, 1, 1)))


# --- minishard index: id, then [3, n] uint64 (delta ids, offsets as gaps, sizes) -----------
def minishard(chunks):
    ids, offsets, sizes = [], [], []
    previous_id, previous_end = 0, 0
    for chunk_id, start, size in chunks:
        ids.append(chunk_id - previous_id)
        previous_id = chunk_id
        offsets.append(start - previous_end)
        sizes.append(size)
        previous_end = start + size
    return u64(*ids, *offsets, *sizes)


index3 = minishard([(3, 0, 100), (7, 100, 50), (12, 400, 8)])
add("minishard_index", "three_chunks_find_7", u64(7) + index3)
add("minishard_index", "three_chunks_missing", u64(8) + index3)
add("minishard_index", "one_chunk", u64(1) + minishard([(1, 64, 4096)]))
add("minishard_index", "empty", u64(0))
add("minishard_index", "huge_start", u64(5) + u64(5, 2**62, 16))
add("minishard_index", "ragged", u64(5) + u64(5, 0)[:12])

# --- sharding spec JSON ----------------------------------------------------------------------
SPEC = '{"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": %d, "hash": "%s", "minishard_bits": %d, "shard_bits": %d%s}'
add("sharding_spec", "identity_1_2_5", SPEC % (1, "identity", 2, 5, ""))
add("sharding_spec", "murmur_gzip", SPEC % (0, "murmurhash3_x86_128", 0, 0, ', "data_encoding": "gzip"'))
add("sharding_spec", "murmur_9_6_gzip_index", SPEC % (9, "murmurhash3_x86_128", 6, 15, ', "minishard_index_encoding": "gzip", "data_encoding": "gzip"'))
add("sharding_spec", "bits_64", SPEC % (64, "identity", 32, 32, ""))
add("sharding_spec", "bad_type", '{"@type": "other", "preshift_bits": 0, "hash": "identity", "minishard_bits": 0, "shard_bits": 0}')
add("sharding_spec", "bad_hash", SPEC % (0, "md5", 0, 0, ""))


# --- sharded_locate: flags, preshift, minishard bits, shard bits, id, shard file ---------------
def shard_file(minishard_bits, minishards, gzip_index=False):
    """minishards: {minishard: [(id, bytes)]}; returns the shard file."""
    index = bytearray(16 << minishard_bits)
    data = bytearray()
    for m, chunks in sorted(minishards.items()):
        placed = []
        for chunk_id, payload in sorted(chunks):
            placed.append((chunk_id, len(data), len(payload)))
            data += payload
        encoded = minishard(placed)
        if gzip_index:
            encoded = gzip.compress(encoded, mtime=0)
        start = len(data)
        data += encoded
        index[16 * m:16 * m + 16] = u64(start, len(data))
    return bytes(index) + bytes(data)


def locate_seed(flags, preshift, minishard_bits, shard_bits, chunk_id, file):
    return bytes([flags, preshift, minishard_bits, shard_bits]) + u64(chunk_id) + file


# identity hash, minishard_bits 1, shard_bits 0: ids 2 and 4 in minishard 0, 3 in minishard 1.
plain = shard_file(1, {0: [(2, b"two"), (4, b"four")], 1: [(3, b"three")]})
add("sharded_locate", "identity_found", locate_seed(0, 0, 1, 0, 4, plain))
add("sharded_locate", "identity_missing", locate_seed(0, 0, 1, 0, 6, plain))
add("sharded_locate", "gzip_index", locate_seed(2, 0, 1, 0, 3, shard_file(1, {0: [(2, b"two")], 1: [(3, b"three")]}, gzip_index=True)))
add("sharded_locate", "empty_minishard", locate_seed(0, 0, 2, 0, 1, bytes(64)))
add("sharded_locate", "murmur_no_file", locate_seed(1, 0, 0, 3, 12345, b""))

# --- precomputed info ------------------------------------------------------------------------
add("precomputed_info", "image_two_scales", """{"@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint16", "num_channels": 2,
 "scales": [{"key": "8_8_40", "size": [100, 200, 30], "voxel_offset": [1, 2, 3], "resolution": [8, 8, 40],
             "chunk_sizes": [[64, 64, 16], [32, 32, 32]], "encoding": "raw"},
            {"key": "16_16_40", "size": [50, 100, 30], "resolution": [16, 16, 40],
             "chunk_sizes": [[64, 64, 16]], "encoding": "jpeg", "compressed_segmentation_block_size": [8, 8, 8]}]}""")
add("precomputed_info", "segmentation_sharded", """{"@type": "neuroglancer_multiscale_volume", "type": "segmentation", "data_type": "uint64", "num_channels": 1,
 "mesh": "mesh", "skeletons": "skeletons/", "segment_properties": "props",
 "scales": [{"key": "s0", "size": [40, 30, 9], "voxel_offset": [2, 3, -4], "chunk_sizes": [[16, 16, 4]], "resolution": [4, 4, 40],
             "encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 2],
             "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "murmurhash3_x86_128", "minishard_bits": 2, "shard_bits": 3}}]}""")
add("precomputed_info", "uint8_png", """{"type": "image", "data_type": "uint8", "num_channels": 3, "scales": [
  {"key": "s0", "size": [40, 30, 9], "voxel_offset": [2, 3, 4], "chunk_sizes": [[16, 16, 4]], "resolution": [4, 4, 40], "encoding": "png"}]}""")
add("precomputed_info", "missing_encoding", '{"type": "image", "data_type": "uint8", "scales": [{"key": "a", "size": [1, 2, 3], "chunk_sizes": [[1,1,1]]}]}')
add("precomputed_info", "not_an_object", "[]")

# --- listings ----------------------------------------------------------------------------------
add("webdav_listing", "multistatus", """<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
  <D:response><D:href>/dav/em/</D:href>
    <D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  </D:response>
  <D:response><D:href>http://host/dav/em/x2y4z3.hdf5</D:href>
    <D:propstat><D:prop><D:resourcetype/><D:getcontentlength>1234</D:getcontentlength>
      <D:getlastmodified>Sun, 22 Nov 2026 10:00:00 GMT</D:getlastmodified><D:getetag>"abc-1"</D:getetag>
    </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  </D:response>
  <D:response><D:href>/dav/em/sub%20dir/</D:href>
    <D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  </D:response>
  <D:response><D:href>/dav/other/escape.txt</D:href>
    <D:propstat><D:prop><D:getcontentlength>1</D:getcontentlength></D:prop></D:propstat>
  </D:response>
  <D:response><D:href>/dav/em/a%2Fb</D:href>
    <D:propstat><D:prop><D:getcontentlength>1</D:getcontentlength></D:prop></D:propstat>
  </D:response>
  <D:response><D:href>/dav/em/nul&#0;name</D:href>
    <D:propstat><D:prop><D:getcontentlength>1</D:getcontentlength></D:prop></D:propstat>
  </D:response>
  <D:response><D:href>/dav/em/nosize</D:href>
    <D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
    <D:propstat><D:prop><D:getcontentlength/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
  </D:response>
</D:multistatus>""")
add("webdav_listing", "root_dir_cdata_comment", "/\0<?xml version=\"1.0\"?><!-- c --><multistatus xmlns=\"DAV:\"><response><href><![CDATA[/a&b]]></href>"
    "<propstat><prop><getcontentlength> 7 </getcontentlength><getetag>&quot;e&#x41;&apos;</getetag></prop></propstat></response></multistatus>")
add("webdav_listing", "html", "<html><body>login</body></html>")
add("webdav_listing", "unclosed", "<D:multistatus><D:response>")

add("s3_listing", "page", """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>tables/</Prefix><KeyCount>4</KeyCount><IsTruncated>true</IsTruncated>
  <NextContinuationToken>tok+1=</NextContinuationToken>
  <Contents><Key>tables/</Key><Size>0</Size></Contents>
  <Contents><Key>tables/nucleus &amp; soma.csv</Key><LastModified>2026-11-22T10:00:00.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>47</Size></Contents>
  <Contents><Key>elsewhere/x</Key><Size>1</Size></Contents>
  <CommonPrefixes><Prefix>tables/v661/</Prefix></CommonPrefixes>
</ListBucketResult>""")
add("s3_listing", "url_encoded", "tables/\0<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
    "<Contents><Key>tables/a+b%20c%2Fd</Key><Size>3</Size><LastModified>2026-11-22T10:00:00Z</LastModified></Contents>"
    "<CommonPrefixes><Prefix>tables/sub%25/</Prefix></CommonPrefixes></ListBucketResult>")
add("s3_listing", "truncated_without_token", "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")

add("gcs_listing", "page", """{"kind": "storage#objects", "nextPageToken": "CgV4",
 "prefixes": ["skel/swc/v1/"],
 "items": [{"name": "skel/swc/864691135122603047.swc", "size": "5120", "generation": "1700000000000001",
            "updated": "2026-11-22T10:00:00.123Z"},
           {"name": "skel/swc/bad", "size": "-1"},
           {"name": "skel/swc/..", "size": "1"}]}""")
add("gcs_listing", "other_prefix", '\0{"items": [{"name": "a", "size": "1"}, {"name": "", "size": "0"}], "prefixes": ["/"]}')
add("gcs_listing", "truncated", '{"items": [')

add("autoindex_html", "nginx", """<html><head><title>Index of /files/</title></head><body><h1>Index of /files/</h1><hr><pre><a href="../">../</a>
<a href="sub/">sub/</a>                                               22-Nov-2026 22:29                   -
<a href="a%20b.bin">a b.bin</a>                                            22-Nov-2026 22:29             5000000
<a href="empty">empty</a>                                              22-Nov-2026 22:29                   0
<a href="big.h5">big.h5</a>                                             22-Nov-2026 22:29                  1M
<a href="/etc/passwd">passwd</a>
<a href="http://other/x">x</a>
</pre><hr></body></html>""")
add("autoindex_html", "apache", """<table><tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/data/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td></tr>
<tr><td><a href="small.csv">small.csv</a></td><td align="right">2026-11-22 10:00  </td><td align="right">512</td></tr>
<tr><td><a href="large.csv">large.csv</a></td><td align="right">2026-11-22 10:00  </td><td align="right">1.2M</td></tr>
</table>""")
add("autoindex_html", "entities", '<HTML><A HREF="./x&amp;y">x&amp;y</A> 12\n<a href="q&quot;">q</a></html>')

add("autoindex_json", "nginx", """[{ "name":"sub", "type":"directory", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT" },
 { "name":"a.bin", "type":"file", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT", "size":5000000 },
 { "name":"link", "type":"other", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT" },
 { "name":"../up", "type":"file", "size":1 }]""")
add("autoindex_json", "not_a_list", '{"name": 1}')


# --- cutout names: offset xyz, size xyz (int64), data type, channels, name --------------------
def cutout(offset, size, dtype, channels, name):
    return i64(*offset, *size) + bytes([dtype, channels - 1]) + name.encode()


# DataType.allCases order: uint8 int8 uint16 int16 uint32 int32 uint64 int64 float32 float64.
add("cutout_name", "h5", cutout((2, 3, 4), (40, 30, 9), 2, 1, "2-8_3-7_5-10.h5"))
add("cutout_name", "npy", cutout((2, 3, 4), (40, 30, 9), 2, 1, "2-7_3-7_5-6.npy"))
add("cutout_name", "tif_rgb", cutout((2, 3, 4), (40, 30, 9), 0, 3, "7-8_6-7_9-10.tif"))
add("cutout_name", "negative", cutout((-20, 0, -5), (40, 30, 9), 6, 1, "-10--2_0-5_-3-4.npy"))
add("cutout_name", "outside", cutout((2, 3, 4), (40, 30, 9), 2, 1, "1-3_3-4_5-6.npy"))
add("cutout_name", "efbig", cutout((0, 0, 0), (1 << 20, 1 << 20, 1 << 20), 9, 4, "0-100000_0-100000_0-1000.npy"))
add("cutout_name", "two_axes", cutout((2, 3, 4), (40, 30, 9), 2, 1, "2-3_3-4.npy"))

# --- HDF5 grid patterns: pattern \0 name ----------------------------------------------------------
for name, data in [("x2y4z3", "x{x}y{y}z{z}.hdf5\0x2y4z3.hdf5"), ("negative", "x{x}y{y}z{z}.hdf5\0x02y14z-3.hdf5"),
                   ("axes_reordered", "{z}-{y}_{x}.h5\x003-10_2.h5"), ("adjacent", "{x}{y}{z}\x001-2-3"),
                   ("mismatch", "x{x}y{y}z{z}.hdf5\0x2y4z3.hdf5.bak"), ("default_pattern", "c1_2_3.h5")]:
    add("grid_pattern", name, data)

# --- meshes -------------------------------------------------------------------------------------------
draco = fixture("draco_fragment.drc")


def manifest(levels):
    out = f32(8, 8, 8) + f32(100, 200, 300) + u32(len(levels))
    out += b"".join(f32(1 << lod) for lod in range(len(levels)))
    out += b"".join(f32(lod, 0, 0) for lod in range(len(levels)))
    out += u32(*[len(level) for level in levels])
    for level in levels:
        for axis in range(3):
            out += u32(*[position[axis] for position, _ in level])
        out += u32(*[size for _, size in level])
    return out


def manifest_seed(bits16, levels, data):
    m = manifest(levels)
    return bytes([1 if bits16 else 0]) + u32(len(m)) + m + data


add("mesh_manifest", "two_lods", manifest_seed(False, [[((0, 0, 0), 0), ((2, 1, 0), len(draco))], [((0, 0, 0), len(draco))]], draco + draco))
add("mesh_manifest", "one_lod_16bit", manifest_seed(True, [[((1, 1, 1), len(draco))]], draco))
add("mesh_manifest", "empty_lod", manifest_seed(False, [[]], b""))
add("mesh_manifest", "manifest_only", manifest_seed(False, [[((0, 0, 0), 5)]], b""))

add("draco_mesh", "fragment", draco)
add("draco_mesh", "prefix40", draco[:40])
add("draco_mesh", "not_draco", b"A" * 64)


def legacy(vertices, triangles):
    return u32(len(vertices) // 3) + f32(*vertices) + u32(*triangles)


add("legacy_mesh", "one_triangle", legacy([0, 0, 0, 1, 0, 0, 0, 1, 0], [0, 1, 2]))
add("legacy_mesh", "two_triangles", legacy([5, 5, 5, 6, 5, 5, 5, 6, 5, 5, 5, 6], [0, 1, 2, 0, 2, 3]))
add("legacy_mesh", "bad_index", legacy([0, 0, 0], [0, 1, 2]))
add("legacy_mesh", "empty", u32(0))

# --- skeletons: attribute count, (id, type, components - 1) each, then the file ----------------------
skeleton = u32(3, 2) + f32(0, 0, 0, 1, 0, 0, 1, 1, 0) + u32(0, 1, 1, 2) + f32(0.5, 1.5, 2.5) + bytes([1, 3, 3])
# ids: 0 radius, 1 compartment, 2 vertex_types, 3 other; types: uint8 int8 uint16 int16 uint32 int32 float32.
add("skeleton", "radius_vertex_types", bytes([2, 0, 6, 0, 2, 0, 0]) + skeleton)
add("skeleton", "no_attributes", bytes([0]) + u32(3, 2) + f32(0, 0, 0, 1, 0, 0, 1, 1, 0) + u32(0, 1, 1, 2))
add("skeleton", "compartment_int16_and_vec", bytes([2, 1, 3, 0, 3, 6, 2]) + u32(2, 1) + f32(0, 0, 0, 1, 1, 1) + u32(0, 1)
    + struct.pack("<hh", 3, -1) + f32(1, 2, 3, 4, 5, 6))
add("skeleton", "edge_past_vertices", bytes([0]) + u32(1, 1) + f32(0, 0, 0) + u32(0, 1))


def main():
    only = set(sys.argv[1:])
    for target, files in sorted(seeds.items()):
        if only and target not in only:
            continue
        directory = os.path.join(CORPUS, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in sorted(files.items()):
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        print("%-18s %2d seeds, %6d bytes" % (target, len(files), sum(map(len, files.values()))))


main()
