#!/usr/bin/env python3
"""Fake Google Cloud Secret Manager, OAuth2 token endpoint and metadata server (CI only).

It follows Google's published REST reference closely enough that Google's own Python client
(google-cloud-secret-manager over REST, with google-auth) reads from it: see
.ci/official_clients/gcp.py and .ci/SERVERS.md. Stdlib only; binds to 127.0.0.1 only.

Secret Manager (https://cloud.google.com/secret-manager/docs/reference/rest):
    GET /v1/projects/{p}/secrets/{s}/versions/{N|latest}:access
        Authorization: Bearer <access token from /token or the metadata server,
                               or a self-signed JWT (AIP-4111), as Google accepts>
    200 {"name": "projects/{number}/secrets/{s}/versions/{N}",
         "payload": {"data": "<base64>", "dataCrc32c": "<decimal>"}}
    Errors are Google's JSON: {"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}
    - no Authorization: 401 UNAUTHENTICATED (reason CREDENTIALS_MISSING);
    - an unknown or expired token: 401 UNAUTHENTICATED, WWW-Authenticate invalid_token;
    - an identity denied (globally, or on that secret): 403 PERMISSION_DENIED, checked
      before existence, as IAM does ("... (or it may not exist)");
    - no such secret, or no versions: 404 "Secret [projects/N/secrets/s] not found or has
      no versions."; no such version: 404 "Secret Version [...] not found.";
    - a DISABLED or DESTROYED version: 400 FAILED_PRECONDITION "... is in DISABLED state.";
    - `latest` is the most recently created version, whatever its state.

OAuth2 token endpoint (the service-account key's `token_uri`, POST /token):
    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>
    The JWT is RS256-signed by a registered service account (`iss`, or the `kid` header),
    verified with the public key the fake was seeded with; `aud` must be this endpoint's URL
    or Google's https://oauth2.googleapis.com/token (google-auth always sends that one), `iat` not in the future (60 s skew), `exp` in the future and at most an hour after
    `iat`, `scope` present. 200 {"access_token": "ya29.…", "expires_in": L,
    "token_type": "Bearer"}, L the account's token lifetime. Failures: 400
    {"error": "invalid_grant", "error_description": "Invalid JWT Signature."} and the like.

Metadata server (GCE_METADATA_HOST=127.0.0.1:PORT), every path needs
`Metadata-Flavor: Google` (else 403) and refuses `X-Forwarded-For` (403); answers carry
`Metadata-Flavor: Google`:
    GET /                                                         (google-auth's ping)
    GET /computeMetadata/v1/instance/service-accounts/default/token  -> token JSON
    GET /computeMetadata/v1/instance/service-accounts/default/?recursive=true
    GET /computeMetadata/v1/instance/service-accounts/default/email
    GET /computeMetadata/v1/project/project-id
    GET /computeMetadata/v1/universe/universe-domain
The metadata identity (`--metadata-email`) gets tokens without a key.

Admin endpoints (JSON bodies, no auth; the tests' side door):
    POST /_fake/service-accounts {"client_email", "public_key_pem" | "same_key_as",
                                  "token_lifetime"?, "denied"?}   register an identity
    POST /_fake/secrets {"project", "secret", "versions": [{"data" | "data_b64",
                         "state"?: ENABLED|DISABLED|DESTROYED, "crc32c"?: int|"omit"}],
                         "deny"?: [emails]}                       create or replace
    POST /_fake/versions {"project", "secret", "data" | "data_b64", "state"?, "crc32c"?}
                                                                  add a version -> {"version"}
    POST /_fake/expire-tokens {"client_email"}                    expire its tokens now
    GET  /_fake/requests[?secret=S]   every request so far: [{"kind": access|token|metadata,
        "method", "path", "status", "identity", "secret", "version",
        "auth": token|jwt (accepted), expired|invalid|none (refused)}]
    GET  /healthz -> "ok"

Seed file (--seed FILE, JSON): {"service_accounts": [{"client_email", "public_key_pem",
"token_lifetime"?, "denied"?}], "secrets": [<as POST /_fake/secrets>]}.
"""

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets as rand
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
API_AUDIENCE = "https://secretmanager.googleapis.com/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ACCESS = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)/versions/(?P<version>[^/:]+):access$"
)
SKEW = 60
MAX_JWT_LIFETIME = 3600

# --- CRC32C (Castagnoli), as Secret Manager's dataCrc32c -------------------------------

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# --- RSA public keys and RS256 verification, by hand (no third-party module) -----------


def _der(buf, pos):
    """One DER element at pos: (tag, content, next position)."""
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    return tag, buf[pos : pos + length], pos + length


def _rsa_sequence(body):
    tag, seq, _ = _der(body, 0)
    assert tag == 0x30
    _, n, pos = _der(seq, 0)
    _, e, _ = _der(seq, pos)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def public_key(pem):
    """(n, e) from a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY`."""
    m = re.search(r"-----BEGIN (RSA )?PUBLIC KEY-----(.*?)-----END", pem, re.S)
    if not m:
        raise ValueError("not a PEM public key")
    der = base64.b64decode("".join(m.group(2).split()))
    if m.group(1):
        return _rsa_sequence(der)
    tag, spki, _ = _der(der, 0)
    assert tag == 0x30
    _, _algorithm, pos = _der(spki, 0)
    tag, bits, _ = _der(spki, pos)
    assert tag == 0x03 and bits[0] == 0
    return _rsa_sequence(bits[1:])


_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_verify(key, signing_input, signature):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2)."""
    n, e = key
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_PREFIX + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadJwt(Exception):
    pass


def parse_jwt(token):
    """(header, claims, signing input, signature) of a compact JWS, unverified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise BadJwt("Invalid JWT: not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, TypeError):
        raise BadJwt("Invalid JWT: cannot decode")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise BadJwt("Invalid JWT: cannot decode")
    return header, claims, (parts[0] + "." + parts[1]).encode(), signature


# --- State -------------------------------------------------------------------------------


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.default_lifetime = args.token_lifetime
        self.project_id = args.project_id
        self.metadata_email = args.metadata_email
        self.accounts = {}  # email -> {"key": (n, e) | None, "lifetime", "denied"}
        self.tokens = {}  # token -> {"email", "expires"}
        self.secrets = {}  # (project, secret) -> {"versions": [...], "deny": set()}
        self.log = []
        self.accounts[self.metadata_email] = {
            "key": None,
            "lifetime": self.default_lifetime,
            "denied": False,
        }

    def add_account(self, spec):
        email = spec["client_email"]
        if "same_key_as" in spec:
            key = self.accounts[spec["same_key_as"]]["key"]
        else:
            key = public_key(spec["public_key_pem"])
        self.accounts[email] = {
            "key": key,
            "lifetime": int(spec.get("token_lifetime", self.default_lifetime)),
            "denied": bool(spec.get("denied", False)),
        }

    @staticmethod
    def version(spec):
        if "data_b64" in spec:
            data = base64.b64decode(spec["data_b64"])
        else:
            data = spec["data"].encode()
        crc = spec.get("crc32c", crc32c(data))
        return {"data": data, "state": spec.get("state", "ENABLED"), "crc32c": crc}

    def put_secret(self, spec):
        self.secrets[(spec["project"], spec["secret"])] = {
            "versions": [self.version(v) for v in spec.get("versions", [])],
            "deny": set(spec.get("deny", [])),
        }

    def add_version(self, spec):
        key = (spec["project"], spec["secret"])
        secret = self.secrets.setdefault(key, {"versions": [], "deny": set()})
        secret["versions"].append(self.version(spec))
        return len(secret["versions"])

    def issue(self, email):
        token = "ya29.fake-" + rand.token_urlsafe(32)
        lifetime = self.accounts[email]["lifetime"]
        self.tokens[token] = {"email": email, "expires": time.time() + lifetime}
        return token, lifetime


def project_number(project):
    """Google answers with the project's number, not its id: a stable one per id."""
    if project.isdigit():
        return project
    return str(int(hashlib.sha256(project.encode()).hexdigest()[:10], 16) % 10**12)


# --- HTTP ----------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-gcp/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-gcp: " + (fmt % args) + "\n")

    @property
    def state(self):
        return self.server.state

    # answers

    def send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, value, headers=()):
        self.send(status, json.dumps(value), headers=headers)

    def google_error(self, code, status, message, details=None, headers=()):
        error = {"code": code, "message": message, "status": status}
        if details:
            error["details"] = details
        self.send_json(code, {"error": error}, headers=headers)
        return code

    def record(self, kind, status, **fields):
        entry = {
            "kind": kind,
            "method": self.command,
            "path": self.path,
            "status": status,
        }
        entry.update(fields)
        with self.state.lock:
            self.state.log.append(entry)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # routing

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self.send(200, "ok", "text/plain")
        if url.path == "/_fake/requests":
            wanted = parse_qs(url.query).get("secret", [None])[0]
            with self.state.lock:
                log = [e for e in self.state.log if wanted is None or e.get("secret") == wanted]
            return self.send_json(200, log)
        if url.path == "/" or url.path.startswith("/computeMetadata/"):
            return self.metadata(url)
        m = ACCESS.match(url.path)
        if m:
            return self.access(m)
        self.google_error(404, "NOT_FOUND", "The requested URL was not found on this server.")

    def do_POST(self):
        url = urlsplit(self.path)
        body = self.body()
        if url.path == "/token":
            return self.token(body)
        if url.path.startswith("/_fake/"):
            return self.admin(url.path, body)
        self.google_error(404, "NOT_FOUND", "The requested URL was not found on this server.")

    # admin

    def admin(self, path, body):
        try:
            spec = json.loads(body or b"{}")
            with self.state.lock:
                if path == "/_fake/service-accounts":
                    self.state.add_account(spec)
                    answer = {}
                elif path == "/_fake/secrets":
                    self.state.put_secret(spec)
                    answer = {}
                elif path == "/_fake/versions":
                    answer = {"version": self.state.add_version(spec)}
                elif path == "/_fake/expire-tokens":
                    expired = 0
                    for t in self.state.tokens.values():
                        if t["email"] == spec["client_email"]:
                            t["expires"] = 0
                            expired += 1
                    answer = {"expired": expired}
                else:
                    return self.send_json(404, {"error": "no such admin endpoint"})
        except (KeyError, ValueError, TypeError, AssertionError, IndexError) as e:
            return self.send_json(400, {"error": f"bad admin request: {e!r}"})
        self.send_json(200, answer)

    # OAuth2 token endpoint (JWT bearer grant, RFC 7523)

    def token_error(self, description, error="invalid_grant", identity=None):
        self.send_json(400, {"error": error, "error_description": description})
        self.record("token", 400, identity=identity)

    def token(self, body):
        form = parse_qs(body.decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.token_error("Invalid grant_type: " + grant, "unsupported_grant_type")
        assertion = form.get("assertion", [""])[0]
        try:
            email, claims = self.verify_jwt(assertion)
        except BadJwt as e:
            return self.token_error(str(e))
        # This endpoint's own URL (the key's token_uri, what Go's oauth2 sends), or Google's
        # token endpoint (what google-auth sends whatever the token_uri).
        audience = "http://" + (self.headers.get("Host") or "") + "/token"
        if claims.get("aud") not in (audience, GOOGLE_TOKEN_URI):
            return self.token_error(
                "Invalid JWT: Failed audience check. The expected value was "
                f"{audience} but the actual value was {claims.get('aud')}",
                identity=email,
            )
        if not claims.get("scope"):
            return self.token_error(
                "Invalid OAuth scope or ID token audience provided.",
                "invalid_scope",
                identity=email,
            )
        with self.state.lock:
            token, lifetime = self.state.issue(email)
        self.send_json(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})
        self.record("token", 200, identity=email)

    def verify_jwt(self, token):
        """The identity of a valid RS256 JWT of a registered account, and its claims."""
        header, claims, signing_input, signature = parse_jwt(token)
        if header.get("alg") != "RS256":
            raise BadJwt("Invalid JWT: algorithm must be RS256")
        email = claims.get("iss")
        with self.state.lock:
            account = self.state.accounts.get(email)
        if account is None or account["key"] is None:
            raise BadJwt("Invalid grant: account not found")
        if not rs256_verify(account["key"], signing_input, signature):
            raise BadJwt("Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, (int, float))
            or not isinstance(exp, (int, float))
            or iat > now + SKEW
            or exp <= now
            or exp - iat > MAX_JWT_LIFETIME
        ):
            raise BadJwt(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim."
            )
        return email, claims

    # Secret Manager

    def caller(self):
        """(identity, auth kind) or an error already sent (identity None, status)."""
        auth = self.headers.get("Authorization") or ""
        self.refused = (None, "none")
        if not auth.startswith("Bearer "):
            return None, self.google_error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "CREDENTIALS_MISSING",
                        "domain": "googleapis.com",
                    }
                ],
                headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')],
            )
        token = auth[len("Bearer ") :].strip()
        with self.state.lock:
            issued = self.state.tokens.get(token)
        if issued is not None and issued["expires"] > time.time():
            return (issued["email"], "token"), None
        if issued is None and token.count(".") == 2:
            # A self-signed JWT (AIP-4111): the API's audience or a scope, signed by the key.
            try:
                email, claims = self.verify_jwt(token)
                if claims.get("aud") == API_AUDIENCE or CLOUD_PLATFORM in str(
                    claims.get("scope", "")
                ).split(" "):
                    return (email, "jwt"), None
            except BadJwt:
                pass
        self.refused = (issued["email"], "expired") if issued else (None, "invalid")
        return None, self.google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_EXPIRED" if issued else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                    "domain": "googleapis.com",
                }
            ],
            headers=[
                (
                    "WWW-Authenticate",
                    'Bearer realm="https://accounts.google.com/", error="invalid_token"',
                )
            ],
        )

    def access(self, m):
        project = unquote(m.group("project"))
        secret = unquote(m.group("secret"))
        version = unquote(m.group("version"))
        fields = {"secret": secret, "version": version}
        who, status = self.caller()
        if who is None:
            identity, auth = self.refused
            return self.record("access", status, identity=identity, auth=auth, **fields)
        identity, auth = who
        fields.update(identity=identity, auth=auth)
        number = project_number(project)
        resource = f"projects/{project}/secrets/{secret}/versions/{version}"
        if not SECRET_ID.match(secret) or not (version == "latest" or version.isdigit()):
            status = self.google_error(
                400, "INVALID_ARGUMENT", "Invalid resource field value in the request."
            )
            return self.record("access", status, **fields)
        with self.state.lock:
            account = self.state.accounts.get(identity, {})
            stored = self.state.secrets.get((project, secret))
            denied = account.get("denied") or (stored is not None and identity in stored["deny"])
            versions = list(stored["versions"]) if stored else []
        if denied:
            status = self.google_error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'secretmanager.versions.access' denied for resource "
                f"'{resource}' (or it may not exist).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "IAM_PERMISSION_DENIED",
                        "domain": "secretmanager.googleapis.com",
                        "metadata": {
                            "permission": "secretmanager.versions.access",
                            "resource": resource,
                        },
                    }
                ],
            )
            return self.record("access", status, **fields)
        if not versions:
            status = self.google_error(
                404,
                "NOT_FOUND",
                f"Secret [projects/{number}/secrets/{secret}] not found or has no versions.",
            )
            return self.record("access", status, **fields)
        n = len(versions) if version == "latest" else int(version)
        name = f"projects/{number}/secrets/{secret}/versions/{n}"
        if not 1 <= n <= len(versions):
            status = self.google_error(404, "NOT_FOUND", f"Secret Version [{name}] not found.")
            return self.record("access", status, **fields)
        v = versions[n - 1]
        if v["state"] != "ENABLED":
            status = self.google_error(
                400,
                "FAILED_PRECONDITION",
                f"Secret Version [{name}] is in {v['state']} state.",
            )
            return self.record("access", status, **fields)
        payload = {"data": base64.b64encode(v["data"]).decode()}
        if v["crc32c"] != "omit":
            # proto3 JSON writes int64 as a decimal string.
            payload["dataCrc32c"] = str(v["crc32c"])
        self.send_json(200, {"name": name, "payload": payload})
        self.record("access", 200, **fields)

    # metadata server

    def metadata(self, url):
        flavor_headers = [("Metadata-Flavor", "Google")]
        if self.headers.get("X-Forwarded-For"):
            self.send(403, "Forbidden: X-Forwarded-For is not allowed.", "text/html")
            return self.record("metadata", 403)
        if self.headers.get("Metadata-Flavor") != "Google":
            self.send(
                403,
                "Missing required header \"Metadata-Flavor\": \"Google\"",
                "text/html",
                flavor_headers,
            )
            return self.record("metadata", 403)
        email = self.state.metadata_email
        path = url.path
        base = "/computeMetadata/v1/instance/service-accounts/"
        account = None
        if path.startswith(base):
            rest = path[len(base) :]
            account, _, leaf = rest.partition("/")
            if account not in ("default", email):
                self.send(404, "Not Found", "text/html", flavor_headers)
                return self.record("metadata", 404)
            path = base + "default/" + leaf
        if path == "/":
            self.send(200, "computeMetadata/\n", "application/text", flavor_headers)
        elif path == base + "default/token":
            with self.state.lock:
                token, lifetime = self.state.issue(email)
            self.send(
                200,
                json.dumps({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}),
                "application/json",
                flavor_headers,
            )
            return self.record("metadata", 200, identity=email)
        elif path == base + "default/":
            info = {"aliases": ["default"], "email": email, "scopes": [CLOUD_PLATFORM]}
            self.send(200, json.dumps(info), "application/json", flavor_headers)
        elif path == base + "default/email":
            self.send(200, email, "application/text", flavor_headers)
        elif path == "/computeMetadata/v1/project/project-id":
            self.send(200, self.state.project_id, "application/text", flavor_headers)
        elif path == "/computeMetadata/v1/universe/universe-domain":
            self.send(200, "googleapis.com", "application/text", flavor_headers)
        else:
            self.send(404, "Not Found", "text/html", flavor_headers)
            return self.record("metadata", 404)
        self.record("metadata", 200)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seed", help="seed file (JSON), see the module docs")
    p.add_argument("--token-lifetime", type=int, default=3600, help="seconds (default 3600)")
    p.add_argument("--project-id", default="secret-ref-test", help="the metadata's project")
    p.add_argument(
        "--metadata-email",
        default="metadata@secret-ref-test.iam.gserviceaccount.com",
        help="the identity the metadata server hands tokens for",
    )
    args = p.parse_args()
    state = State(args)
    if args.seed:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
        for account in seed.get("service_accounts", []):
            state.add_account(account)
        for secret in seed.get("secrets", []):
            state.put_secret(secret)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = state
    print(f"fake-gcp listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
