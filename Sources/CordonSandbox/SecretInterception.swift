import CordonConfig
import CordonCore
import CordonGate
import CordonScan
import CordonNet
import CordonPolicy
import CordonSecrets
import CordonUsage

/// What a start whose profile binds secrets prepares for its proxy (issue #25): the real values
/// read from the keystore into memory kept out of core dumps (they stay in this process, the
/// supervisor, and never enter the sandbox), cordon's CA (made on first use in `<state>/ca`,
/// its key never mounted anywhere), and the trust bundle the sandbox gets: the host's CAs plus
/// cordon's, so that the leaves the proxy shows for bound domains verify inside.
struct SecretInterception {
    let interception: Interception
    let trustBundle: PlanBuilder.TrustBundleFile

    /// Where cordon's CA lives.
    static func authorityDirectory(_ paths: CordonPaths) -> String { paths.stateHome + "/ca" }

    /// nil when the profile binds no secret and inspects no domain (nothing is intercepted: every
    /// TLS connection stays a tunnel).
    static func prepare(
        profile: Profile, paths: CordonPaths, sandbox: String, placeholders: [Placeholder], passphrase: Keystore.PassphraseSource?,
        notice: @escaping @Sendable (String) -> Void
    ) throws(CordonError) -> SecretInterception? {
        let inspected = profile.egress.inspect.map(\.value)
        guard !placeholders.isEmpty || !inspected.isEmpty, profile.network == .proxy else { return nil }
        let secrets = placeholders.isEmpty ? [] : try boundSecrets(profile: profile, paths: paths, placeholders: placeholders, passphrase: passphrase)
        let (interception, bundle, hostBundle) = try Interception.withCordonAuthority(
            secrets: secrets, inspected: inspected, aws: try awsSigning(secrets),
            usage: UsageMeter(
                sandbox: sandbox, profile: profile.name, catalogue: profile.usage.catalogue, budgets: profile.usage.budgets,
                ledger: UsageLedger(paths: paths), notice: notice),
            leakCheck: try leakCheck(profile: profile, paths: paths),
            authorityDirectory: authorityDirectory(paths),
            upstreamCA: profile.egress.upstreamCA)
        return SecretInterception(interception: interception, trustBundle: .init(hostPath: hostBundle, contents: bundle))
    }

    /// `egress.dlp`: the sync gate's rules (the profile's gitleaks config when it names one),
    /// compiled once (cached between runs) and shared by every intercepted request; nil: off.
    private static func leakCheck(profile: Profile, paths: CordonPaths) throws(CordonError) -> (scanner: SecretScanner, mode: LeakCheckMode)? {
        guard profile.egress.dlp != .off else { return nil }
        let sync = profile.sync
        let policy = GatePolicy(
            syncAllow: sync.allow, deny: sync.deny, blockedExtensions: sync.blockedExtensions, maxFileSize: sync.maxFileSize,
            maxTotalSize: sync.maxTotalSize, gitleaksConfig: sync.gitleaksConfig)
        return (try SyncGate(policy: policy, scannerCache: paths.scannerCache).scanner, profile.egress.dlp)
    }

    /// The AWS credentials bound with `inject: sigv4` (a bad set stops the start, naming it).
    private static func awsSigning(_ secrets: [BoundSecret]) throws(CordonError) -> AWSSigning? {
        let entries = secrets.filter { $0.injection?.scheme == .sigv4 }.map {
            AWSSigV4.Binding.Entry(name: $0.name, env: $0.env, placeholder: $0.placeholder, domains: $0.domains.map(\.description))
        }
        guard let binding = try AWSSigV4.Binding(sigv4: entries) else { return nil }
        let credentials = try binding.credentials { name throws(CordonError) -> SecretBytes? in
            try secrets.first { $0.name == name.text }?.withValue { $0 }
        }
        let domains = secrets.first { $0.name == binding.accessKeyID.name }?.domains ?? []
        return AWSSigning(
            credentials: credentials, keyIDPlaceholder: binding.placeholders.keyID, sessionTokenPlaceholder: binding.placeholders.sessionToken,
            domains: domains)
    }

    /// Each placeholder with its value (unlocked now) and how it goes in.
    private static func boundSecrets(
        profile: Profile, paths: CordonPaths, placeholders: [Placeholder], passphrase: Keystore.PassphraseSource?
    ) throws(CordonError) -> [BoundSecret] {
        let keystore = Keystore(paths: KeystorePaths(paths))
        let unlocked = try keystore.unlock(passphrase: {
            () throws(CordonError) -> SecretBytes in
            guard let passphrase else {
                throw CordonError(
                    .invalidArgument, "the keystore \(keystore.paths.store) is protected by a passphrase, and this start has no terminal to ask it at",
                    hint: "start with `cordon run` at a terminal, or pass it on a descriptor: CORDON_PASSPHRASE_FD=3 cordon … 3<passphrase-file")
            }
            return try passphrase()
        })
        var secrets: [BoundSecret] = []
        for placeholder in placeholders {
            guard let value = try unlocked.value(try SecretName(placeholder.secret)) else {
                throw CordonError(
                    .invalidProfile, "the keystore lacks secret \(placeholder.secret); the sandbox was not started",
                    hint: "store it first: cordon secrets set \(placeholder.secret)")
            }
            var domains: [DomainPattern] = []
            for (index, text) in placeholder.domains.enumerated() {
                do { domains.append(try DomainPattern(text)) } catch {
                    throw CordonError(.invalidProfile, "secrets (\(placeholder.secret)).domains[\(index)]: \(error.message)")
                }
            }
            let injection = profile.secrets.first { $0.name == placeholder.secret }?.inject
            secrets.append(
                BoundSecret(
                    placeholder: placeholder.placeholder, name: placeholder.secret, env: placeholder.env, domains: domains, injection: injection,
                    value: value))
        }
        return secrets
    }
}
