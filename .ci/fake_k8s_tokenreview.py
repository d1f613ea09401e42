#!/usr/bin/env python3
"""Fake Kubernetes TokenReview API for OpenBao's kubernetes auth method (CI only).

OpenBao's auth/kubernetes login sends
    POST {kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews
    Authorization: Bearer <token_reviewer_jwt, or the login JWT itself>
    {"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1",
     "spec":{"token":"<login jwt>","audiences":[...]}}
and lets the login through only if the answer has status.authenticated=true,
status.user.username == "system:serviceaccount:<namespace>:<name>" and
status.user.uid equal to the JWT's service-account claims.

This server answers authenticated=true, for the one service account given on
the command line (default: namespace "default", name "secret-ref"), to every
token listed in the tokens file (one per line, re-read on every request, so a
test may append lines) or in the FAKE_K8S_TOKENS environment variable
(whitespace/comma separated). Any other token gets authenticated=false, which
OpenBao turns into a 403 "permission denied" login.

Extra endpoints: GET /healthz -> "ok"; GET /_fake/stats -> {"reviews": N,
"authenticated": M} (counts since start).

`--print-jwt` prints a login JWT for that service account and exits. OpenBao
does not verify its signature (no pem_keys configured) but only accepts the
header algs RS256/384/512 and ES256/384/512, so it is "RS256" with a dummy
signature. Claims: the legacy service-account ones, kubernetes.io/
serviceaccount/{namespace,service-account.name,service-account.uid}; no exp.

Stdlib only. Binds to 127.0.0.1 only.
"""

import argparse
import base64
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.reviews = 0
        self.authenticated = 0

    def accepted_tokens(self):
        tokens = set()
        env = os.environ.get("FAKE_K8S_TOKENS", "")
        tokens.update(t for t in re.split(r"[\s,]+", env) if t)
        path = self.args.tokens_file
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    tokens.update(line.strip() for line in f if line.strip())
            except FileNotFoundError:
                pass
        return tokens


def make_handler(state):
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-k8s-tokenreview/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % a))
            sys.stderr.flush()

        def _send(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _k8s_status(self, code, reason, message):
            self._send(code, {
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": message, "reason": reason,
                "code": code,
            })

        def do_GET(self):
            if self.path == "/healthz":
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/_fake/stats":
                with state.lock:
                    self._send(200, {"reviews": state.reviews,
                                     "authenticated": state.authenticated})
            else:
                self._k8s_status(404, "NotFound", "not found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.split("?", 1)[0] != REVIEW_PATH:
                self._k8s_status(404, "NotFound", "not found")
                return
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not auth[7:].strip():
                self._k8s_status(401, "Unauthorized", "Unauthorized")
                return
            try:
                req = json.loads(raw or b"{}")
                spec = req.get("spec") or {}
                token = spec.get("token") or ""
                audiences = spec.get("audiences") or []
            except (ValueError, AttributeError):
                self._k8s_status(400, "BadRequest", "malformed TokenReview")
                return

            ok = bool(token) and token in state.accepted_tokens()
            with state.lock:
                state.reviews += 1
                if ok:
                    state.authenticated += 1
            if ok:
                status = {
                    "authenticated": True,
                    "user": {
                        "username": "system:serviceaccount:%s:%s"
                                    % (args.namespace, args.name),
                        "uid": args.uid,
                        "groups": [
                            "system:serviceaccounts",
                            "system:serviceaccounts:%s" % args.namespace,
                            "system:authenticated",
                        ],
                    },
                    # Real Kubernetes answers the requested audiences the
                    # token is valid for; OpenBao only checks the overlap.
                    "audiences": audiences,
                }
            else:
                status = {"authenticated": False, "user": {},
                          "error": "[invalid bearer token]"}
            self._send(201, {
                "kind": "TokenReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": {"token": token, "audiences": audiences},
                "status": status,
            })

    return Handler


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(namespace, name, uid):
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "iss": "kubernetes/serviceaccount",
        "sub": "system:serviceaccount:%s:%s" % (namespace, name),
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
    }
    return ".".join([
        b64url(json.dumps(header, separators=(",", ":")).encode()),
        b64url(json.dumps(claims, separators=(",", ":")).encode()),
        b64url(b"unsigned-test-token"),
    ])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int)
    p.add_argument("--print-jwt", action="store_true",
                   help="print a login JWT for the service account and exit")
    p.add_argument("--tokens-file", default=os.environ.get("FAKE_K8S_TOKENS_FILE"))
    p.add_argument("--namespace", default="default")
    p.add_argument("--name", default="secret-ref")
    p.add_argument("--uid", default="3b2c9f5e-6a1d-4c8e-9f7a-0d1e2f3a4b5c")
    args = p.parse_args()

    if args.print_jwt:
        print(make_jwt(args.namespace, args.name, args.uid))
        return
    if args.port is None:
        p.error("--port is required")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(State(args)))
    server.daemon_threads = True
    sys.stderr.write("fake TokenReview API listening on http://127.0.0.1:%d\n"
                     % server.server_address[1])
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
