"""bench/mitm: the mitmproxy peer's addon, doing what cordon's proxy does for a bound secret.

For requests to MITMBENCH_HOST only, the placeholder MITMBENCH_PLACEHOLDER in `Authorization` is
replaced with the real value MITMBENCH_VALUE (the prefix, e.g. `Bearer `, kept). The origin answers
200 only when it receives the real value, so a request the addon missed fails the benchmark.

MITMBENCH_ADDRESS (an IP address), when set, is where connections to MITMBENCH_HOST really go: the
benchmark's name has no DNS entry, and cordon's profile maps it the same way (`egress.resolve`).
The TLS server name and the certificate check stay MITMBENCH_HOST's.

Loaded by `mitmdump -s bench/mitm/rewrite_addon.py`; run.py sets the variables.
"""
import os

HOST = os.environ["MITMBENCH_HOST"]
PLACEHOLDER = os.environ["MITMBENCH_PLACEHOLDER"]
VALUE = os.environ["MITMBENCH_VALUE"]
ADDRESS = os.environ.get("MITMBENCH_ADDRESS")


class Rewrite:
    def server_connect(self, data):
        # The tunnel's server is the CONNECT target; send it to the mapped address, same name.
        if ADDRESS and data.server.address and data.server.address[0] == HOST:
            data.server.sni = data.server.sni or HOST
            data.server.address = (ADDRESS, data.server.address[1])

    def request(self, flow):
        if flow.request.pretty_host != HOST:
            return
        auth = flow.request.headers.get("authorization")
        if auth and PLACEHOLDER in auth:
            flow.request.headers["authorization"] = auth.replace(PLACEHOLDER, VALUE)


addons = [Rewrite()]
