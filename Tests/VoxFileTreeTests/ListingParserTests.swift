import Testing
import VoxTransport
@testable import VoxFileTree

@Suite struct WebDAVListingTests {
    static let multistatus = """
        <?xml version="1.0" encoding="utf-8"?>
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
        </D:multistatus>
        """

    @Test func keepsOnlyDirectChildrenWithSafeNames() throws {
        let listing = try WebDAVListing.parse(Array(Self.multistatus.utf8), directoryPath: "/dav/em/")
        #expect(listing.entries.map(\.name) == ["x2y4z3.hdf5", "sub dir", "nosize"])
        #expect(listing.entries[0].kind == .file(ObjectVersion(
            size: 1234, etag: "\"abc-1\"", lastModified: "Sun, 22 Nov 2026 10:00:00 GMT")))
        #expect(listing.entries[0].modified == 1_795_341_600)
        #expect(listing.entries[1].kind == .directory)
        #expect(listing.entries[2].kind == .file(nil))
        #expect(listing.refused.count == 3)
    }

    @Test func rejectsSomethingElse() {
        #expect(throws: ListingError.self) {
            try WebDAVListing.parse(Array("<html><body>login</body></html>".utf8), directoryPath: "/")
        }
        #expect(throws: XMLReader.Malformed.self) {
            try WebDAVListing.parse(Array("<D:multistatus><D:response>".utf8), directoryPath: "/")
        }
    }
}

@Suite struct S3ListingTests {
    @Test func filesAndCommonPrefixesUnderThePrefix() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name><Prefix>tables/</Prefix><KeyCount>4</KeyCount><IsTruncated>true</IsTruncated>
              <NextContinuationToken>tok+1=</NextContinuationToken>
              <Contents><Key>tables/</Key><Size>0</Size></Contents>
              <Contents><Key>tables/nucleus &amp; soma.csv</Key><LastModified>2026-11-22T10:00:00.000Z</LastModified>
                <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>47</Size></Contents>
              <Contents><Key>elsewhere/x</Key><Size>1</Size></Contents>
              <CommonPrefixes><Prefix>tables/v661/</Prefix></CommonPrefixes>
            </ListBucketResult>
            """
        let page = try S3Listing.parse(Array(body.utf8), prefix: "tables/")
        #expect(page.continuationToken == "tok+1=")
        #expect(page.listing.entries.map(\.name) == ["v661", "nucleus & soma.csv"])
        #expect(page.listing.entries[1].kind == .file(ObjectVersion(size: 47, etag: "\"9b2cf535f27731c974343645a3985328\"")))
        #expect(page.listing.entries[1].modified == 1_795_341_600)
        #expect(page.listing.refused == ["key outside 'tables/'"])
    }

    @Test func truncatedWithoutTokenIsAnError() {
        let body = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"
        #expect(throws: ListingError.self) { try S3Listing.parse(Array(body.utf8), prefix: "") }
    }
}

@Suite struct GCSListingTests {
    @Test func itemsPrefixesAndPageToken() throws {
        let body = """
            {"kind": "storage#objects", "nextPageToken": "CgV4",
             "prefixes": ["skel/swc/v1/"],
             "items": [{"name": "skel/swc/864691135122603047.swc", "size": "5120", "generation": "1700000000000001",
                        "updated": "2026-11-22T10:00:00.123Z"},
                       {"name": "skel/swc/bad", "size": "-1"},
                       {"name": "skel/swc/..", "size": "1"}]}
            """
        let page = try GCSListing.parse(Array(body.utf8), prefix: "skel/swc/")
        #expect(page.pageToken == "CgV4")
        #expect(page.listing.entries.map(\.name) == ["v1", "864691135122603047.swc"])
        #expect(page.listing.entries[1].kind == .file(ObjectVersion(size: 5120, generation: "1700000000000001")))
        #expect(page.listing.refused.count == 2)
    }

    @Test func malformedJSONIsAnError() {
        #expect(throws: ListingError.self) { try GCSListing.parse(Array("{\"items\": [".utf8), prefix: "") }
        #expect(throws: ListingError.self) { try GCSListing.parse(Array("[]".utf8), prefix: "") }
    }
}

@Suite struct AutoindexListingTests {
    @Test func nginxHTML() throws {
        let body = """
            <html><head><title>Index of /files/</title></head><body><h1>Index of /files/</h1><hr><pre><a href="../">../</a>
            <a href="sub/">sub/</a>                                               22-Nov-2026 22:29                   -
            <a href="a%20b.bin">a b.bin</a>                                            22-Nov-2026 22:29             5000000
            <a href="empty">empty</a>                                              22-Nov-2026 22:29                   0
            <a href="big.h5">big.h5</a>                                             22-Nov-2026 22:29                  1M
            <a href="/etc/passwd">passwd</a>
            <a href="http://other/x">x</a>
            </pre><hr></body></html>
            """
        let listing = try AutoindexListing.parseHTML(Array(body.utf8))
        #expect(listing.entries.map(\.name) == ["sub", "a b.bin", "empty", "big.h5"])
        #expect(listing.entries.map(\.kind) == [.directory, .file(ObjectVersion(size: 5_000_000)), .file(ObjectVersion(size: 0)), .file(nil)])
    }

    @Test func apacheHTML() throws {
        let body = """
            <table><tr><th><a href="?C=N;O=D">Name</a></th></tr>
            <tr><td><a href="/data/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td></tr>
            <tr><td><a href="small.csv">small.csv</a></td><td align="right">2026-11-22 10:00  </td><td align="right">512</td></tr>
            <tr><td><a href="large.csv">large.csv</a></td><td align="right">2026-11-22 10:00  </td><td align="right">1.2M</td></tr>
            </table>
            """
        let listing = try AutoindexListing.parseHTML(Array(body.utf8))
        #expect(listing.entries.map(\.kind) == [.file(ObjectVersion(size: 512)), .file(nil)])
    }

    @Test func nginxJSON() throws {
        let body = """
            [{ "name":"sub", "type":"directory", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT" },
             { "name":"a.bin", "type":"file", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT", "size":5000000 },
             { "name":"link", "type":"other", "mtime":"Sun, 22 Nov 2026 22:29:46 GMT" },
             { "name":"../up", "type":"file", "size":1 }]
            """
        let listing = try AutoindexListing.parseJSON(Array(body.utf8))
        #expect(listing.entries.map(\.name) == ["sub", "a.bin"])
        #expect(listing.entries[1].kind == .file(ObjectVersion(size: 5_000_000, lastModified: "Sun, 22 Nov 2026 22:29:46 GMT")))
        #expect(listing.refused.count == 2)
    }

    @Test func notAnIndex() {
        #expect(throws: ListingError.self) { try AutoindexListing.parseHTML(Array("just text".utf8)) }
        #expect(throws: ListingError.self) { try AutoindexListing.parseJSON(Array("{\"name\": 1}".utf8)) }
    }
}

@Suite struct EntryNameTests {
    @Test func unsafeNamesAreRefused() {
        for name in ["", ".", "..", "a/b", "a\0b", String(repeating: "x", count: 256)] {
            #expect(EntryName.problem(name) != nil, "\(name.prefix(8))")
        }
        #expect(EntryName.problem("x2y4z3.hdf5") == nil)
        #expect(EntryName.problem(String(repeating: "x", count: 255)) == nil)
    }

    @Test func duplicateNamesKeepTheDirectory() {
        let listing = Listing(entries: [
            TreeEntry(name: "a", kind: .file(ObjectVersion(size: 1))), TreeEntry(name: "a", kind: .directory),
        ])
        #expect(listing.entries == [TreeEntry(name: "a", kind: .directory)])
    }
}
