#!/usr/bin/env python3
"""Reads Conjur variables with CyberArk's own Python SDK (`conjur-api`, pinned in
.ci/requirements-servers.txt), to prove that .ci/fake_conjur.py is a Conjur that Conjur's
clients can read from.

Usage: conjur.py URL ACCOUNT LOGIN [CA_FILE] -- VARIABLE[#VERSION]...
The password or API key comes from the environment (CONJUR_AUTHN_PASSWORD), never argv.
With CA_FILE (an https URL), the server's certificate is checked against it.

The SDK logs in (GET /authn/{account}/login, Basic auth) to get the API key, authenticates
(POST /authn/{account}/{login}/authenticate) and reads each variable (GET /secrets/...),
then asks /whoami. Prints one JSON object: {"values": [...], "whoami": {...}}; an HTTP error
from the SDK is printed as {"error": <status>, "variable": ...} and ends the run with 3.
"""

import json
import os
import sys

from conjur_api import Client
from conjur_api.errors.errors import HttpStatusError
from conjur_api.models import ConjurConnectionInfo, CredentialsData, SslVerificationMode
from conjur_api.providers import AuthnAuthenticationStrategy, SimpleCredentialsProvider


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    split = sys.argv.index("--")
    head, variables = sys.argv[1:split], sys.argv[split + 1:]
    url, account, login = head[:3]
    ca_file = head[3] if len(head) > 3 else None

    info = ConjurConnectionInfo(conjur_url=url, account=account, cert_file=ca_file)
    provider = SimpleCredentialsProvider()
    provider.save(CredentialsData(machine=url, username=login,
                                  password=os.environ["CONJUR_AUTHN_PASSWORD"]))
    client = Client(info,
                    ssl_verification_mode=(SslVerificationMode.CA_BUNDLE if ca_file
                                           else SslVerificationMode.TRUST_STORE),
                    authn_strategy=AuthnAuthenticationStrategy(provider),
                    async_mode=False)
    # The SDK's own login: the password buys the API key, kept by the provider.
    api_key = client.login()
    creds = provider.load(url)
    creds.api_key = api_key
    provider.save(creds)

    values = []
    for variable in variables:
        name, _, version = variable.partition("#")
        try:
            value = client.get(name, version or None)
        except HttpStatusError as e:
            print(json.dumps({"error": e.status, "variable": variable}))
            return 3
        values.append(value.decode("utf-8"))
    print(json.dumps({"values": values, "whoami": client.whoami()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
