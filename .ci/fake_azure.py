#!/usr/bin/env python3
"""A fake of Azure Key Vault and its sign-in services, for secret-ref's `azure` tests.

Standard library only (generating the TLS files with --make-tls uses `cryptography`,
installed in .ci/.venv for moto). Binds 127.0.0.1 only. Two listeners:

HTTPS (--port; the "cloud": Microsoft Entra ID and one key vault):
  GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID metadata (what MSAL asks
                                                         for when instance discovery is off)
  POST /{tenant}/oauth2/v2.0/token                       client credentials grant
  GET  /secrets/{name}[/{version}]?api-version=...       Get Secret
  PUT  /secrets/{name}?api-version=...                   Set Secret
HTTP (--http-port; what sits on the machine itself):
  GET  /metadata/identity/oauth2/token                   IMDS (header Metadata: true)
  GET  /msi/token                                        App Service IDENTITY_ENDPOINT
                                                         (header X-IDENTITY-HEADER)
  /_fake/...                                             administration (see .ci/SERVERS.md)

Key Vault answers as the REST reference says: 401 with a `WWW-Authenticate: Bearer
authorization="...", resource="..."` challenge to a request without a valid token (the
SDK's challenge handshake), `{"error": {"code", "message"}}` bodies (SecretNotFound 404,
Forbidden 403, Unauthorized 401, BadParameter 400). Entra ID answers `{"error",
"error_description", "error_codes", ...}`. Tokens are JWT-shaped, last the app's
`expires_in` (default --token-lifetime), and can be expired at once through the admin API.
"""

import argparse
import base64
import datetime
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

RESOURCE = "https://vault.azure.net"
API_VERSIONS = {
    "2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01",
}
IMDS_API_VERSIONS = {"2018-02-01", "2019-08-01", "2021-02-01"}
APP_SERVICE_API_VERSIONS = {"2019-08-01"}
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
MAX_RECORDS = 200_000
MAX_TOKENS = 100_000


class State:
    """Everything the fake knows, behind one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.tenant = args.tenant
        self.vault_name = args.vault_name
        self.lifetime = args.token_lifetime
        self.identity_header = args.identity_header
        # client_id -> {"tenant", "secret" (apps only), "expires_in", "managed", "oid"}
        self.apps = {}
        # name -> [versions], the last one current; a version is a dict
        self.secrets = {}
        # token -> {"client_id", "tenant", "aud", "exp"}
        self.tokens = {}
        # (client_id, secret name or "*")
        self.denied = set()
        self.records = []
        self.recording = args.recording

    def add_app(self, client_id, secret=None, tenant=None, expires_in=None, managed=False):
        with self.lock:
            self.apps[client_id] = {
                "tenant": tenant or self.tenant,
                "secret": secret,
                "expires_in": expires_in,
                "managed": managed,
                "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "oid:" + client_id)),
            }

    def issue(self, client_id, tenant, aud):
        """A new token for an identity; returns (token, lifetime)."""
        with self.lock:
            app = self.apps[client_id]
            lifetime = app["expires_in"] if app["expires_in"] is not None else self.lifetime
            now = int(time.time())
            claims = {
                "aud": aud, "iss": "https://sts.windows.net/%s/" % tenant, "iat": now,
                "nbf": now, "exp": now + lifetime, "appid": client_id, "oid": app["oid"],
                "sub": app["oid"], "tid": tenant, "idtyp": "app", "ver": "1.0",
                "uti": secrets.token_urlsafe(16),
            }
            token = ".".join([
                b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "fake"}).encode()),
                b64url(json.dumps(claims).encode()),
                b64url(secrets.token_bytes(32)),
            ])
            if len(self.tokens) >= MAX_TOKENS:
                for old in list(self.tokens)[: MAX_TOKENS // 10]:
                    del self.tokens[old]
            self.tokens[token] = {"client_id": client_id, "tenant": tenant, "aud": aud,
                                  "exp": time.time() + lifetime}
            return token, lifetime

    def record(self, entry):
        with self.lock:
            entry["n"] = len(self.records) + 1
            entry["time"] = time.time()
            if len(self.records) < MAX_RECORDS:
                self.records.append(entry)
            if self.recording:
                with open(self.recording, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_version():
    return uuid.uuid4().hex


def aad_error(status, error, code, description):
    """Microsoft Entra ID's error body."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
        % (code, description, trace, correlation, stamp),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code,
    }


def kv_error(status, code, message, inner=None):
    """Key Vault's error body."""
    error = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return status, {"error": error}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-azure/1"
    state = None  # set per server
    tls = False

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % ("https" if self.tls else "http", fmt % args))

    # --- plumbing -------------------------------------------------------------------------

    def reply(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        ctype = "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1024 * 1024:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def parts(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        segments = [unquote(s) for s in url.path.split("/")[1:]]
        return url.path, segments, query

    def dispatch(self, method):
        path, segments, query = self.parts()
        entry = {"method": method, "path": path, "tls": self.tls}
        try:
            if self.tls:
                status, body, headers = self.cloud(method, segments, query, entry)
            else:
                status, body, headers = self.local(method, segments, query, entry)
        except (ValueError, KeyError, json.JSONDecodeError) as e:
            status, body, headers = 400, {"error": {"code": "BadParameter", "message": str(e)}}, ()
        entry["status"] = status
        if entry.get("kind") != "admin":
            self.state.record(entry)
        self.reply(status, body, headers)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    # --- HTTPS: Entra ID and Key Vault ---------------------------------------------------

    def cloud(self, method, seg, query, entry):
        host = self.headers.get("Host") or "127.0.0.1"
        st = self.state
        if len(seg) == 4 and seg[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            entry["kind"] = "discovery"
            tenant = seg[0]
            if tenant not in (st.tenant, "organizations", "common"):
                return aad_error(400, "invalid_tenant", 90002,
                                 "Tenant '%s' not found. Check to make sure you have the correct "
                                 "tenant ID and are signing into the correct cloud." % tenant) + ((),)
            base = "https://%s/%s" % (host, tenant)
            return 200, {
                "token_endpoint": base + "/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "jwks_uri": base + "/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": "https://%s/%s/v2.0" % (host, st.tenant),
                "request_uri_parameter_supported": False,
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "end_session_endpoint": base + "/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            }, ()
        if len(seg) == 4 and seg[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            entry["kind"] = "token"
            return self.token(seg[0], entry) + ((),)
        if seg and seg[0] == "secrets" and len(seg) in (2, 3):
            entry["kind"] = "secret"
            entry["name"] = seg[1]
            if len(seg) == 3:
                entry["version"] = seg[2]
            return self.secret(method, seg, query, entry, host)
        return kv_error(404, "NotFound", "The requested resource was not found.") + ((),)

    def token(self, tenant, entry):
        st = self.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = self.body().decode("utf-8", "replace")
        if ctype != "application/x-www-form-urlencoded":
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                client_id, secret = unquote(user), unquote(password)
            except (ValueError, UnicodeDecodeError):
                pass
        entry["client_id"] = client_id
        entry["grant_type"] = form.get("grant_type")
        entry["scope"] = form.get("scope")
        entry["tenant"] = tenant
        if tenant != st.tenant:
            return aad_error(400, "invalid_request", 90002,
                             "Tenant '%s' not found. Check to make sure you have the correct "
                             "tenant ID and are signing into the correct cloud." % tenant)
        grant = form.get("grant_type")
        if not grant:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            return aad_error(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type '%s'." % grant)
        if not client_id:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        with st.lock:
            app = st.apps.get(client_id)
        if not app or app["managed"] or app["tenant"] != tenant:
            return aad_error(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the directory "
                             "'%s'." % (client_id, tenant))
        if not secret:
            return aad_error(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        if not secrets.compare_digest(secret.encode(), (app["secret"] or "").encode()):
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the "
                             "request is the client secret value, not the client secret ID, for a "
                             "secret added to app '%s'." % client_id)
        scopes = [s for s in (form.get("scope") or "").split()
                  if s not in ("openid", "profile", "offline_access")]
        if not scopes:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        scope = scopes[0]
        if not scope.endswith("/.default"):
            return aad_error(400, "invalid_scope", 1002012,
                             "The provided value for scope %s is not valid. Client credential "
                             "flows must have a scope value with /.default suffixed to the "
                             "resource identifier (application ID URI)." % scope)
        resource = scope[: -len("/.default")].rstrip("/")
        if resource != RESOURCE:
            return aad_error(400, "invalid_resource", 500011,
                             "The resource principal named %s was not found in the tenant named "
                             "%s." % (resource, tenant))
        token, lifetime = st.issue(client_id, tenant, RESOURCE)
        return 200, {"token_type": "Bearer", "expires_in": lifetime,
                     "ext_expires_in": lifetime, "access_token": token}

    def caller(self, host):
        """The token's identity, or an error reply (401 with the challenge)."""
        st = self.state
        challenge = ('Bearer authorization="https://%s/%s", resource="%s"'
                     % (host, st.tenant, RESOURCE))
        headers = (("WWW-Authenticate", challenge),)
        auth = self.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return None, kv_error(401, "Unauthorized",
                                  "AKV10000: Request is missing a Bearer or PoP token.") + (headers,)
        with st.lock:
            info = st.tokens.get(auth[7:].strip())
        if info is None:
            return None, kv_error(401, "Unauthorized",
                                  "[BearerReadAccessTokenFailed] Error validating token: "
                                  "'S2S12005'.") + (headers,)
        if info["exp"] <= time.time():
            return None, kv_error(401, "Unauthorized",
                                  "[TokenExpired] Error validating token: 'S2S12086'.") + (headers,)
        if info["tenant"] != st.tenant:
            return None, kv_error(401, "Unauthorized",
                                  "AKV10032: Invalid issuer. Expected one of "
                                  "https://sts.windows.net/%s/, found https://sts.windows.net/%s/."
                                  % (st.tenant, info["tenant"])) + (headers,)
        return info, None

    def secret(self, method, seg, query, entry, host):
        st = self.state
        version = query.get("api-version")
        if not version:
            return kv_error(400, "BadParameter",
                            "The request URI contains an invalid parameter: api-version is "
                            "missing.") + ((),)
        if version not in API_VERSIONS:
            return kv_error(400, "BadParameter",
                            "The specified version (%s) is not recognized. Consider using the "
                            "latest supported version (7.6)." % version) + ((),)
        info, denied = self.caller(host)
        if denied:
            return denied
        entry["client_id"] = info["client_id"]
        name = seg[1]
        if not name or len(name) > 127 or not set(name) <= NAME_CHARS:
            return kv_error(400, "BadParameter",
                            "The request URI contains an invalid name: %s" % name) + ((),)
        perm = "set" if method == "PUT" else "get"
        with st.lock:
            forbidden = ((info["client_id"], name) in st.denied
                         or (info["client_id"], "*") in st.denied)
            oid = st.apps.get(info["client_id"], {}).get("oid", "")
        if forbidden:
            return kv_error(403, "Forbidden",
                            "The user, group or application 'appid=%s;oid=%s;iss=https://sts."
                            "windows.net/%s/' does not have secrets %s permission on key vault "
                            "'%s;location=westeurope'. For help resolving this issue, please see "
                            "https://go.microsoft.com/fwlink/?linkid=2125287"
                            % (info["client_id"], oid, st.tenant, perm, st.vault_name),
                            "AccessDenied") + ((),)
        headers = (("x-ms-keyvault-region", "westeurope"),
                   ("x-ms-request-id", str(uuid.uuid4())),
                   ("x-ms-keyvault-service-version", "1.9.0.0"))
        if method == "PUT":
            if len(seg) != 2:
                return kv_error(405, "BadParameter", "Method not allowed") + (headers,)
            body = json.loads(self.body() or b"{}")
            if not isinstance(body.get("value"), str):
                return kv_error(400, "BadParameter", "Property value is required.") + (headers,)
            attrs = body.get("attributes") or {}
            bundle = store(st, name, body["value"], attrs.get("enabled", True),
                           body.get("contentType"), host)
            return 200, bundle, headers
        with st.lock:
            versions = st.secrets.get(name, [])
            if len(seg) == 3 and seg[2]:
                found = [v for v in versions if v["version"] == seg[2]]
            else:
                found = versions[-1:]
        if not found:
            what = name if len(seg) == 2 or not seg[2] else "%s/%s" % (name, seg[2])
            return kv_error(404, "SecretNotFound",
                            "A secret with (name/id) %s was not found in this key vault. If you "
                            "recently deleted this secret you may be able to recover it using the "
                            "correct recovery command. For help resolving this issue, please see "
                            "https://go.microsoft.com/fwlink/?linkid=2125182" % what) + (headers,)
        v = found[0]
        if not v["enabled"]:
            return kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                            "SecretDisabled") + (headers,)
        entry["version"] = v["version"]
        return 200, bundle_of(name, v, host), headers

    # --- HTTP: managed identity endpoints and administration -----------------------------

    def local(self, method, seg, query, entry):
        st = self.state
        if seg[:4] == ["metadata", "identity", "oauth2", "token"] and len(seg) == 4:
            entry["kind"] = "imds"
            entry["client_id"] = query.get("client_id")
            entry["resource"] = query.get("resource")
            if (self.headers.get("Metadata") or "").lower() != "true":
                return 400, {"error": "invalid_request",
                             "error_description": "Required metadata header not specified"}, ()
            if query.get("api-version") not in IMDS_API_VERSIONS:
                return 400, {"error": "invalid_request",
                             "error_description": "Required query variable 'api-version' is "
                                                  "missing or not supported"}, ()
            return self.managed(query, imds=True) + ((),)
        if seg == ["msi", "token"]:
            entry["kind"] = "appservice"
            entry["client_id"] = query.get("client_id")
            entry["resource"] = query.get("resource")
            header = self.headers.get("X-IDENTITY-HEADER") or ""
            if not secrets.compare_digest(header.encode(), st.identity_header.encode()):
                return 400, {"statusCode": 400,
                             "message": "The X-IDENTITY-HEADER header is missing or invalid.",
                             "correlationId": str(uuid.uuid4())}, ()
            if query.get("api-version") not in APP_SERVICE_API_VERSIONS:
                return 400, {"statusCode": 400,
                             "message": "The api-version parameter is missing or not supported.",
                             "correlationId": str(uuid.uuid4())}, ()
            return self.managed(query, imds=False) + ((),)
        if seg and seg[0] == "_fake":
            entry["kind"] = "admin"
            return self.admin(method, seg[1:], query)
        return 404, {"error": "not_found"}, ()

    def managed(self, query, imds):
        """A token for the machine's identity: the system-assigned one, or the user-assigned
        one named by client_id."""
        st = self.state
        resource = (query.get("resource") or "").rstrip("/")
        client_id = query.get("client_id") or st.system_identity
        with st.lock:
            app = st.apps.get(client_id)
        if not app or not app["managed"]:
            if imds:
                return 400, {"error": "invalid_request", "error_description": "Identity not found"}
            return 400, {"statusCode": 400, "message": "Unable to load the proper Managed "
                         "Identity.", "correlationId": str(uuid.uuid4())}
        if resource != RESOURCE:
            if imds:
                return 400, {"error": "invalid_resource",
                             "error_description": "AADSTS500011: The resource principal named %s "
                             "was not found in the tenant named %s." % (resource, st.tenant)}
            return 500, {"statusCode": 500, "message": "An unexpected error occured while "
                         "fetching the AAD Token.", "correlationId": str(uuid.uuid4())}
        token, lifetime = st.issue(client_id, st.tenant, RESOURCE)
        now = int(time.time())
        if imds:
            return 200, {"access_token": token, "client_id": client_id,
                         "expires_in": str(lifetime), "expires_on": str(now + lifetime),
                         "ext_expires_in": str(lifetime), "not_before": str(now),
                         "resource": RESOURCE, "token_type": "Bearer"}
        return 200, {"access_token": token, "expires_on": str(now + lifetime),
                     "resource": RESOURCE, "token_type": "Bearer", "client_id": client_id}

    def admin(self, method, seg, query):
        st = self.state
        if seg == ["health"]:
            return 200, "ok", ()
        if method == "POST" and len(seg) == 2 and seg[0] == "secrets":
            body = json.loads(self.body() or b"{}")
            if not isinstance(body.get("value"), str):
                raise ValueError("value must be a string")
            host = "127.0.0.1:%d" % st.https_port
            return 200, store(st, seg[1], body["value"], body.get("enabled", True),
                              body.get("contentType"), host), ()
        if method == "POST" and seg == ["apps"]:
            body = json.loads(self.body() or b"{}")
            managed = bool(body.get("managed"))
            if not body.get("client_id") or (not managed and not body.get("client_secret")):
                raise ValueError("client_id (and client_secret unless managed) required")
            expires_in = body.get("expires_in")
            if expires_in is not None and (not isinstance(expires_in, int) or expires_in < 0):
                raise ValueError("expires_in must be a number of seconds")
            st.add_app(body["client_id"], body.get("client_secret"), body.get("tenant"),
                       expires_in, managed)
            return 201, {"client_id": body["client_id"]}, ()
        if method == "POST" and seg == ["deny"]:
            body = json.loads(self.body() or b"{}")
            with st.lock:
                st.denied.add((body["client_id"], body.get("secret") or "*"))
            return 200, {"denied": True}, ()
        if method == "POST" and seg == ["expire-tokens"]:
            body = json.loads(self.body() or b"{}")
            who = body.get("client_id")
            n = 0
            with st.lock:
                for info in st.tokens.values():
                    if (who is None or info["client_id"] == who) and info["exp"] > time.time():
                        info["exp"] = 0
                        n += 1
            return 200, {"expired": n}, ()
        if method == "GET" and seg == ["requests"]:
            with st.lock:
                records = list(st.records)
            for k in ("kind", "name", "client_id", "version", "status"):
                if k in query:
                    records = [r for r in records
                               if r.get(k) is not None and str(r.get(k)) == query[k]]
            return 200, records, ()
        return 404, {"error": "no such admin endpoint"}, ()


def bundle_of(name, v, host):
    bundle = {
        "value": v["value"],
        "id": "https://%s/secrets/%s/%s" % (host, name, v["version"]),
        "attributes": {"enabled": v["enabled"], "created": v["created"], "updated": v["created"],
                       "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
        "tags": {},
    }
    if v["contentType"] is not None:
        bundle["contentType"] = v["contentType"]
    return bundle


def store(st, name, value, enabled, content_type, host):
    if not name or len(name) > 127 or not set(name) <= NAME_CHARS:
        raise ValueError("The request URI contains an invalid name: %s" % name)
    v = {"version": new_version(), "value": value, "enabled": bool(enabled),
         "contentType": content_type, "created": int(time.time())}
    with st.lock:
        st.secrets.setdefault(name, []).append(v)
    return bundle_of(name, v, host)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    context = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's own thread, so a slow client holds up
        # nobody else.
        if self.context is not None:
            try:
                request.settimeout(30)
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def make_tls(directory):
    """Writes ca.pem, cert.pem (for 127.0.0.1 and localhost) and key.pem into directory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secret-ref fake Azure CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.open(os.path.join(directory, "key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                      0o600), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--make-tls", metavar="DIR", help="write ca.pem, cert.pem, key.pem and exit")
    p.add_argument("--port", type=int, help="HTTPS port (Entra ID and Key Vault)")
    p.add_argument("--http-port", type=int, help="HTTP port (IMDS, App Service, admin)")
    p.add_argument("--tls-dir", help="directory with cert.pem and key.pem")
    p.add_argument("--tenant", default="7e3f1c0a-5b2d-4e6f-8a9b-0c1d2e3f4a5b")
    p.add_argument("--client-id", default="0d7c9a1e-2b3f-4c5d-8e6f-7a8b9c0d1e2f",
                   help="an app registration; its secret comes from env FAKE_AZURE_CLIENT_SECRET")
    p.add_argument("--system-identity", default="5c4b3a29-1807-4f6e-9d8c-7b6a5f4e3d2c",
                   help="client id of the machine's system-assigned managed identity")
    p.add_argument("--identity-header", default=os.environ.get("FAKE_AZURE_IDENTITY_HEADER", ""),
                   help="App Service's IDENTITY_HEADER (else env FAKE_AZURE_IDENTITY_HEADER)")
    p.add_argument("--vault-name", default="secret-ref-test")
    p.add_argument("--token-lifetime", type=int, default=3600, help="seconds (default 3600)")
    p.add_argument("--recording", help="append one JSON line per request to this file")
    args = p.parse_args()
    if args.make_tls:
        make_tls(args.make_tls)
        return
    if not (args.port and args.http_port and args.tls_dir):
        p.error("--port, --http-port and --tls-dir are required")
    secret = os.environ.get("FAKE_AZURE_CLIENT_SECRET")
    if not secret or not args.identity_header:
        p.error("env FAKE_AZURE_CLIENT_SECRET and an identity header are required")

    state = State(args)
    state.https_port = args.port
    state.system_identity = args.system_identity
    state.add_app(args.client_id, secret)
    state.add_app(args.system_identity, managed=True)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(args.tls_dir, "cert.pem"),
                            os.path.join(args.tls_dir, "key.pem"))

    servers = []
    for port, tls in ((args.port, True), (args.http_port, False)):
        handler = type("H", (Handler,), {"state": state, "tls": tls})
        server = Server(("127.0.0.1", port), handler)
        server.context = context if tls else None
        servers.append(server)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    sys.stderr.write("fake azure: https://127.0.0.1:%d http://127.0.0.1:%d\n"
                     % (args.port, args.http_port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.shutdown()
        s.server_close()


if __name__ == "__main__":
    main()
