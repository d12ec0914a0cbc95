/// What `cordon selftest` passes on: `cordon-selftest [--json] [--list] [--only CATEGORY[,…]]`.
public struct SelftestOptions: Sendable, Equatable {
    public var json = false
    public var list = false
    /// Empty: every category.
    public var only: [SelftestCategory] = []

    public init(json: Bool = false, list: Bool = false, only: [SelftestCategory] = []) {
        self.json = json
        self.list = list
        self.only = only
    }

    public init(arguments: [String]) throws(SelftestUsageError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--json": json = true
            case "--list": list = true
            case "--only":
                guard let value = rest.popFirst() else { throw SelftestUsageError("--only needs a category list (\(Self.categories))") }
                only += try SelftestCategory.parse(value)
            default:
                if argument.hasPrefix("--only=") {
                    only += try SelftestCategory.parse(String(argument.dropFirst("--only=".count)))
                } else {
                    throw SelftestUsageError("unknown option \(argument); usage: cordon selftest [--json] [--list] [--only CATEGORY[,CATEGORY…]]")
                }
            }
        }
    }

    static var categories: String { SelftestCategory.allCases.map(\.rawValue).joined(separator: ", ") }
}
