import CordonCore
import CordonOS
import Glibc
import Testing

/// Whether the peer of `readEnd` (a pipe's write end) is closed: poll reports POLLHUP.
func writerClosed(_ readEnd: Int32) -> Bool {
    var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLHUP) != 0
}

struct FileDescriptorTests {
    @Test func droppingTheOwnerClosesTheDescriptor() throws {
        let ends = try FileDescriptor.pipe()
        let reader = ends.first
        let writer = ends.second
        let readEnd = reader.raw
        #expect(!writerClosed(readEnd))
        _ = consume writer
        #expect(writerClosed(readEnd))
    }

    @Test func takeHandsTheDescriptorOnWithoutClosingIt() throws {
        let ends = try FileDescriptor.pipe()
        let reader = ends.first
        let writer = ends.second
        let readEnd = reader.raw
        let raw = writer.take()
        #expect(FileDescriptor.isOpen(raw))
        #expect(!writerClosed(readEnd), "the descriptor was closed although it was handed on")
        // The new owner closes it, once.
        try FileDescriptor(adopting: raw).close()
        #expect(writerClosed(readEnd))
    }

    @Test func closeReportsAndLeavesNothingForDeinit() throws {
        let ends = try FileDescriptor.pipe()
        let reader = ends.first
        let writer = ends.second
        let readEnd = reader.raw
        try writer.close()
        #expect(writerClosed(readEnd))
        let again = try FileDescriptor.pipe()
        let againReader = again.first
        let againWriter = again.second
        let numbers = (againReader.raw, againWriter.raw)
        // A second close of the old number would have hit whatever reused it; the new pipe is intact.
        #expect(FileDescriptor.isOpen(numbers.0) && FileDescriptor.isOpen(numbers.1))
    }

    @Test func aDuplicateOutlivesTheOriginal() throws {
        let ends = try FileDescriptor.pipe()
        let reader = ends.first
        let writer = ends.second
        let readEnd = reader.raw
        let copy = try writer.duplicate()
        _ = consume writer
        #expect(!writerClosed(readEnd))
        try copy.writeAll(Array("x".utf8))
        let got = try reader.read(upTo: 8)
        #expect(got == Array("x".utf8))
    }
}

struct SystemErrorTests {
    @Test func theErrorAUserReadsNamesTheOperationThePathAndTheReason() {
        let path = "/nonexistent-\(getpid())/profile.yaml"
        do {
            _ = try FileDescriptor.open(path, O_RDONLY)
            Issue.record("opened a file that does not exist")
        } catch {
            #expect(error.errno == ENOENT)
            let visible = error.cordonError(.io)
            #expect(visible.code == .io)
            #expect(visible.description.contains("cannot open \(path)"), "\(visible)")
            #expect(visible.description.contains("No such file or directory"), "\(visible)")
            let phrased = error.cordonError(.io, "cannot load the profile \(path)", hint: "create it")
            #expect(phrased.description == "cannot load the profile \(path) (No such file or directory)\n  fix: create it")
        }
    }

    @Test func anErrnoAloneBecomesTheCause() {
        let error = CordonError(.io, "cannot lock the registry", errno: EWOULDBLOCK)
        #expect(error.cause == String(cString: strerror(EWOULDBLOCK)))
    }
}
