import CordonPolicy

/// Additions to a test's egress configuration, parsed with the profile's grammar.
extension EgressConfiguration {
    /// Pins `name` to `addresses` as `egress.resolve` does.
    mutating func pin(_ name: String, _ addresses: String) throws {
        resolve[try Self.pinnedName(name).get()] = try Self.pinnedAddresses(addresses).get()
    }

    /// Lists `pattern` in `egress.domains`.
    mutating func allow(_ pattern: String) throws {
        domains.append(try Self.allowedPattern(pattern).get())
    }
}
