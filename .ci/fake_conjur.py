#!/usr/bin/env python3
"""A fake CyberArk Conjur (Secrets Manager) for secret-ref's integration tests.

Python standard library only; binds 127.0.0.1 only. It follows Conjur's REST API as the
server's own controllers implement it (cyberark/conjur: authenticate_controller.rb,
secrets_controller.rb, application_controller.rb):

  GET  /authn/{account}/login                   Basic auth (login + password or API key)
                                                -> 200 text/plain: the API key; else 401
  POST /authn/{account}/{login}/authenticate    body: the API key ({login} URL-encoded)
                                                -> 200 application/json: the access token,
                                                   or with "Accept-Encoding: base64",
                                                   200 text/plain + "Content-Encoding: base64":
                                                   strict base64 of that JSON; else 401
  GET  /secrets/{account}/variable/{id}[?version=N]
       Authorization: Token token="<base64 of the token JSON>"
                                                -> 200 application/octet-stream: the value
                                                   401 (empty body): no, bad, expired or
                                                       revoked token
                                                   403 (empty body): the login may not read
                                                       (execute) this variable
                                                   404 {"error":{"code":"not_found",...}}:
                                                       unknown variable, or no such version
  GET  /whoami, GET /info                       what the official clients call

The access token is Conjur's JSON form of a Slosilo JWT: {"protected","payload","signature"},
each base64url; the payload holds "sub", "iat" and "exp". It lasts --token-ttl seconds
(Conjur: 8 minutes), or an identity's own "token_ttl".

Test-only endpoints (not Conjur's), under /_fake/:

  POST /_fake/identities   {"login", "api_key", "password"?, "deny": [ids]?, "token_ttl"?}
  POST /_fake/variables    {"id", "value"}  -> {"version": N} (adds a version)
  POST /_fake/revoke       {"login"}        -> every token issued to it so far is refused
  GET  /_fake/requests[?id=<variable id>&login=<login>]
                           -> [{"method","route","login","id","version","status"}, ...]
                              (route: authenticate, login, secret, whoami, info, other)
  GET  /_fake/health       -> {"ok": true}

--seed FILE loads {"identities": [...], "variables": {"id": ["v1", "v2", ...]}} at start.
--tls-port/--tls-cert/--tls-key add an https listener with the same state.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import json
import re
import secrets
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN_HEADER = re.compile(r'^Token token="([^"]*)"$')


def b64url(data):
    return base64.urlsafe_b64encode(data).decode("ascii")


class State:
    def __init__(self, account, token_ttl):
        self.lock = threading.Lock()
        self.account = account
        self.token_ttl = token_ttl
        self.key = secrets.token_bytes(32)
        self.identities = {}  # login -> dict(api_key, password, deny, token_ttl)
        self.variables = {}  # id -> [values]
        self.tokens = {}  # signature -> (login, exp)
        self.requests = collections.deque(maxlen=200_000)

    def add_identity(self, spec):
        login = spec["login"]
        with self.lock:
            self.identities[login] = {
                "api_key": spec["api_key"],
                "password": spec.get("password"),
                "deny": set(spec.get("deny", [])),
                "token_ttl": spec.get("token_ttl"),
            }

    def add_value(self, var_id, value):
        with self.lock:
            versions = self.variables.setdefault(var_id, [])
            versions.append(value)
            return len(versions)

    def issue(self, login):
        with self.lock:
            ttl = self.identities[login]["token_ttl"] or self.token_ttl
            now = int(time.time())
            protected = b64url(json.dumps(
                {"alg": "conjur.org/slosilo/v2", "kid": hashlib.sha256(self.key).hexdigest()[:32]}
            ).encode())
            payload = b64url(json.dumps({"sub": login, "iat": now, "exp": now + ttl}).encode())
            mac = hmac.new(self.key, f"{protected}.{payload}".encode(), hashlib.sha256).digest()
            signature = b64url(mac + secrets.token_bytes(8))
            self.tokens[signature] = (login, now + ttl)
            if len(self.tokens) > 100_000:  # bounded: drop the expired ones
                self.tokens = {s: v for s, v in self.tokens.items() if v[1] > time.time()}
            return {"protected": protected, "payload": payload, "signature": signature}

    def token_login(self, header):
        """The login a request's token belongs to, or None (401)."""
        m = TOKEN_HEADER.match(header or "")
        if not m:
            return None
        try:
            token = json.loads(base64.b64decode(m.group(1), validate=True))
            signature = token["signature"]
        except (ValueError, TypeError, KeyError):
            return None
        with self.lock:
            found = self.tokens.get(signature)
        if not found or found[1] <= time.time():
            return None
        return found[0]

    def revoke(self, login):
        with self.lock:
            self.tokens = {s: v for s, v in self.tokens.items() if v[0] != login}


class Handler(BaseHTTPRequestHandler):
    server_version = "conjur-fake/1.0"
    protocol_version = "HTTP/1.1"
    state = None  # set in main()

    def log_message(self, fmt, *args):  # quiet; the recording is the log
        pass

    # -- plumbing --

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=b"", content_type=None, headers=()):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def json(self, status, value):
        self.send(status, json.dumps(value).encode(), "application/json")

    def record(self, route, status, login=None, var_id=None, version=None):
        self.state.requests.append({
            "method": self.command, "route": route, "login": login,
            "id": var_id, "version": version, "status": status,
        })

    def split(self):
        parts = urlsplit(self.path)
        # Raw segments: an encoded `/` (%2F) inside one stays inside it.
        return [unquote(s) for s in parts.path.split("/")[1:]], parse_qs(parts.query)

    # -- routes --

    def do_GET(self):
        segs, query = self.split()
        st = self.state
        if segs[:1] == ["_fake"]:
            return self.fake_get(segs, query)
        if len(segs) == 3 and segs[0] == "authn" and segs[2] == "login":
            return self.login(segs[1])
        if len(segs) >= 4 and segs[0] == "secrets":
            return self.secret(segs, query)
        if segs == ["whoami"]:
            login = st.token_login(self.headers.get("Authorization"))
            status = 200 if login else 401
            self.record("whoami", status, login)
            if not login:
                return self.send(401)
            return self.json(200, {"client_ip": self.client_address[0],
                                   "user_agent": self.headers.get("User-Agent"),
                                   "account": st.account, "username": login,
                                   "token_issued_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})
        if segs == ["info"]:
            self.record("info", 200)
            return self.json(200, {"release": "13.5.0", "version": "13.5.0",
                                   "services": {"possum": {"desired": "i", "status": "i",
                                                           "err": None, "description": "Conjur API Server",
                                                           "name": "conjur-possum", "version": "1.21.1",
                                                           "arch": "x86_64"}},
                                   "container": "fake", "role": "master", "configuration": {}})
        self.record("other", 404)
        return self.send(404)

    def do_POST(self):
        segs, _ = self.split()
        if segs[:1] == ["_fake"]:
            return self.fake_post(segs)
        if len(segs) == 4 and segs[0] == "authn" and segs[3] == "authenticate":
            return self.authenticate(segs[1], segs[2])
        self.record("other", 404)
        self.body()
        return self.send(404)

    def login(self, account):
        st = self.state
        auth = self.headers.get("Authorization") or ""
        login = None
        if auth.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(auth[6:], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, secret = None, None
            ident = st.identities.get(user)
            if account == st.account and ident and secret in (ident["api_key"], ident["password"]):
                login = user
        self.record("login", 200 if login else 401, login)
        if not login:
            return self.send(401)
        return self.send(200, st.identities[login]["api_key"].encode(), "text/plain; charset=utf-8")

    def authenticate(self, account, login):
        st = self.state
        given = self.body().decode("utf-8", "replace")
        ident = st.identities.get(login)
        ok = account == st.account and ident is not None and hmac.compare_digest(
            given.encode(), ident["api_key"].encode())
        self.record("authenticate", 200 if ok else 401, login)
        if not ok:
            return self.send(401)
        token = json.dumps(st.issue(login))
        encodings = [e.strip().lower() for e in (self.headers.get("Accept-Encoding") or "").split(",")]
        if "base64" in encodings:
            return self.send(200, base64.b64encode(token.encode()), "text/plain; charset=utf-8",
                             [("Content-Encoding", "base64")])
        return self.send(200, token.encode(), "application/json; charset=utf-8")

    def secret(self, segs, query):
        st = self.state
        account, kind, var_id = segs[1], segs[2], "/".join(segs[3:])
        version = (query.get("version") or [None])[0]
        login = st.token_login(self.headers.get("Authorization"))
        if not login:
            self.record("secret", 401, None, var_id, version)
            return self.send(401)
        with st.lock:
            versions = list(st.variables.get(var_id, [])) if account == st.account else None
            denied = var_id in st.identities[login]["deny"]
        full_id = f"{account}:{kind}:{var_id}"
        if kind != "variable" or versions is None or (not versions and var_id not in st.variables):
            self.record("secret", 404, login, var_id, version)
            return self.json(404, {"error": {
                "code": "not_found",
                "message": f"{kind.capitalize()} '{var_id}' not found in account '{account}'",
                "target": kind,
                "details": {"code": "not_found", "target": "id", "message": full_id}}})
        if denied:
            self.record("secret", 403, login, var_id, version)
            return self.send(403)
        value = None
        if version is None:
            value = versions[-1] if versions else None
        elif version.isdigit() and 1 <= int(version) <= len(versions):
            value = versions[int(version) - 1]
        if value is None:
            self.record("secret", 404, login, var_id, version)
            return self.json(404, {"error": {
                "code": "not_found",
                "message": f"CONJ00076E Variable {full_id} is empty or not found."}})
        self.record("secret", 200, login, var_id, version)
        return self.send(200, value.encode(), "application/octet-stream")

    # -- test-only API --

    def fake_get(self, segs, query):
        st = self.state
        if segs == ["_fake", "health"]:
            return self.json(200, {"ok": True})
        if segs == ["_fake", "requests"]:
            wanted_id = (query.get("id") or [None])[0]
            wanted_login = (query.get("login") or [None])[0]
            rows = [r for r in list(st.requests)
                    if (wanted_id is None or r["id"] == wanted_id)
                    and (wanted_login is None or r["login"] == wanted_login)]
            return self.json(200, rows)
        return self.send(404)

    def fake_post(self, segs):
        st = self.state
        try:
            spec = json.loads(self.body() or b"{}")
        except ValueError:
            return self.json(400, {"error": "body is not JSON"})
        if segs == ["_fake", "identities"]:
            st.add_identity(spec)
            return self.json(201, {"login": spec["login"]})
        if segs == ["_fake", "variables"]:
            return self.json(201, {"version": st.add_value(spec["id"], spec["value"])})
        if segs == ["_fake", "revoke"]:
            st.revoke(spec["login"])
            return self.json(200, {"revoked": spec["login"]})
        return self.send(404)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--account", default="myorg")
    p.add_argument("--token-ttl", type=int, default=480, help="seconds (Conjur: 8 minutes)")
    p.add_argument("--seed", help="JSON file of identities and variables")
    args = p.parse_args()

    state = State(args.account, args.token_ttl)
    if args.seed:
        with open(args.seed) as f:
            seed = json.load(f)
        for ident in seed.get("identities", []):
            state.add_identity(ident)
        for var_id, values in seed.get("variables", {}).items():
            for value in values:
                state.add_value(var_id, value)
    Handler.state = state

    servers = [ThreadingHTTPServer(("127.0.0.1", args.port), Handler)]
    if args.tls_port:
        tls = ThreadingHTTPServer(("127.0.0.1", args.tls_port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"fake conjur on 127.0.0.1:{args.port}"
          + (f" and https 127.0.0.1:{args.tls_port}" if args.tls_port else ""), flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
