/// The two Python programs of the network and secrets attacks: the far side (stand-in targets,
/// run by the host inside the lab's network namespace: TCP listeners, an upstream DNS resolver,
/// a UDP listener, an ICMP watcher, an abstract unix socket, each logging what it received with
/// the local address it arrived at) and the client tool the attacks run inside sandboxes (and on
/// the host for controls). Neither holds a marker: markers come on the command line.
enum NetworkPython {
    /// The far side: `farside.py LOG PIDFILE`. Each line of LOG is `LOCAL<TAB>HEX` (the local
    /// address and port, `udp:…`, `icmp`, `abstract`, and the bytes received, hex).
    static let farSide = #"""
        import os, select, socket, sys, threading, binascii
        log_path, pid_path = sys.argv[1], sys.argv[2]
        lock = threading.Lock()
        def record(where, data):
            with lock:
                with open(log_path, "a") as f:
                    f.write(where + "\t" + binascii.hexlify(data).decode() + "\n")
        def answer(head):
            line = head.split(b"\r\n", 1)[0]
            if line.startswith(b"PUT /latest/api/token"):
                return b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\ntoken-for-v2"
            if b" /redirect/" in line:
                rest = line.split(b" /redirect/", 1)[1].split(b" ", 1)[0]
                return b"HTTP/1.1 302 Found\r\nLocation: http://unlisted.test:8080/landed-" + rest + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            if b"upgrade: websocket" in head.lower():
                return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
            if line[:1].isalpha():
                return b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            return b""
        def serve(conn, where):
            # A client may stay silent a while first (net.silent-fronting waits out the sniff timeout).
            conn.settimeout(8)
            got = b""
            answered = False
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.settimeout(1.5)
                    record(where, data)
                    got += data
                    if not answered and b"\r\n\r\n" in got:
                        answered = True
                        reply = answer(got)
                        if reply:
                            conn.sendall(reply)
            except OSError:
                pass
            conn.close()
        def tcp(sock):
            while True:
                conn, _ = sock.accept()
                local = conn.getsockname()
                where = "%s:%d" % (local[0].replace("::ffff:", ""), local[1])
                threading.Thread(target=serve, args=(conn, where), daemon=True).start()
        def abstract(sock):
            while True:
                conn, _ = sock.accept()
                threading.Thread(target=serve, args=(conn, "abstract"), daemon=True).start()
        def udp(sock, where):
            while True:
                data, peer = sock.recvfrom(65536)
                record(where, data)
                if where == "udp:53" and len(data) >= 12:
                    # NXDOMAIN at once, so a resolver asking here does not wait.
                    sock.sendto(data[:2] + bytes([0x81, 0x83]) + data[4:6] + b"\0\0\0\0\0\0" + data[12:], peer)
        def icmp(sock):
            while True:
                data = sock.recv(65536)
                record("icmp", data)
        threads = []
        for port in (80, 443, 8080, 8443, 9090):
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
            s.listen(64)
            threads.append(threading.Thread(target=tcp, args=(s,), daemon=True))
        for port in (53, 9999):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", port))
            threads.append(threading.Thread(target=udp, args=(s, "udp:%d" % port), daemon=True))
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        threads.append(threading.Thread(target=icmp, args=(s,), daemon=True))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\0cordon-selftest-abstract")
        s.listen(16)
        threads.append(threading.Thread(target=abstract, args=(s,), daemon=True))
        for t in threads:
            t.start()
        with open(pid_path, "w") as f:
            f.write(str(os.getpid()))
        threading.Event().wait()
        """#

    /// The client: `nettool.py COMMAND …`; prints what happened, never judged.
    static let client = #"""
        import os, socket, ssl, struct, sys, base64, time
        # SILENT=SECONDS: say nothing that long after connecting (after the tunnel opens), then send.
        SILENT = float(os.environ.get("SILENT", "0"))
        def out(*a):
            print(*a, flush=True)
        def proxy():
            p = os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy") or ""
            p = p.split("//", 1)[-1].strip("/")
            if not p:
                return None
            h, _, port = p.rpartition(":")
            return (h, int(port))
        def talk(addr, payload, family=None, wait=1.0):
            try:
                fam = family or (socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(4)
                s.connect(addr)
                time.sleep(SILENT)
                s.sendall(payload)
                s.settimeout(wait)
                got = b""
                try:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            break
                        got += d
                except OSError:
                    pass
                s.close()
                out("talk", addr, "->", got[:120])
                return got
            except OSError as e:
                out("talk", addr, "failed:", e)
                return b""
        def hello(sni, pad=0):
            # pad: that many more bytes in padding extensions (a hello past 64 KiB spans records).
            name = sni.encode()
            sn = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
            ext = struct.pack("!HH", 0, len(sn)) + sn
            ext += struct.pack("!HHH", 43, 3, 0x0203)[:4] + b"\x02\x03\x04"
            # Each length is 16 bits: the bulk goes in a long cipher-suite list, the rest in padding.
            suites = b"\x13\x01" + b"\x0a\x0a" * min(pad // 2, 32000)
            rest = max(0, pad - len(suites))
            if rest:
                ext += struct.pack("!HH", 21, rest) + b"\0" * rest
            body = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(ext)) + ext
            hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
            out_ = b""
            for i in range(0, len(hs), 16384):
                piece = hs[i:i + 16384]
                out_ += b"\x16\x03\x01" + struct.pack("!H", len(piece)) + piece
            return out_
        def via_connect(target, payload):
            p = proxy()
            if not p:
                out("no proxy")
                return
            try:
                s = socket.create_connection(p, timeout=4)
                s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
                head = s.recv(4096)
                out("CONNECT", target, "->", head[:60])
                time.sleep(SILENT)
                s.sendall(payload)
                s.settimeout(1.5)
                try:
                    out("tunnel ->", s.recv(4096)[:60])
                except OSError:
                    pass
                s.close()
            except OSError as e:
                out("CONNECT", target, "failed:", e)
        def via_forward(url, extra=""):
            p = proxy()
            if not p:
                out("no proxy")
                return
            host = url.split("//", 1)[1].split("/", 1)[0]
            talk(p, ("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n" % (url, host, extra)).encode())
        def unix_sockets():
            # Every unix socket this process can see: /proc/net/unix (abstract names as @NAME)
            # and socket files under the usual directories.
            import stat
            names = set()
            try:
                for line in open("/proc/net/unix").read().splitlines()[1:]:
                    parts = line.split()
                    if len(parts) >= 8:
                        names.add(parts[7])
            except OSError as e:
                out("/proc/net/unix:", e)
            for root in ("/run", "/var/run", "/tmp", "/workspace", "/home", "/root", "/var/lib", "/dev"):
                for d, _, files in os.walk(root):
                    for f in files:
                        p = os.path.join(d, f)
                        try:
                            if stat.S_ISSOCK(os.lstat(p).st_mode):
                                names.add(p)
                        except OSError:
                            pass
            return names
        def dns_query(name, qtype):
            q = os.urandom(2) + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            for label in name.strip(".").split("."):
                q += bytes([len(label)]) + label.encode()
            return q + b"\x00" + struct.pack("!HH", qtype, 1)
        def nameservers():
            try:
                return [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")] or ["127.0.0.1"]
            except OSError:
                return ["127.0.0.1"]
        def dns(server, name, qtype):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            try:
                s.sendto(dns_query(name, qtype), (server, 53))
                r = s.recv(4096)
                out("dns", server, name, qtype, "rcode", r[3] & 15, "answers", r[7])
            except OSError as e:
                out("dns", server, name, qtype, "failed:", e)
        cmd, args = sys.argv[1], [a.replace("\\r\\n", "\r\n") for a in sys.argv[2:]]
        if cmd == "send":
            # send ADDR PORT TEXT: a direct TCP connection.
            talk((args[0], int(args[1])), args[2].encode() + b"\r\n\r\n")
        elif cmd == "http":
            # http ADDR PORT PATH HOST [HEADER…]: a direct request.
            extra = "".join(h + "\r\n" for h in args[4:])
            talk((args[0], int(args[1])), ("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n" % (args[2], args[3], extra)).encode())
        elif cmd == "forward":
            # forward URL [HEADER…]: an absolute-form request to the proxy.
            via_forward(args[0], "".join(h + "\r\n" for h in args[1:]))
        elif cmd == "forward-host":
            # forward-host URL HOST: an absolute-form request whose Host differs.
            p = proxy()
            if p:
                talk(p, ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (args[0], args[1])).encode())
        elif cmd == "connect":
            # connect TARGET TEXT: CONNECT through the proxy, then TEXT.
            via_connect(args[0], args[1].encode() + b"\r\n\r\n")
        elif cmd == "connect-tls":
            # connect-tls TARGET SNI: CONNECT, then a ClientHello naming SNI.
            via_connect(args[0], hello(args[1]))
        elif cmd == "tls":
            # tls ADDR PORT SNI: a direct ClientHello naming SNI.
            talk((args[0], int(args[1])), hello(args[2]))
        elif cmd == "connect-tls-big":
            # connect-tls-big TARGET SNI: CONNECT, then a ClientHello over 64 KiB naming SNI.
            via_connect(args[0], hello(args[1], pad=70000))
        elif cmd == "tls-big":
            # tls-big ADDR PORT SNI: a direct ClientHello over 64 KiB naming SNI.
            talk((args[0], int(args[1])), hello(args[2], pad=70000))
        elif cmd == "socks":
            # socks HOST PORT TEXT: a SOCKS5 CONNECT to the proxy's port, then TEXT.
            p = proxy()
            if not p:
                out("no proxy")
            else:
                try:
                    s = socket.create_connection(p, timeout=4)
                    s.sendall(b"\x05\x01\x00")
                    s.recv(2)
                    name = args[0].encode()
                    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", int(args[1])))
                    reply = s.recv(10)
                    out("socks", args[0], args[1], "->", reply[:2])
                    time.sleep(SILENT)
                    s.sendall(args[2].encode() + b"\r\n\r\n")
                    s.settimeout(1.5)
                    try:
                        out("tunnel ->", s.recv(4096)[:60])
                    except OSError:
                        pass
                except OSError as e:
                    out("socks failed:", e)
        elif cmd == "dns":
            # dns NAME TYPE… : to every nameserver of resolv.conf and to ADDR given by DNS_EXTRA.
            servers = nameservers() + [s for s in os.environ.get("DNS_EXTRA", "").split(",") if s]
            for server in servers:
                for t in args[1:]:
                    dns(server, args[0], int(t))
        elif cmd == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.sendto(args[2].encode(), (args[0], int(args[1])))
                out("udp sent")
            except OSError as e:
                out("udp failed:", e)
        elif cmd == "icmp":
            # icmp ADDR TEXT: echo requests from a ping socket and a raw socket.
            payload = args[1].encode()
            def checksum(b):
                if len(b) % 2:
                    b += b"\0"
                s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
                s = (s >> 16) + (s & 0xFFFF)
                s += s >> 16
                return (~s) & 0xFFFF
            pkt = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + payload
            pkt = pkt[:2] + struct.pack("!H", checksum(pkt)) + pkt[4:]
            for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
                try:
                    s = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
                    s.sendto(pkt, (args[0], 0))
                    out("icmp", kind, "sent")
                except OSError as e:
                    out("icmp", kind, "failed:", e)
        elif cmd == "raw":
            # raw ADDR TEXT: a hand-made UDP datagram to port 9999 through a raw IP socket.
            payload = args[1].encode()
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
                s.sendto(struct.pack("!HHHH", 40000, 9999, 8 + len(payload), 0) + payload, (args[0], 0))
                out("raw sent")
            except OSError as e:
                out("raw failed:", e)
            try:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                out("packet socket opened")
            except OSError as e:
                out("packet failed:", e)
        elif cmd == "abstract":
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(3)
                s.connect("\0" + args[0])
                s.sendall(args[1].encode() + b"\r\n\r\n")
                out("abstract sent")
            except OSError as e:
                out("abstract failed:", e)
        elif cmd == "unix-all":
            # unix-all TEXT: every unix socket this process can see, files and abstract names.
            for n in sorted(unix_sockets()):
                addr = "\0" + n[1:] if n.startswith("@") else n
                for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET, socket.SOCK_DGRAM):
                    try:
                        s = socket.socket(socket.AF_UNIX, kind)
                        s.settimeout(2)
                        s.connect(addr)
                        s.sendall(args[0].encode())
                        out("unix", n, kind, "sent")
                        s.close()
                    except OSError as e:
                        out("unix", n, kind, "failed:", e)
        elif cmd == "unix-send":
            # unix-send HEX PATH…: the bytes HEX to each PATH and (unless ONLY_GIVEN=1) to every
            # socket file this process can see, as they are and through every /proc/*/root and
            # /proc/*/cwd; stream and seqpacket, connected from the socket's directory (a path
            # too long for sun_path still connects).
            import glob
            only = os.environ.get("ONLY_GIVEN") == "1"
            paths = set(args[1:]) | (set() if only else {n for n in unix_sockets() if not n.startswith("@")})
            roots = [] if only else glob.glob("/proc/[0-9]*/root") + glob.glob("/proc/[0-9]*/cwd")
            for path in sorted(paths):
                for target in [path] + [r + path for r in roots]:
                    for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
                        try:
                            os.chdir(os.path.dirname(target) or "/")
                            s = socket.socket(socket.AF_UNIX, kind)
                            s.settimeout(2)
                            s.connect(os.path.basename(target))
                            s.sendall(bytes.fromhex(args[0]))
                            out("sent to", target)
                            s.close()
                        except OSError:
                            pass
            out("probed", len(paths), "paths through", len(roots), "roots")
        elif cmd == "memory":
            # memory: every process's environment and readable memory, printed where printable.
            import re
            for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    out(open("/proc/%s/environ" % pid, "rb").read().replace(b"\0", b"\n").decode(errors="replace"))
                except OSError as e:
                    out(pid, "environ:", e)
                try:
                    maps = open("/proc/%s/maps" % pid).read().splitlines()
                    mem = open("/proc/%s/mem" % pid, "rb", 0)
                except OSError as e:
                    out(pid, "mem:", e)
                    continue
                for line in maps:
                    a, b = [int(x, 16) for x in line.split()[0].split("-")]
                    if "r" not in line.split()[1] or b - a > 64 << 20:
                        continue
                    try:
                        mem.seek(a)
                        for m in re.findall(rb"[ -~]{12,}", mem.read(b - a)):
                            if b"secretvalue" in m.lower():
                                out(m.decode())
                    except (OSError, ValueError, OverflowError):
                        pass
        """#
}
