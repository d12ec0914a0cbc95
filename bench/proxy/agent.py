#!/usr/bin/env python3
"""bench/proxy measurement agent: runs commands for run.py and answers in JSON, one line each.

run.py starts it once inside `cordon run` (so sandbox start-up is never measured) and once on the
host, in a session of its own, for the direct and Squid paths, so every path runs the same code
from the same kind of place. Commands, one JSON
object per line on stdin:

  {"op": "run", "argv": [...]}                 -> {"rc", "stdout", "stderr", "seconds", "cpu"}
        (cpu: the command's user + system seconds)
  {"op": "repeat", "argv": [...], "n": N}      -> {"rc", "lines"}: stdout of N runs, one after another
  {"op": "hold", "n": N, "host", "port", "cafile", "proxy": null | [host, port]}
        opens N TLS connections to host:port (directly, or through an HTTP CONNECT proxy) and
        keeps them open without sending a request -> {"opened", "failed", "errors", "seconds"}
  {"op": "release"}                            -> sends GET /small on every held connection,
        counts the answers, closes them -> {"answered", "unanswered", "errors"}
  {"op": "phases", "n": N, "host", "port", "cafile", "proxy": null | [host, port], "address": null | ip}
        N new connections, one after another, each timed phase by phase (seconds): dns (the name
        looked up when neither proxy nor address is given), tcp, connect (CONNECT until its answer),
        tls (handshake), response (GET /small until the server closes) -> {"samples": [...], "errors"}
  {"op": "exit"}
Uses only the standard library (the sandbox sees the host's /usr/bin/python3).
"""
import json, os, resource, socket, ssl, subprocess, sys, time

_held = []


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv, timeout=None):
    start = time.perf_counter()
    cpu = _children_cpu()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = -1, e.stdout or b"", (e.stderr or b"") + b"\ntimeout"
    return {"rc": rc, "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace")[-2000:],
            "seconds": time.perf_counter() - start, "cpu": _children_cpu() - cpu}


def _open(host, port, cafile, proxy):
    ctx = ssl.create_default_context(cafile=cafile)
    if proxy:
        s = socket.create_connection(tuple(proxy), timeout=30)
        s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port, host.encode(), port))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("proxy closed before answering CONNECT")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 200" not in status:
            raise ConnectionError("CONNECT refused: " + status.decode(errors="replace"))
    else:
        s = socket.create_connection((host, port), timeout=30)
    return ctx.wrap_socket(s, server_hostname=host)


def _error_name(e):
    return f"{type(e).__name__}: {e}"[:120]


def hold(n, host, port, cafile, proxy=None):
    errors = {}
    start = time.perf_counter()
    for _ in range(n):
        try:
            _held.append((_open(host, port, cafile, proxy), host))
        except Exception as e:  # count and go on: the point is how many stay open
            key = _error_name(e)
            errors[key] = errors.get(key, 0) + 1
    return {"opened": len(_held), "failed": n - len(_held), "errors": errors, "seconds": time.perf_counter() - start}


def phases(n, host, port, cafile, proxy=None, address=None):
    ctx = ssl.create_default_context(cafile=cafile)
    samples, errors = [], {}
    request = b"GET /small HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode()
    for _ in range(n):
        try:
            t0 = time.perf_counter()
            target = address
            if proxy is None and address is None:
                target = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
            t1 = time.perf_counter()
            s = socket.create_connection(tuple(proxy) if proxy else (target, port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t2 = time.perf_counter()
            if proxy:
                s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port, host.encode(), port))
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise ConnectionError("proxy closed before answering CONNECT")
                    head += chunk
                if b" 200" not in head.split(b"\r\n", 1)[0]:
                    raise ConnectionError("CONNECT refused")
            t3 = time.perf_counter()
            tls = ctx.wrap_socket(s, server_hostname=host)
            t4 = time.perf_counter()
            tls.sendall(request)
            data = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            t5 = time.perf_counter()
            tls.close()
            if not data.startswith(b"HTTP/1.1 200"):
                raise ConnectionError("bad answer")
            samples.append({"dns": t1 - t0, "tcp": t2 - t1, "connect": t3 - t2, "tls": t4 - t3, "response": t5 - t4,
                            "total": t5 - t0})
        except Exception as e:
            key = _error_name(e)
            errors[key] = errors.get(key, 0) + 1
    return {"samples": samples, "errors": errors}


def release():
    answered, errors = 0, {}
    for tls, host in _held:
        try:
            tls.settimeout(10)
            tls.sendall(b"GET /small HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
            data = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                answered += 1
            else:
                errors["bad answer"] = errors.get("bad answer", 0) + 1
        except Exception as e:
            key = _error_name(e)
            errors[key] = errors.get(key, 0) + 1
        finally:
            try:
                tls.close()
            except OSError:
                pass
    unanswered = len(_held) - answered
    _held.clear()
    return {"answered": answered, "unanswered": unanswered, "errors": errors}


def execute(cmd):
    op = cmd["op"]
    if op == "run":
        return _run(cmd["argv"], cmd.get("timeout"))
    if op == "repeat":
        lines, rc = [], 0
        for _ in range(cmd["n"]):
            r = _run(cmd["argv"], cmd.get("timeout"))
            rc = rc or r["rc"]
            lines.append(r["stdout"].strip() if r["rc"] == 0 else "error " + r["stderr"].strip().replace("\n", " "))
        return {"rc": rc, "lines": lines}
    if op == "hold":
        return hold(cmd["n"], cmd["host"], cmd["port"], cmd["cafile"], cmd.get("proxy"))
    if op == "release":
        return release()
    if op == "phases":
        return phases(cmd["n"], cmd["host"], cmd["port"], cmd["cafile"], cmd.get("proxy"), cmd.get("address"))
    if op == "ping":
        return {"pid": os.getpid(), "uid": os.getuid()}
    raise ValueError(f"unknown op {op}")


def main():
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["op"] == "exit":
            break
        try:
            result = execute(cmd)
        except Exception as e:
            result = {"error": _error_name(e)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
