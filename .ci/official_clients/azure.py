"""Reads secrets from the fake Azure Key Vault (.ci/fake_azure.py) with Microsoft's own
clients: azure-keyvault-secrets' SecretClient and azure-identity's credentials, as pinned in
.ci/requirements-servers.txt. Run by tests/azure.rs (`official_client_azure_*`), which checks
the JSON it prints; exits non-zero on any unexpected error.

    python azure.py client-secret NAME [VERSION]   ClientSecretCredential (tenant, client id
                                                   and secret from the environment below)
    python azure.py managed-identity NAME          ManagedIdentityCredential: App Service when
                                                   IDENTITY_ENDPOINT and IDENTITY_HEADER are
                                                   set, else IMDS at
                                                   AZURE_POD_IDENTITY_AUTHORITY_HOST

Environment: SECRET_REF_TEST_AZURE_VAULT_URL, SECRET_REF_TEST_AZURE_AUTHORITY,
SECRET_REF_TEST_AZURE_TENANT_ID, SECRET_REF_TEST_AZURE_CLIENT_ID,
SECRET_REF_TEST_AZURE_CLIENT_SECRET, SECRET_REF_TEST_AZURE_CACERT.

The fake is not on *.vault.azure.net, so the client's check that the challenge's resource
matches the vault's domain is turned off (verify_challenge_resource=False), and the authority
is not one Microsoft knows, so instance discovery is turned off (disable_instance_discovery).
Everything else is the clients' default behaviour: the challenge handshake (a first request
without a token answered 401), OpenID discovery, the token request, the read.
"""

import json
import os
import sys

# This file is named azure.py, as the vendor: its own directory must not shadow the `azure`
# package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError  # noqa: E402
from azure.identity import ClientSecretCredential, ManagedIdentityCredential  # noqa: E402
from azure.keyvault.secrets import SecretClient  # noqa: E402


def main():
    mode, name = sys.argv[1], sys.argv[2]
    version = sys.argv[3] if len(sys.argv) > 3 else None
    env = os.environ
    ca = env["SECRET_REF_TEST_AZURE_CACERT"]
    if mode == "client-secret":
        credential = ClientSecretCredential(
            env["SECRET_REF_TEST_AZURE_TENANT_ID"],
            env["SECRET_REF_TEST_AZURE_CLIENT_ID"],
            env["SECRET_REF_TEST_AZURE_CLIENT_SECRET"],
            authority=env["SECRET_REF_TEST_AZURE_AUTHORITY"],
            disable_instance_discovery=True,
            connection_verify=ca,
        )
    elif mode == "managed-identity":
        credential = ManagedIdentityCredential()
    else:
        sys.exit("unknown mode " + mode)
    client = SecretClient(
        env["SECRET_REF_TEST_AZURE_VAULT_URL"],
        credential,
        verify_challenge_resource=False,
        connection_verify=ca,
    )
    out = {}
    secret = client.get_secret(name, version)
    out["value"] = secret.value
    out["version"] = secret.properties.version
    out["name"] = secret.name
    out["enabled"] = secret.properties.enabled
    # A second read reuses the token the credential cached.
    out["again"] = client.get_secret(name).value
    try:
        client.get_secret(name + "-missing")
        out["missing"] = "found"
    except ResourceNotFoundError as e:
        out["missing"] = e.error.code if e.error else "ResourceNotFoundError"
    if mode == "client-secret":
        # A write through the same API (Set Secret), read back by name.
        written = client.set_secret(name + "-written", "written-by-the-official-client")
        out["written_version"] = written.properties.version
        out["written"] = client.get_secret(name + "-written").value
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except HttpResponseError as e:
        sys.exit("HttpResponseError %s: %s" % (e.status_code, e.message))
