public import CordonCore

/// One problem found in a profile or preset: where, which field, what is wrong, how to fix it.
public struct ProfileDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var location: CordonError.Location
    /// The field's path in profile terms, e.g. `egress.domains[2]` or `mounts[0].sandbox`.
    public var field: String
    public var message: String
    public var hint: String?

    public init(location: CordonError.Location, field: String, message: String, hint: String? = nil) {
        self.location = location
        self.field = field
        self.message = message
        self.hint = hint
    }

    public var error: CordonError {
        CordonError(.invalidProfile, field.isEmpty ? message : "\(field): \(message)", hint: hint, location: location)
    }

    public var description: String { error.description }
}

/// The outcome of checking a profile: the merged profile when valid, and every problem found.
public struct ProfileValidation: Sendable {
    public var profile: Profile?
    public var source: String
    public var diagnostics: [ProfileDiagnostic]
    public var isValid: Bool { diagnostics.isEmpty && profile != nil }

    public init(profile: Profile?, source: String, diagnostics: [ProfileDiagnostic]) {
        self.profile = profile
        self.source = source
        self.diagnostics = diagnostics
    }
}

extension Array where Element == ProfileDiagnostic {
    /// One error for callers that stop at the first problem; it says how many more there are.
    func combinedError(source: String) -> CordonError {
        guard var error = first?.error else {
            return CordonError(.invalidProfile, "\(source) is not a valid profile")
        }
        if count > 1 {
            error.cause = "and \(count - 1) more problem\(count == 2 ? "" : "s"): run `cordon config validate \(source)`"
        }
        return error
    }
}
