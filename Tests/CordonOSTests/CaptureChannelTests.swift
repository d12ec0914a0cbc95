import CordonOS
import Glibc
import Testing

struct CaptureChannelTests {
    /// Four pipes stand in for the listeners: what goes into a pipe's write end here comes out of
    /// the read end the supervisor received.
    @Test func listenersCrossTheSocketAndStillWork() throws {
        var channel = try CaptureChannel.make()
        var writers: [Int32] = []
        var readers: [Int32] = []
        for _ in 0..<4 {
            let ends = try FileDescriptor.pipe()
            let reader = ends.first
            let writer = ends.second
            readers.append(reader.take())
            writers.append(writer.take())
        }
        defer { writers.forEach { close($0) } }
        try CaptureChannel.report(CaptureListeners(readers)!, over: channel.child)
        channel.closeChild()
        guard case .listeners(let received) = channel.receive() else {
            Issue.record("no listeners arrived")
            return
        }
        #expect(received.count == 4)
        for (index, fd) in received.enumerated() {
            let owned = FileDescriptor(adopting: fd)
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "a received descriptor would leak into a child")
            try FileIO.writeAll(fd: writers[index], [UInt8(index)])
            let got = try owned.read(upTo: 4)
            #expect(got == [UInt8(index)])
        }
    }

    @Test func aReasonArrivesInsteadOfListeners() throws {
        var channel = try CaptureChannel.make()
        try CaptureChannel.report(unavailable: "no nf_tables here", over: channel.child)
        channel.closeChild()
        #expect(channel.receive() == .unavailable("no nf_tables here"))
    }

    /// A peer that claims success with the wrong number of descriptors is refused, and what it
    /// sent is closed, not served.
    @Test func anOkWithTooFewListenersIsRefusedAndClosed() throws {
        var channel = try CaptureChannel.make()
        let ends = try FileDescriptor.pipe()
        let reader = ends.first
        let writer = ends.second
        try DescriptorPassing.send([reader.raw, reader.raw, reader.raw], message: Array("ok".utf8), over: channel.child)
        channel.closeChild()
        _ = consume reader
        #expect(channel.receive() == .unavailable("init handed over 3 listeners instead of 4"))
        // Every received copy of the read end is closed: the write end now sees a broken pipe.
        var entry = pollfd(fd: writer.raw, events: Int16(POLLOUT), revents: 0)
        #expect(poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLERR) != 0)
    }

    @Test func aPeerThatEndsWithoutReportingReadsAsClosed() throws {
        var channel = try CaptureChannel.make()
        channel.closeChild()
        #expect(channel.receive() == .closed)
    }
}
