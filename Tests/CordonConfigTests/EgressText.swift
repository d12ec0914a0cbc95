import CordonPolicy

/// The egress fields as written, for comparing with the literals of a profile.
extension EgressConfiguration {
    var resolveText: [String: String] { Dictionary(uniqueKeysWithValues: resolve.map { ($0.key.text, $0.value.text) }) }
    var rateLimitsText: [String: Int] { Dictionary(uniqueKeysWithValues: rateLimits.map { ($0.key.text, $0.value) }) }
}
