import CordonCore
import CordonOS
import CordonSandbox
import FoundationEssentials
import MCP

/// The resources: each sandbox's compiled profile, its audit log and its diff, at
/// `cordon://sandbox/NAME/profile`, `…/audit` and `…/diff` (JSON; the audit log as JSON lines).
enum SandboxResources {
    enum Kind: String, CaseIterable {
        case profile, audit, diff

        var mimeType: String { self == .audit ? "application/jsonl" : "application/json" }

        func describe(_ name: String) -> String {
            switch self {
            case .profile: "The profile sandbox \(name) was made from, compiled (`cordon config compile --json`)."
            case .audit: "Sandbox \(name)'s audit log: its last records as stored, one JSON line each (at most 1 MiB)."
            case .diff: "What sandbox \(name) changed (`cordon diff --json`)."
            }
        }
    }

    static let prefix = "cordon://sandbox/"
    /// Most bytes of an audit log a read returns (its last records).
    static let auditWindow = 1 << 20

    static func uri(_ name: String, _ kind: Kind) -> String { prefix + name + "/" + kind.rawValue }

    static func list(_ context: MCPContext) -> [Resource] {
        let names = (DirectoryListing.names(at: context.paths.sandboxesDirectory) ?? []).filter { name in
            (try? SandboxName.validate(name)) != nil
        }.sorted()
        return names.flatMap { name in
            Kind.allCases.map { kind in
                Resource(name: "\(name) \(kind.rawValue)", uri: uri(name, kind), description: kind.describe(name), mimeType: kind.mimeType)
            }
        }
    }

    static var templates: [Resource.Template] {
        Kind.allCases.map { kind in
            Resource.Template(
                uriTemplate: prefix + "{name}/" + kind.rawValue, name: "sandbox \(kind.rawValue)", description: kind.describe("{name}"), mimeType: kind.mimeType
            )
        }
    }

    /// The resource at `uri`; an unknown sandbox or kind is an invalid-params error.
    static func read(_ uri: String, _ context: MCPContext) async throws -> ReadResource.Result {
        guard uri.hasPrefix(prefix) else { throw MCPError.invalidParams("no resource \(uri): cordon's are \(prefix)NAME/profile, /audit and /diff") }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[1])) else {
            throw MCPError.invalidParams("no resource \(uri): cordon's are \(prefix)NAME/profile, /audit and /diff")
        }
        let name = String(parts[0])
        do throws(ToolError) {
            let layout = try context.existingSandbox(name)
            let text: String
            switch kind {
            case .profile: text = json(try await ChangeTools.compiledProfile(layout: layout, context))
            case .diff: text = json(try await context.document(["diff", name, "--json"]))
            case .audit:
                text = try LogTools.tail(layout.auditLog, lines: Int.max, window: auditWindow).map { $0 + "\n" }.joined()
            }
            return .init(contents: [.text(text, uri: uri, mimeType: kind.mimeType)])
        } catch {
            throw MCPError.invalidParams(error.message)
        }
    }

    static func json(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
    }
}
