import Foundation

/// Reading whole input files with the reasons a user can act on — no such file, permission
/// denied, a directory, larger than the format allows — taken from the system's own answer
/// (`errno`), so that an unreadable file is never reported as a missing one. Nothing larger than
/// `limit` is read into memory.
public enum FileInput {
    /// The bytes of the file at `path`, or the reason it cannot be read (`path` is not part of the
    /// reason).
    /// `limitFromPrefix`: a tighter limit read from the file's first `prefixLength` bytes (a
    /// header that says which parameters and so which size the file can have), checked
    /// against the file's size before the rest is read.
    public static func read(_ path: String, limit: Int, prefixLength: Int = 4 << 20,
                            limitFromPrefix: (([UInt8]) -> Int)? = nil) -> Result<[UInt8], FileInputFailure> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(.cannotOpen(reason(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failure(.cannotOpen(reason(errno))) }
        if (status.st_mode & S_IFMT) == S_IFDIR { return .failure(.cannotOpen("it is a directory, not a file")) }
        let size = Int(status.st_size)
        var limit = limit
        if size > limit { return .failure(.tooLarge(size: size, limit: limit)) }
        if let limitFromPrefix {
            var prefix = [UInt8](repeating: 0, count: min(max(size, 0), prefixLength))
            var filled = 0
            while filled < prefix.count {
                let count = prefix.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, $0.count - filled, off_t(filled)) }
                if count < 0 { if errno == EINTR { continue }; return .failure(.cannotOpen(reason(errno))) }
                if count == 0 { break }
                filled += count
            }
            limit = min(limit, limitFromPrefix(Array(prefix[0..<filled])))
            if size > limit { return .failure(.tooLarge(size: size, limit: limit)) }
        }
        var bytes = [UInt8](repeating: 0, count: max(size, 0))
        var offset = 0
        while true {
            if offset == bytes.count {  // a file that grew, or a pipe: read on in chunks, up to the limit
                guard bytes.count <= limit else { return .failure(.tooLarge(size: bytes.count, limit: limit)) }
                bytes += [UInt8](repeating: 0, count: 1 << 16)
            }
            let count = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.cannotOpen(reason(errno)))
            }
            if count == 0 { break }
            offset += count
        }
        bytes.removeSubrange(offset...)
        if bytes.count > limit { return .failure(.tooLarge(size: bytes.count, limit: limit)) }
        return .success(bytes)
    }

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "it is a directory, not a file"
        case ENOTDIR: return "a part of the path is not a directory"
        default: return String(cString: strerror(code))
        }
    }
}

/// Why `FileInput.read` failed.
public enum FileInputFailure: Error, Equatable, CustomStringConvertible {
    /// The file is missing or unreadable; the text says why.
    case cannotOpen(String)
    /// The file is larger than this kind of file can be.
    case tooLarge(size: Int, limit: Int)

    /// The message a user reads.
    public var description: String {
        switch self {
        case let .cannotOpen(reason): return reason
        case let .tooLarge(size, limit): return "the file has \(size) bytes, more than this kind of file can have (\(limit))"
        }
    }

    /// Whether the file is missing or unreadable (as opposed to present but unacceptable).
    public var isMissing: Bool { if case .cannotOpen = self { return true } else { return false } }
}
