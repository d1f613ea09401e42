#!/usr/bin/env python3
"""Reads secrets from .ci/fake_gcp.py with Google's own client, to prove the fake faithful.

Usage: gcp.py URL PROJECT        (URL: the fake, http://127.0.0.1:PORT)

Google's client (google-cloud-secret-manager over REST, google-auth) with a service-account
key generated here (RSA, `cryptography`), whose public key is registered with the fake:
1. the client as Google builds it by default: a self-signed JWT per AIP-4111;
2. the same key through the OAuth2 JWT-bearer exchange at the key's `token_uri`
   (always_use_jwt_access=False), reading version 1;
3. after the fake expires that token, the next read gets 401 and google-auth renews it;
4. the metadata server's credentials (GCE_METADATA_HOST pointed at the fake);
5. a missing secret (NotFound) and a denied one (PermissionDenied).
Prints one JSON object; the Rust test `gcp_official_client_*` checks it and the fake's log.
"""

import base64
import json
import os
import sys
import uuid
import urllib.request

URL, PROJECT = sys.argv[1], sys.argv[2]
HOST = URL.split("://", 1)[1]
# google-auth reads these when its metadata module is imported: set them first.
os.environ["GCE_METADATA_HOST"] = HOST
os.environ["GCE_METADATA_IP"] = HOST
os.environ.pop("NO_GCE_CHECK", None)

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from google.api_core import exceptions  # noqa: E402
from google.auth import compute_engine  # noqa: E402
from google.cloud import secretmanager  # noqa: E402
from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest import (  # noqa: E402
    SecretManagerServiceRestTransport,
)
from google.oauth2 import service_account  # noqa: E402

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def admin(path, body):
    request = urllib.request.Request(
        URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.load(response)


run = uuid.uuid4().hex[:12]
email = f"official-{run}@{PROJECT}.iam.gserviceaccount.com"
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
info = {
    "type": "service_account",
    "project_id": PROJECT,
    "private_key_id": uuid.uuid4().hex,
    "private_key": key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode(),
    "client_email": email,
    "client_id": "1" + run.translate(str.maketrans("abcdef", "123456")),
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": URL + "/token",
}
public_pem = key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
admin("/_fake/service-accounts", {"client_email": email, "public_key_pem": public_pem.decode()})

secret = f"official-{run}"
denied = f"official-denied-{run}"
admin(
    "/_fake/secrets",
    {
        "project": PROJECT,
        "secret": secret,
        "versions": [{"data": "first-" + run}, {"data": json.dumps({"password": "p-" + run})}],
    },
)
admin(
    "/_fake/secrets",
    {"project": PROJECT, "secret": denied, "versions": [{"data": "x"}], "deny": [email]},
)
options = {"api_endpoint": URL}


def name(s, v):
    return f"projects/{PROJECT}/secrets/{s}/versions/{v}"


def crc32c_ok(response):
    # Google's client leaves the check to the caller, as its samples do.
    from importlib import import_module

    fake = import_module("fake_gcp")
    return response.payload.data_crc32c == fake.crc32c(response.payload.data)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
out = {"secret": secret, "email": email}

# 1. Google's default: a self-signed JWT.
credentials = service_account.Credentials.from_service_account_info(info)
client = secretmanager.SecretManagerServiceClient(
    credentials=credentials, transport="rest", client_options=options
)
latest = client.access_secret_version(name=name(secret, "latest"))
out["latest"] = latest.payload.data.decode()
out["latest_name"] = latest.name
out["latest_crc_ok"] = crc32c_ok(latest)

# 2. The JWT-bearer exchange at token_uri.
exchanged = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
transport = SecretManagerServiceRestTransport(
    host=URL, credentials=exchanged, always_use_jwt_access=False
)
exchanging = secretmanager.SecretManagerServiceClient(transport=transport)
first = exchanging.access_secret_version(name=name(secret, "1"))
out["v1"] = first.payload.data.decode()
out["v1_crc_ok"] = crc32c_ok(first)
out["first_token_is_exchanged"] = exchanged.token.startswith("ya29.fake-")

# 3. The fake expires the token; google-auth renews it on the 401.
before = exchanged.token
admin("/_fake/expire-tokens", {"client_email": email})
again = exchanging.access_secret_version(name=name(secret, "2"))
out["renewed"] = json.loads(again.payload.data)["password"]
out["token_changed"] = exchanged.token != before

# 4. The metadata server.
metadata = secretmanager.SecretManagerServiceClient(
    credentials=compute_engine.Credentials(), transport="rest", client_options=options
)
out["metadata"] = metadata.access_secret_version(name=name(secret, "1")).payload.data.decode()

# 5. Errors, as Google's client maps them.
for label, target in [("missing", f"official-missing-{run}"), ("denied", denied)]:
    try:
        client.access_secret_version(name=name(target, "latest"))
        out[label] = "no error"
    except exceptions.GoogleAPICallError as e:
        out[label] = type(e).__name__
        out[label + "_message"] = e.message

print(json.dumps(out, sort_keys=True))
