import CordonOS
import Glibc

/// The open-file limit (RLIMIT_NOFILE) of every process in a sandbox.
///
/// The host's file table (`fs.file-max`) is shared by every process on the machine, and a
/// process that reaches it makes every other unprivileged open on the host fail (ENFILE). A
/// sandbox's processes could otherwise hold their inherited hard limit each, times the pids
/// limit: 1,024 processes × 20,000 descriptors is eight times this table here. So each process
/// gets at most an equal part of half the table (the pids limit decides how many parts; 4,096
/// when the profile sets none), never more than the limit cordon itself was given, never fewer
/// than 64. With the default profile (1,024 processes) on a 24 GiB host (2,466,239 files): 1,204.
/// The limit cannot be raised inside: no CAP_SYS_RESOURCE over the host's user namespace.
enum OpenFilesLimit {
    static let assumedProcesses = 4096
    static let smallest: UInt64 = 64

    static func perProcess(pids: Int?, fileMax: UInt64, inheritedHard: UInt64) -> UInt64 {
        let parts = UInt64(max(1, pids ?? assumedProcesses))
        return min(inheritedHard, max(smallest, fileMax / 2 / parts))
    }

    /// For this host and cordon's own hard limit; nil (the limit inherited) when either cannot be read.
    static func current(pids: Int?) -> UInt64? {
        guard let text = try? FileIO.readFile("/proc/sys/fs/file-max", limit: 64),
            let fileMax = UInt64(String(decoding: text, as: UTF8.self).filter { !$0.isWhitespace }),
            let hard = try? Hardening.hardResourceLimit(Int32(RLIMIT_NOFILE.rawValue))
        else { return nil }
        return perProcess(pids: pids, fileMax: fileMax, inheritedHard: hard)
    }
}
