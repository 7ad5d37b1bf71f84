import CCurl

/// One easy handle and what it has received so far.
///
/// Created on the caller's thread, then touched only by the engine thread until `finish`.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    let url: String
    var continuation: CheckedContinuation<HTTPResponse, any Error>?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var body: [UInt8] = []
    private var rangeLength: Int?
    private var tooLong = false
    private var headers: [String: String] = [:]
    /// Whether curl gave up for lack of progress or time (set before the caller resumes).
    private(set) var timedOut = false
    /// curl writes its error detail here; it must outlive the handle, so it is not a Swift array.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(_ request: HTTPRequest) throws {
        guard let easy = curl_easy_init() else {
            throw StoreError.transport("curl_easy_init failed", url: request.url)
        }
        self.easy = easy
        self.url = request.url
        let me = Unmanaged.passUnretained(self).toOpaque()
        voxfs_easy_setopt_string(easy, CURLOPT_URL, request.url)
        if case .follow = request.redirects {
            voxfs_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1)
            voxfs_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 5)
        }
        switch request.method {
        case "GET": break
        case "HEAD": voxfs_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        default: voxfs_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            voxfs_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count)
            _ = body.withUnsafeBytes { voxfs_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
        }
        voxfs_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        voxfs_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        voxfs_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        voxfs_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.deadline.totalMilliseconds)
        voxfs_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, request.deadline.connectMilliseconds)
        voxfs_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
        voxfs_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, request.deadline.stallSeconds)
        voxfs_easy_setopt_string(easy, CURLOPT_USERAGENT, "voxfs/0.1")
        // curl's default 16 KiB receive buffer costs a poll and a callback per 16 KiB.
        voxfs_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, 512 << 10)
        rangeLength = request.range?.count
        if let range = request.range {
            body.reserveCapacity(min(range.count, 64 << 20))  // a hostile index must not size our allocations
            // A range is of the stored bytes: ask for them unencoded.
            voxfs_easy_setopt_string(easy, CURLOPT_RANGE, "\(range.lowerBound)-\(range.upperBound - 1)")
        } else {
            // Empty string: offer every encoding curl can decode, and decode it.
            voxfs_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        }
        for header in request.headers { headerList = curl_slist_append(headerList, header) }
        if let headerList { voxfs_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList) }
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        voxfs_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        voxfs_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteBody)
        voxfs_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        voxfs_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, curlWriteHeader)
        voxfs_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
    }

    deinit {
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
        if let headerList { curl_slist_free_all(headerList) }
    }

    var receivedHeaders: [String: String] { headers }

    /// Largest body kept: a range's length (a server sending more is wrong), else
    /// `maxBodyBytes` (a decompression bomb or an endless body must not take the memory).
    private var bodyLimit: Int {
        switch responseStatus {
        case 200, 206: rangeLength ?? Self.maxBodyBytes
        default: Self.maxErrorBodyBytes  // error pages and redirects: their text, not data
        }
    }
    static let maxBodyBytes = 1 << 30
    static let maxErrorBodyBytes = 1 << 20
    /// From the status line of the response being received.
    private var responseStatus = 0

    /// False when the body would pass its limit: curl then fails the transfer.
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= bodyLimit else {
            tooLong = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func appendHeader(_ line: String) {
        let trimmed = line.trimmingSuffix()
        if trimmed.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (redirect or 100-continue) starts
            responseStatus = trimmed.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = trimmed[..<colon].lowercased()
        let value = trimmed[trimmed.index(after: colon)...].drop(while: { $0 == " " })
        headers[name] = String(value)
    }

    /// Called on the engine thread when curl is done with the handle.
    func complete(_ code: CURLcode) {
        guard code == CURLE_OK else {
            timedOut = code == CURLE_OPERATION_TIMEDOUT
            if tooLong {
                var status = 0
                voxfs_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                if status == 200, rangeLength != nil {
                    // The whole object for a range: what that means (changed since the
                    // listing, or ranges ignored) is the caller's to judge; its bytes are not needed.
                    finish(.success(HTTPResponse(status: status, headers: headers, body: body)))
                } else {
                    finish(.failure(StoreError.badRange("the body passed \(bodyLimit) bytes", url: url)))
                }
                return
            }
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            finish(.failure(StoreError.transport(message, url: url)))
            return
        }
        var status = 0
        voxfs_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        finish(.success(HTTPResponse(status: status, headers: headers, body: body)))
    }

    func finish(_ result: Result<HTTPResponse, any Error>) {
        continuation?.resume(with: result)
        continuation = nil
        body = []
    }
}

extension String {
    func trimmingSuffix() -> Substring {
        var s = Substring(self)
        // "\r\n" is one Character in Swift: test for newlines, not for "\r" and "\n" apart.
        while let last = s.last, last.isNewline { s = s.dropLast() }
        return s
    }
}

private let curlWriteBody: voxfs_curl_data_cb = { pointer, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let length = size * count
    return transfer.appendBody(UnsafeRawBufferPointer(start: pointer, count: length)) ? length : 0
}

private let curlWriteHeader: voxfs_curl_data_cb = { pointer, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let length = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    transfer.appendHeader(line)
    return length
}
