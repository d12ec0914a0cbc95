/// The categories of `cordon selftest`'s attacks; `--only` takes their raw values.
public enum SelftestCategory: String, Sendable, CaseIterable, Equatable {
    case filesystem
    case process
    case network
    case leaks
    case sync
    case resources
    case supplyChain = "supply-chain"
    case secrets
    case isolation

    /// The categories `--only` names, in the order given; a name that is none of them throws,
    /// listing the valid ones.
    public static func parse(_ list: String) throws(SelftestUsageError) -> [SelftestCategory] {
        var chosen: [SelftestCategory] = []
        for name in list.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = name.trimming(" ")
            guard let category = SelftestCategory(rawValue: trimmed) else {
                throw SelftestUsageError(
                    "unknown category \"\(trimmed)\" in --only; valid categories: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !chosen.contains(category) { chosen.append(category) }
        }
        return chosen
    }
}

/// A bad option or argument (exit 64).
public struct SelftestUsageError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension StringProtocol {
    /// The text without `character` at either end.
    func trimming(_ character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
