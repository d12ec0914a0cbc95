/// A profile's `sync:` section as a gate policy (the command layer passes the plain values, so
/// the gate never depends on profile parsing).
extension GatePolicy {
    /// `blockedExtensions` adds to the defaults (a profile cannot unblock `.pem`); everything else
    /// replaces the default. `gitleaksConfig` is a path already resolved by the profile loader.
    public init(
        syncAllow allow: [String], deny: [String], blockedExtensions: [String], maxFileSize: UInt64, maxTotalSize: UInt64,
        gitleaksConfig: String?
    ) {
        self.init(
            allow: allow, deny: deny, blockedExtensions: GatePolicy.blockedExtensions(adding: blockedExtensions), maxFileSize: maxFileSize,
            maxTotalSize: maxTotalSize, scannerConfig: gitleaksConfig)
    }

    /// Explicit command-line settings over the profile's: a flag that was given wins (a flag can
    /// only turn archive flagging on).
    public func overriding(scannerConfig: String?, flagArchives: Bool = false) -> GatePolicy {
        var copy = self
        if let scannerConfig { copy.scannerConfig = scannerConfig }
        if flagArchives { copy.flagArchives = true }
        return copy
    }
}
