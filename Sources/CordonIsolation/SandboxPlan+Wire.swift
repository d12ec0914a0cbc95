/// The plan as cordon-init reads it on descriptor 3: a small binary form. Through Codable, JSON
/// cost ~2 ms to encode in the supervisor and ~1.5 ms to decode in init (generic containers and
/// the conformance lookups they trigger in binaries this size); this costs microseconds.
///
/// Layout: the magic (which carries the version), then every field in declaration order.
/// Integers are little-endian, strings a UInt32 byte count then UTF-8, arrays a UInt32 count
/// then elements, optionals and enums a tag byte then the payload.
extension SandboxPlan {
    /// Bumped whenever the layout changes: cordon and cordon-init must come from one build.
    static let wireMagic: [UInt8] = Array("cordon-plan/3\n".utf8)

    public struct WireError: Error, Sendable, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    public func wireBytes() -> [UInt8] {
        var w = WireWriter()
        w.out += Self.wireMagic
        w.string(root)
        w.strings(trees)
        w.string(hostname)
        w.count(steps.count)
        for step in steps { w.step(step) }
        w.u32(user.uid)
        w.u32(user.gid)
        w.string(user.name)
        w.string(user.home)
        w.strings(writable)
        w.strings(writeFiles)
        w.count(resourceLimits.count)
        for limit in resourceLimits {
            w.u32(UInt32(bitPattern: limit.resource))
            w.string(limit.name)
            w.u64(limit.value)
        }
        w.bool(unshareCgroup)
        w.bool(idle)
        w.strings(command)
        w.strings(environment)
        w.string(workingDirectory)
        w.bool(terminal)
        switch network {
        case .loopback: w.u8(0)
        case .host: w.u8(1)
        case .egress(let capture):
            w.u8(2)
            for port in [capture.relayPort, capture.proxyPort, capture.dnsPort, capture.sinkPort] { w.u16(port) }
            w.string(capture.address)
            w.string(capture.gateway)
        }
        return w.out
    }

    public init(wireBytes bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes: bytes)
        guard bytes.count >= Self.wireMagic.count, Array(bytes.prefix(Self.wireMagic.count)) == Self.wireMagic else {
            throw WireError(message: "not a plan from this version of cordon (cordon and cordon-init must come from the same build)")
        }
        r.at = Self.wireMagic.count
        let root = try r.string()
        let trees = try r.strings()
        let hostname = try r.string()
        var steps: [Step] = []
        for _ in 0..<(try r.count()) { steps.append(try r.step()) }
        let user = User(uid: try r.u32(), gid: try r.u32(), name: try r.string(), home: try r.string())
        let writable = try r.strings()
        let writeFiles = try r.strings()
        var limits: [ResourceLimit] = []
        for _ in 0..<(try r.count()) {
            limits.append(ResourceLimit(resource: Int32(bitPattern: try r.u32()), name: try r.string(), value: try r.u64()))
        }
        let unshareCgroup = try r.bool()
        let idle = try r.bool()
        let command = try r.strings()
        let environment = try r.strings()
        let workingDirectory = try r.string()
        let terminal = try r.bool()
        let network: Network
        switch try r.u8() {
        case 0: network = .loopback
        case 1: network = .host
        case 2:
            let relay = try r.u16(), proxy = try r.u16(), dns = try r.u16(), sink = try r.u16()
            network = .egress(EgressCapture(relayPort: relay, proxyPort: proxy, dnsPort: dns, sinkPort: sink, address: try r.string(), gateway: try r.string()))
        case let tag: throw WireError(message: "unknown network kind \(tag) at byte \(r.at - 1)")
        }
        guard r.at == bytes.count else { throw WireError(message: "\(bytes.count - r.at) unexpected bytes after the plan") }
        self.init(
            root: root, hostname: hostname, steps: steps, user: user, writable: writable, writeFiles: writeFiles,
            resourceLimits: limits, unshareCgroup: unshareCgroup, command: command, environment: environment,
            workingDirectory: workingDirectory, terminal: terminal, network: network)
        self.trees = trees
        self.idle = idle
    }
}

struct WireWriter {
    var out: [UInt8] = []

    mutating func u8(_ v: UInt8) { out.append(v) }
    mutating func u16(_ v: UInt16) { out.append(UInt8(v & 0xff)); out.append(UInt8(v >> 8)) }
    mutating func u32(_ v: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((v >> UInt32(shift)) & 0xff)) } }
    mutating func u64(_ v: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8((v >> UInt64(shift)) & 0xff)) } }
    mutating func bool(_ v: Bool) { out.append(v ? 1 : 0) }
    mutating func count(_ n: Int) { u32(UInt32(n)) }
    mutating func string(_ s: String) {
        let utf8 = s.utf8
        count(utf8.count)
        out += utf8
    }
    mutating func strings(_ list: [String]) {
        count(list.count)
        for s in list { string(s) }
    }

    mutating func step(_ step: SandboxPlan.Step) {
        switch step {
        case .directory(let target, let mode):
            u8(0); string(target); u32(mode)
        case .tmpfs(let target, let mode, let size):
            u8(1); string(target); u32(mode)
            if let size { bool(true); u64(size) } else { bool(false) }
        case .bind(let source, let target, let readOnly):
            u8(2); string(source); string(target); bool(readOnly)
        case .overlay(let lower, let upper, let work, let target):
            u8(3); string(lower); string(upper); string(work); string(target)
        case .proc(let target):
            u8(4); string(target)
        case .devpts(let target):
            u8(5); string(target)
        case .symlink(let target, let destination):
            u8(6); string(target); string(destination)
        case .file(let target, let contents, let mode):
            u8(7); string(target); string(contents); u32(mode)
        case .copy(let source, let target, let optional):
            u8(8); string(source); string(target); bool(optional)
        case .mask(let target):
            u8(9); string(target)
        case .remountReadOnly(let target):
            u8(10); string(target)
        case .cover(let target, let contents, let mode):
            u8(11); string(target); string(contents); u32(mode)
        }
    }
}

struct WireReader {
    let bytes: [UInt8]
    var at = 0

    mutating func take(_ n: Int) throws(SandboxPlan.WireError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - at else { throw SandboxPlan.WireError(message: "the plan is truncated at byte \(at)") }
        defer { at += n }
        return bytes[at..<(at + n)]
    }

    mutating func u8() throws(SandboxPlan.WireError) -> UInt8 { try take(1).first ?? 0 }
    mutating func u16() throws(SandboxPlan.WireError) -> UInt16 { try take(2).reversed().reduce(0) { $0 << 8 | UInt16($1) } }
    mutating func u32() throws(SandboxPlan.WireError) -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws(SandboxPlan.WireError) -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    mutating func bool() throws(SandboxPlan.WireError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let v: throw SandboxPlan.WireError(message: "invalid flag \(v) at byte \(at - 1)")
        }
    }

    /// A count that cannot exceed what is left (garbage never allocates much).
    mutating func count() throws(SandboxPlan.WireError) -> Int {
        let n = Int(try u32())
        guard n <= bytes.count - at else { throw SandboxPlan.WireError(message: "the plan is truncated at byte \(at)") }
        return n
    }

    mutating func string() throws(SandboxPlan.WireError) -> String {
        String(decoding: try take(try count()), as: UTF8.self)
    }

    mutating func strings() throws(SandboxPlan.WireError) -> [String] {
        var list: [String] = []
        for _ in 0..<(try count()) { list.append(try string()) }
        return list
    }

    mutating func step() throws(SandboxPlan.WireError) -> SandboxPlan.Step {
        let tag = try u8()
        switch tag {
        case 0: return .directory(target: try string(), mode: try u32())
        case 1:
            let target = try string(), mode = try u32()
            return .tmpfs(target: target, mode: mode, sizeBytes: try bool() ? try u64() : nil)
        case 2: return .bind(source: try string(), target: try string(), readOnly: try bool())
        case 3: return .overlay(lower: try string(), upper: try string(), work: try string(), target: try string())
        case 4: return .proc(target: try string())
        case 5: return .devpts(target: try string())
        case 6: return .symlink(target: try string(), destination: try string())
        case 7: return .file(target: try string(), contents: try string(), mode: try u32())
        case 8: return .copy(source: try string(), target: try string(), optional: try bool())
        case 9: return .mask(target: try string())
        case 10: return .remountReadOnly(target: try string())
        case 11: return .cover(target: try string(), contents: try string(), mode: try u32())
        default: throw SandboxPlan.WireError(message: "unknown step \(tag) at byte \(at - 1)")
        }
    }
}
