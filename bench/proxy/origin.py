#!/usr/bin/env python3
"""HTTPS origin for bench/proxy: one request per connection, bodies generated in memory.

  GET /big    Content-Length: --big-mib MiB, a 1 MiB buffer written over and over
  GET /small  3 bytes ("ok\\n")
  anything    404

Every response carries `Connection: close` and the connection is closed after it, so each
request is a new TCP connection and a new TLS handshake on every path. A connection that never
sends a request (the idle-RSS test) is held open until the client goes away.

--workers processes (forked after the listening socket is bound) each accept with a thread per
connection; ssl's handshake, read and write run without the GIL. On a small machine the origin and
the client share the CPUs with the proxy under test (run.py reports the proxies' own CPU time for
that reason). Prints `port N` (and `http-port N`) on stdout once listening.
--http-port also serves the same paths over plain HTTP.
Usage: origin.py --cert C --key K [--port 0] [--http-port P] [--workers N] [--big-mib 256]
"""
import argparse, os, signal, socket, ssl, sys, threading

CHUNK = 1 << 20


def serve(conn, ctx, big_bytes, buf):
    try:
        conn.settimeout(None)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = ctx.wrap_socket(conn, server_side=True) if ctx else conn
    except (OSError, ssl.SSLError):
        conn.close()
        return
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                return
            data += chunk
            if len(data) > 65536:
                return
        line = data.split(b"\r\n", 1)[0].split()
        path = line[1] if len(line) > 1 else b"/"
        if path.startswith(b"/big"):
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % big_bytes)
            left = big_bytes
            while left > 0:
                n = min(left, CHUNK)
                tls.sendall(buf[:n])
                left -= n
        elif path.startswith(b"/small"):
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                        b"Connection: close\r\n\r\nok\n")
        else:
            tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        if ctx:
            try:
                tls.unwrap()
            except (OSError, ssl.SSLError, ValueError):
                pass
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            tls.close()
        except OSError:
            pass


def worker(listener, ctx, big_bytes):
    buf = memoryview(bytes(range(256)) * (CHUNK // 256))
    while True:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        except OSError:
            return
        threading.Thread(target=serve, args=(conn, ctx, big_bytes, buf), daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=None, help="also serve plain HTTP on this port (0: any)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--big-mib", type=int, default=256)
    args = parser.parse_args()
    threading.stack_size(256 * 1024)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # No session tickets: every connection is a full handshake on every path (TLS 1.3 resumes
    # only with tickets), so one curl process running many transfers measures new connections.
    ctx.num_tickets = 0
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(4096)
    print("port", listener.getsockname()[1], flush=True)
    plain = None
    if args.http_port is not None:
        plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        plain.bind((args.host, args.http_port))
        plain.listen(4096)
        print("http-port", plain.getsockname()[1], flush=True)
    children = []
    for _ in range(max(1, args.workers)):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:  # die with the parent (PR_SET_PDEATHSIG)
                import ctypes
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
            except (OSError, AttributeError):
                pass
            if plain is not None:
                threading.Thread(target=worker, args=(plain, None, args.big_mib << 20), daemon=True).start()
            worker(listener, ctx, args.big_mib << 20)
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    # Exit (and take the workers along) when the parent closes our stdin or dies.
    try:
        sys.stdin.read()
    finally:
        stop()


if __name__ == "__main__":
    main()
