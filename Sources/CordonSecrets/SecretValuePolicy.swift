public import CordonCore

/// What `cordon secrets set` refuses to store, looked at without the value ever leaving its
/// memory: an empty value, and a GitHub classic personal access token unless asked for.
public enum SecretValuePolicy {
    /// GitHub's classic personal access tokens (fine-grained ones start `github_pat_`).
    public static let classicGitHubPrefix = "ghp_"

    public static func check(_ value: SecretBytes, name: SecretName, allowClassic: Bool) throws(CordonError) {
        guard !value.isEmpty else {
            throw CordonError(.invalidArgument, "the value for \(name) is empty", hint: "give the secret's value (an empty one is never stored)")
        }
        if value.hasPrefix(classicGitHubPrefix), !allowClassic {
            throw CordonError(
                .policyDenied,
                "the value for \(name) is a GitHub classic personal access token (ghp_…): it reaches every repository and organisation you can, so an agent that misuses it can too",
                hint:
                    "create a fine-grained token limited to the repositories and permissions the agent needs (github.com/settings/personal-access-tokens), or pass --allow-classic to store this one anyway"
            )
        }
    }
}
