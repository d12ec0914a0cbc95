import ArgumentParser
import CordonCore
import CordonOS
import CordonSecrets
import Glibc

/// What the secrets commands share: the keystore for this user, how values and passphrases are
/// read (never from argv or the environment), and the exit codes (0 ok, 1 refused, 2 any other
/// error).
enum SecretsTerminal {
    static var keystore: Keystore { Keystore(paths: KeystorePaths(CordonPaths.current())) }

    /// The variable naming a descriptor to read the passphrase from (for scripts: the
    /// passphrase itself never goes into the environment).
    static let passphraseDescriptorVariable = "CORDON_PASSPHRASE_FD"

    /// Prints `error` and returns its exit code.
    static func fail(_ error: CordonError) -> ExitCode {
        Console.error(error)
        return ExitCode(error.code == .policyDenied || error.code == .alreadyExists ? 1 : 2)
    }

    static func name(_ text: String) throws(CordonError) -> SecretName { try SecretName(text) }

    /// The value to store: all of stdin with one trailing newline dropped (`--stdin`), else typed
    /// twice at the terminal without echo.
    static func value(for name: SecretName, fromStdin: Bool) throws(CordonError) -> SecretBytes {
        if fromStdin {
            let value = try SecretBytes.readAll(from: 0, what: "the value on stdin")
            value.removeTrailingNewline()
            return value
        }
        guard Terminal.isTerminal(0) else {
            throw CordonError(.invalidArgument, "stdin is not a terminal to type the value at", hint: "pipe the value in with --stdin")
        }
        return try typedTwice(fd: 0, prompt: "value for \(name)")
    }

    /// The passphrase for a store in passphrase mode (`confirm`: asked twice, when it is chosen).
    static func passphrase(confirm: Bool) throws(CordonError) -> SecretBytes {
        if let text = ProcessEnvironment.current[passphraseDescriptorVariable] {
            guard let fd = Int32(text), fd >= 0 else {
                throw CordonError(
                    .invalidArgument, "\(passphraseDescriptorVariable)=\(text) is not a descriptor number",
                    hint: "set it to an open descriptor, e.g. 3 with 3<passphrase-file")
            }
            let value = try SecretBytes.readAll(from: fd, what: "the passphrase from descriptor \(fd)")
            value.removeTrailingNewline()
            return value
        }
        let tty: FileDescriptor
        do { tty = try FileDescriptor.open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY) } catch {
            throw CordonError(
                .invalidArgument, "the keystore needs its passphrase and there is no terminal to ask it at",
                hint: "pass it on a descriptor: \(passphraseDescriptorVariable)=3 cordon … 3<passphrase-file")
        }
        return confirm ? try typedTwice(fd: tty.raw, prompt: "passphrase") : try typed(fd: tty.raw, prompt: "passphrase")
    }

    private static func typed(fd: Int32, prompt: String) throws(CordonError) -> SecretBytes {
        // Echo goes off before the prompt shows: what is typed the moment the prompt appears (or
        // pasted) must never reach the screen.
        let line = try Terminal.withoutEcho(fd) { () throws(CordonError) in
            show(fd, prompt + ": ")
            return try SecretBytes.readLine(from: fd, what: "the " + prompt)
        }
        guard let line else { throw CordonError(.invalidArgument, "no \(prompt) was typed") }
        return line
    }

    private static func typedTwice(fd: Int32, prompt: String) throws(CordonError) -> SecretBytes {
        let first = try typed(fd: fd, prompt: prompt)
        let second = try typed(fd: fd, prompt: "again, " + prompt)
        guard first.matches(second) else { throw CordonError(.invalidArgument, "the two entries differ; nothing was stored", hint: "run the command again") }
        return first
    }

    /// A prompt on the terminal itself when it is `fd` that is read (stdin's prompt goes to stderr).
    private static func show(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd == 0 ? 2 : fd, $0.baseAddress, $0.count) }
    }
}
