import CSQLite

/// The few SQLite calls the cache index needs, on one connection.
///
/// Not thread-safe by itself: `DiskCache` serialises use with a mutex.
final class SQLiteDatabase {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A bindable value.
    enum Value {
        case integer(Int)
        case text(String)
    }

    private let handle: OpaquePointer
    let path: String

    init(path: String) throws(Failure) {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close(handle) }
            throw Failure(description: "\(path): \(message)")
        }
        self.handle = handle
        self.path = path
        // Another process may hold the write lock for a moment: wait rather than fail.
        sqlite3_busy_timeout(handle, 10_000)
    }

    deinit { sqlite3_close(handle) }

    func execute(_ sql: String) throws(Failure) {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite3_free(error)
            throw Failure(description: "\(path): \(message) in \(sql)")
        }
    }

    /// Runs `sql` with `arguments`; returns every row as integers and strings.
    @discardableResult
    func query(_ sql: String, _ arguments: [Value] = []) throws(Failure) -> [[Value]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "\(path): \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
        }
        defer { sqlite3_finalize(statement) }
        for (index, argument) in arguments.enumerated() {
            switch argument {
            case let .integer(value): sqlite3_bind_int64(statement, Int32(index + 1), Int64(value))
            case let .text(value): voxfs_sqlite_bind_text(statement, Int32(index + 1), value)
            }
        }
        var rows: [[Value]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else {
                throw Failure(description: "\(path): \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
            }
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                if sqlite3_column_type(statement, column) == SQLITE_TEXT {
                    return .text(String(cString: sqlite3_column_text(statement, column)))
                }
                return .integer(Int(sqlite3_column_int64(statement, column)))
            })
        }
    }

    /// Runs `body` in one write transaction, taken at once (BEGIN IMMEDIATE) so that two
    /// processes never both decide to use the same free space.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

extension SQLiteDatabase.Value {
    var integer: Int {
        if case let .integer(value) = self { return value }
        return 0
    }
}
