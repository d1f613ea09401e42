# shellcheck shell=bash
# Real test servers on loopback for secret-ref's integration tests.
# Meant to be sourced (by .ci/run, or by a developer's shell):
#
#   source .ci/servers.sh
#   trap stop_servers EXIT
#   install_servers      # .ci/.venv with bao (OpenBao 2.7.2) + moto_server
#   start_servers        # starts them, exports SECRET_REF_TEST_* (see SERVERS.md)
#   cargo test ...
#
# Works with or without `set -euo pipefail` in the caller. Everything binds to
# 127.0.0.1 only. Logs, pid files, the audit log and an env file (to `source`
# from another shell) are under target/ci-servers/. See .ci/SERVERS.md.

_SR_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_SR_REPO="$(cd "$_SR_CI_DIR/.." && pwd -P)"
_SR_VENV="$_SR_CI_DIR/.venv"
_SR_DIR="$_SR_REPO/target/ci-servers"
_SR_USED_PORTS=""

# Identity the fake Kubernetes TokenReview API vouches for.
_SR_K8S_NAMESPACE="default"
_SR_K8S_NAME="secret-ref"
_SR_K8S_UID="3b2c9f5e-6a1d-4c8e-9f7a-0d1e2f3a4b5c"

_sr_log() { echo "[servers] $*" >&2; }

# install_servers: create .ci/.venv (if missing) and install the pinned
# requirements. A no-op when the venv already matches the requirements file.
install_servers() {
    local py="${SECRET_REF_PYTHON:-python3}"
    local req="$_SR_CI_DIR/requirements-servers.txt"
    local stamp="$_SR_VENV/.installed-requirements.txt"
    if ! command -v curl >/dev/null 2>&1; then
        _sr_log "curl is required (apt-get install -y curl)"
        return 1
    fi
    if [ -x "$_SR_VENV/bin/python" ] && [ -x "$_SR_VENV/bin/bao" ] \
        && [ -x "$_SR_VENV/bin/moto_server" ] && [ -f "$stamp" ] \
        && cmp -s "$req" "$stamp"; then
        _sr_log "venv $_SR_VENV is up to date"
        return 0
    fi
    if [ ! -x "$_SR_VENV/bin/python" ]; then
        rm -rf "$_SR_VENV"
        _sr_log "creating venv $_SR_VENV"
        "$py" -m venv "$_SR_VENV" || { _sr_log "venv creation failed"; return 1; }
    fi
    _sr_log "pip install -r ${req#"$_SR_REPO"/}"
    "$_SR_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$req" || { _sr_log "pip install failed"; return 1; }
    "$_SR_VENV/bin/bao" version >/dev/null || { _sr_log "bao does not run"; return 1; }
    cp "$req" "$stamp"
    _sr_log "installed: $("$_SR_VENV/bin/bao" version), moto $("$_SR_VENV/bin/python" -c 'import moto; print(moto.__version__)')"
}

# True while PID exists and is not a zombie.
_sr_alive() {
    local st
    if [ -r "/proc/$1/stat" ]; then
        st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
        st="${st##*) }"
        [ "${st%% *}" != "Z" ]
    else
        kill -0 "$1" 2>/dev/null
    fi
}

# True if PID runs something from this checkout's .ci/ (guards against a
# recycled PID from a stale pid file).
_sr_is_ours() {
    local cmd
    [ -r "/proc/$1/cmdline" ] || return 0
    cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
    [[ "$cmd" == *"$_SR_CI_DIR"* ]]
}

# stop_servers: TERM (then KILL after 10 s) every PID recorded in
# target/ci-servers/*.pid, wait for it to exit, remove the pid files (and the
# env file).
# Never fails; safe from an EXIT trap, also when start_servers failed midway.
stop_servers() {
    local f pid i pids=""
    [ -d "$_SR_DIR" ] || return 0
    for f in "$_SR_DIR"/*.pid; do
        [ -f "$f" ] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        case "$pid" in '' | *[!0-9]*) rm -f "$f"; continue ;; esac
        if _sr_alive "$pid" && _sr_is_ours "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids="$pids $pid"
        fi
    done
    for pid in $pids; do
        for ((i = 0; i < 100; i++)); do
            _sr_alive "$pid" || break
            sleep 0.1
        done
        if _sr_alive "$pid"; then
            _sr_log "pid $pid ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                _sr_alive "$pid" || break
                sleep 0.1
            done
        fi
        wait "$pid" 2>/dev/null || true # reap it if it is our child
    done
    rm -f "$_SR_DIR"/*.pid "$_SR_DIR/env" 2>/dev/null || true
    [ -z "$pids" ] || _sr_log "stopped:$pids"
    return 0
}

# Print a random free loopback port in 20000-31999 (below the ephemeral
# range); "pair" also needs PORT+1 free (bao's dev cluster listener).
_sr_pick_port() {
    # shellcheck disable=SC2086
    "$_SR_VENV/bin/python" - "$1" $_SR_USED_PORTS <<'PY'
import random, socket, sys
kind, used = sys.argv[1], {int(p) for p in sys.argv[2:]}
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
rng = random.SystemRandom()
for _ in range(1000):
    p = rng.randrange(20000, 31999)
    span = [p, p + 1] if kind == "pair" else [p]
    if not used.intersection(span) and all(free(q) for q in span):
        print(p)
        sys.exit(0)
sys.exit("no free port found")
PY
}

# _sr_spawn NAME CMD... : start CMD in the background (stdin /dev/null, output
# to NAME.log), record its PID in NAME.pid at once. Sets _SR_PID.
_sr_spawn() {
    local name="$1"
    shift
    "$@" </dev/null >"$_SR_DIR/$name.log" 2>&1 &
    _SR_PID=$!
    echo "$_SR_PID" >"$_SR_DIR/$name.pid"
}

# _sr_wait_http NAME PID URL [curl args...]: poll URL until it answers 2xx.
# Returns 0 when ready, 2 if the process died, 1 on timeout.
_sr_wait_http() {
    local name="$1" pid="$2" url="$3" deadline
    shift 3
    deadline=$((SECONDS + ${SECRET_REF_SERVERS_TIMEOUT:-60}))
    while ((SECONDS < deadline)); do
        if ! _sr_alive "$pid"; then
            _sr_log "$name (pid $pid) exited; last log lines:"
            tail -n 15 "$_SR_DIR/$name.log" >&2 2>/dev/null || true
            return 2
        fi
        if curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$@" "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    _sr_log "$name did not answer $url within ${SECRET_REF_SERVERS_TIMEOUT:-60}s; last log lines:"
    tail -n 15 "$_SR_DIR/$name.log" >&2 2>/dev/null || true
    return 1
}

# Per-server launchers: pick port(s), spawn, set _SR_<NAME>_PORT.
_sr_launch_k8s() {
    _SR_K8S_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_K8S_PORT"
    _sr_spawn k8s "$_SR_VENV/bin/python" "$_SR_CI_DIR/fake_k8s_tokenreview.py" \
        --port "$_SR_K8S_PORT" --tokens-file "$_SR_DIR/k8s-tokens.txt" \
        --namespace "$_SR_K8S_NAMESPACE" --name "$_SR_K8S_NAME" --uid "$_SR_K8S_UID"
    _SR_K8S_PID=$_SR_PID
}
_sr_launch_bao() {
    _SR_BAO_PORT="$(_sr_pick_port pair)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_BAO_PORT $((_SR_BAO_PORT + 1))"
    rm -f "$_SR_DIR/bao-audit.log"
    _sr_spawn bao "$_SR_VENV/bin/bao" server -dev -dev-no-store-token \
        -dev-root-token-id=root -dev-listen-address="127.0.0.1:$_SR_BAO_PORT" \
        -config="$_SR_DIR/bao-audit.hcl"
    _SR_BAO_PID=$_SR_PID
}
_sr_launch_bao_tls() {
    _SR_BAO_TLS_PORT="$(_sr_pick_port pair)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_BAO_TLS_PORT $((_SR_BAO_TLS_PORT + 1))"
    rm -rf "$_SR_DIR/bao-tls"
    mkdir -p "$_SR_DIR/bao-tls" # bao does not create -dev-tls-cert-dir
    _sr_spawn bao-tls "$_SR_VENV/bin/bao" server -dev -dev-tls \
        -dev-tls-cert-dir="$_SR_DIR/bao-tls" -dev-no-store-token \
        -dev-root-token-id=root -dev-listen-address="127.0.0.1:$_SR_BAO_TLS_PORT"
    _SR_BAO_TLS_PID=$_SR_PID
}
_sr_launch_moto() {
    _SR_MOTO_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_MOTO_PORT"
    rm -f "$_SR_DIR/moto-recording.jsonl"
    _sr_spawn moto env MOTO_ENABLE_RECORDING=true \
        MOTO_RECORDER_FILEPATH="$_SR_DIR/moto-recording.jsonl" \
        "$_SR_VENV/bin/moto_server" -H 127.0.0.1 -p "$_SR_MOTO_PORT"
    _SR_MOTO_PID=$_SR_PID
}

# _sr_ready NAME: wait for NAME; if it died (e.g. port taken meanwhile),
# relaunch it on new ports, up to 3 attempts.
_sr_ready() {
    local name="$1" attempt rc pid url
    local cacert="$_SR_DIR/bao-tls/vault-ca.pem"
    for attempt in 1 2 3; do
        case "$name" in
        k8s) pid=$_SR_K8S_PID url="http://127.0.0.1:$_SR_K8S_PORT/healthz" ;;
        # the dev server's secret/ mount exists once this answers 200
        bao) pid=$_SR_BAO_PID url="http://127.0.0.1:$_SR_BAO_PORT/v1/sys/mounts/secret/tune" ;;
        bao-tls) pid=$_SR_BAO_TLS_PID url="https://127.0.0.1:$_SR_BAO_TLS_PORT/v1/sys/mounts/secret/tune" ;;
        moto) pid=$_SR_MOTO_PID url="http://127.0.0.1:$_SR_MOTO_PORT/moto-api/" ;;
        esac
        rc=0
        case "$name" in
        bao) _sr_wait_http "$name" "$pid" "$url" -H "X-Vault-Token: root" || rc=$? ;;
        bao-tls) _sr_wait_http "$name" "$pid" "$url" -H "X-Vault-Token: root" --cacert "$cacert" || rc=$? ;;
        *) _sr_wait_http "$name" "$pid" "$url" || rc=$? ;;
        esac
        [ "$rc" -eq 0 ] && return 0
        [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ] || return 1
        _sr_log "retrying $name on other ports"
        case "$name" in
        k8s) _sr_launch_k8s ;; bao) _sr_launch_bao ;;
        bao-tls) _sr_launch_bao_tls ;; moto) _sr_launch_moto ;;
        esac || return 1
    done
    return 1
}

# _sr_bao METHOD PATH [JSON]: root-token call to the plain dev server.
_sr_bao() {
    local out code
    out="$(curl -sS --noproxy '*' --max-time 10 -X "$1" -H "X-Vault-Token: root" \
        ${3:+--data "$3"} -w '\n%{http_code}' "http://127.0.0.1:$_SR_BAO_PORT/v1/$2")" || {
        _sr_log "bao $1 $2: curl failed"
        return 1
    }
    code="${out##*$'\n'}"
    case "$code" in 2??) return 0 ;; esac
    _sr_log "bao $1 $2 -> HTTP $code: ${out%$'\n'*}"
    return 1
}

# --- azure: the fake Azure Key Vault (.ci/fake_azure.py) ---------------------------------
# Its own block, so that other vendors' servers can be added beside it. One process, two
# loopback listeners: HTTPS (Entra ID sign-in and the key vault, with a CA made at each start
# under target/ci-servers/azure-tls/) and HTTP (IMDS, App Service's identity endpoint, and
# the admin API /_fake/...). See .ci/SERVERS.md.
_SR_AZURE_TENANT="7e3f1c0a-5b2d-4e6f-8a9b-0c1d2e3f4a5b"
_SR_AZURE_CLIENT_ID="0d7c9a1e-2b3f-4c5d-8e6f-7a8b9c0d1e2f"
_SR_AZURE_SYSTEM_IDENTITY="5c4b3a29-1807-4f6e-9d8c-7b6a5f4e3d2c"

_sr_launch_azure() {
    _SR_AZURE_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_AZURE_PORT"
    _SR_AZURE_HTTP_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_AZURE_HTTP_PORT"
    _sr_spawn azure env FAKE_AZURE_CLIENT_SECRET="$_SR_AZURE_CLIENT_SECRET" \
        FAKE_AZURE_IDENTITY_HEADER="$_SR_AZURE_IDENTITY_HEADER" \
        "$_SR_VENV/bin/python" "$_SR_CI_DIR/fake_azure.py" \
        --port "$_SR_AZURE_PORT" --http-port "$_SR_AZURE_HTTP_PORT" \
        --tls-dir "$_SR_DIR/azure-tls" --tenant "$_SR_AZURE_TENANT" \
        --client-id "$_SR_AZURE_CLIENT_ID" --system-identity "$_SR_AZURE_SYSTEM_IDENTITY" \
        --recording "$_SR_DIR/azure-recording.jsonl"
    _SR_AZURE_PID=$_SR_PID
}

# _sr_start_azure: called by start_servers once the others are up; exports
# SECRET_REF_TEST_AZURE_* and SECRET_REF_TEST_PYTHON and appends them to the env file.
_sr_start_azure() {
    local d="$_SR_DIR" py="$_SR_VENV/bin/python" attempt rc v
    rm -rf "$d/azure-tls" "$d/azure-recording.jsonl"
    "$py" "$_SR_CI_DIR/fake_azure.py" --make-tls "$d/azure-tls" || return 1
    _SR_AZURE_CLIENT_SECRET="$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')" || return 1
    _SR_AZURE_IDENTITY_HEADER="$("$py" -c 'import secrets; print(secrets.token_hex(16))')" || return 1
    for attempt in 1 2 3; do
        _sr_launch_azure || return 1
        rc=0
        _sr_wait_http azure "$_SR_AZURE_PID" \
            "https://127.0.0.1:$_SR_AZURE_PORT/$_SR_AZURE_TENANT/v2.0/.well-known/openid-configuration" \
            --cacert "$d/azure-tls/ca.pem" || rc=$?
        [ "$rc" -eq 0 ] && break
        [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ] || return 1
        _sr_log "retrying azure on other ports"
    done
    export SECRET_REF_TEST_AZURE_VAULT_URL="https://127.0.0.1:$_SR_AZURE_PORT"
    export SECRET_REF_TEST_AZURE_AUTHORITY="https://127.0.0.1:$_SR_AZURE_PORT"
    export SECRET_REF_TEST_AZURE_TENANT_ID="$_SR_AZURE_TENANT"
    export SECRET_REF_TEST_AZURE_CLIENT_ID="$_SR_AZURE_CLIENT_ID"
    export SECRET_REF_TEST_AZURE_CLIENT_SECRET="$_SR_AZURE_CLIENT_SECRET"
    export SECRET_REF_TEST_AZURE_CACERT="$d/azure-tls/ca.pem"
    export SECRET_REF_TEST_AZURE_LOCAL_URL="http://127.0.0.1:$_SR_AZURE_HTTP_PORT"
    export SECRET_REF_TEST_AZURE_IDENTITY_ENDPOINT="http://127.0.0.1:$_SR_AZURE_HTTP_PORT/msi/token"
    export SECRET_REF_TEST_AZURE_IDENTITY_HEADER="$_SR_AZURE_IDENTITY_HEADER"
    export SECRET_REF_TEST_AZURE_SYSTEM_IDENTITY="$_SR_AZURE_SYSTEM_IDENTITY"
    export SECRET_REF_TEST_AZURE_RECORDING="$d/azure-recording.jsonl"
    export SECRET_REF_TEST_PYTHON="$py"
    for v in AZURE_VAULT_URL AZURE_AUTHORITY AZURE_TENANT_ID AZURE_CLIENT_ID \
        AZURE_CLIENT_SECRET AZURE_CACERT AZURE_LOCAL_URL AZURE_IDENTITY_ENDPOINT \
        AZURE_IDENTITY_HEADER AZURE_SYSTEM_IDENTITY AZURE_RECORDING PYTHON; do
        v="SECRET_REF_TEST_$v"
        printf "export %s='%s'\n" "$v" "${!v}"
    done >>"$d/env" || return 1
    _sr_log "azure $SECRET_REF_TEST_AZURE_VAULT_URL (identity endpoints and admin" \
        "$SECRET_REF_TEST_AZURE_LOCAL_URL)"
}
# --- end of azure ------------------------------------------------------------------------
# ---- conjur: .ci/fake_conjur.py (CyberArk Conjur), plain http and https ------------------
# One process serves both listeners (same state). The https one uses a CA made here with the
# venv's `cryptography` (pinned for moto). A seeded identity `Dave@BotApp` (test-only
# password and API key below) is what the official-client test logs in as; other tests add
# their own identities through POST /_fake/identities. See SERVERS.md, "Conjur".
_SR_CONJUR_ACCOUNT="myorg"
_SR_CONJUR_LOGIN="Dave@BotApp"
_SR_CONJUR_PASSWORD="fake-conjur-password-Dave"
_SR_CONJUR_API_KEY="fake-conjur-api-key-Dave"

# _sr_conjur_tls DIR: a test CA (ca.pem) and a certificate for 127.0.0.1 and localhost
# (cert.pem, key.pem) signed by it, both EC P-256, valid 30 days.
_sr_conjur_tls() {
    local dir="$1"
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    "$_SR_VENV/bin/python" - "$dir" <<'PY'
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

d = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def valid(builder):
    return (builder.serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)))
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (valid(x509.CertificateBuilder()).subject_name(name("secret-ref test Conjur CA"))
      .issuer_name(name("secret-ref test Conjur CA")).public_key(ca_key.public_key())
      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
      .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                   key_encipherment=False, data_encipherment=False,
                                   key_agreement=False, key_cert_sign=True, crl_sign=True,
                                   encipher_only=False, decipher_only=False), critical=True)
      .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                     critical=False)
      .sign(ca_key, hashes.SHA256()))
key = ec.generate_private_key(ec.SECP256R1())
cert = (valid(x509.CertificateBuilder()).subject_name(name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))
pem = serialization.Encoding.PEM
open(f"{d}/ca.pem", "wb").write(ca.public_bytes(pem))
open(f"{d}/cert.pem", "wb").write(cert.public_bytes(pem))
open(f"{d}/key.pem", "wb").write(key.private_bytes(
    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
}

_sr_launch_conjur() {
    _SR_CONJUR_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_CONJUR_PORT"
    _SR_CONJUR_TLS_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_CONJUR_TLS_PORT"
    _sr_spawn conjur "$_SR_VENV/bin/python" "$_SR_CI_DIR/fake_conjur.py" \
        --port "$_SR_CONJUR_PORT" --tls-port "$_SR_CONJUR_TLS_PORT" \
        --tls-cert "$_SR_DIR/conjur-tls/cert.pem" --tls-key "$_SR_DIR/conjur-tls/key.pem" \
        --account "$_SR_CONJUR_ACCOUNT" --seed "$_SR_DIR/conjur-seed.json"
    _SR_CONJUR_PID=$_SR_PID
}

# _sr_start_conjur: start the fake Conjur (relaunched on other ports if it dies on start, up
# to 3 times), export SECRET_REF_TEST_CONJUR_* and SECRET_REF_TEST_PYTHON, and append them
# to the env file.
_sr_start_conjur() {
    local d="$_SR_DIR" attempt rc v
    _sr_conjur_tls "$d/conjur-tls" || { _sr_log "conjur: cannot make the test CA"; return 1; }
    printf '{"identities":[{"login":"%s","password":"%s","api_key":"%s"}]}\n' \
        "$_SR_CONJUR_LOGIN" "$_SR_CONJUR_PASSWORD" "$_SR_CONJUR_API_KEY" \
        >"$d/conjur-seed.json" || return 1
    _sr_launch_conjur || return 1
    for attempt in 1 2 3; do
        rc=0
        _sr_wait_http conjur "$_SR_CONJUR_PID" \
            "http://127.0.0.1:$_SR_CONJUR_PORT/_fake/health" || rc=$?
        [ "$rc" -eq 0 ] && break
        [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ] || return 1
        _sr_log "retrying conjur on other ports"
        _sr_launch_conjur || return 1
    done
    _sr_wait_http conjur "$_SR_CONJUR_PID" \
        "https://127.0.0.1:$_SR_CONJUR_TLS_PORT/_fake/health" \
        --cacert "$d/conjur-tls/ca.pem" || return 1
    export SECRET_REF_TEST_CONJUR_URL="http://127.0.0.1:$_SR_CONJUR_PORT"
    export SECRET_REF_TEST_CONJUR_TLS_URL="https://127.0.0.1:$_SR_CONJUR_TLS_PORT"
    export SECRET_REF_TEST_CONJUR_CACERT="$d/conjur-tls/ca.pem"
    export SECRET_REF_TEST_CONJUR_ACCOUNT="$_SR_CONJUR_ACCOUNT"
    export SECRET_REF_TEST_CONJUR_LOGIN="$_SR_CONJUR_LOGIN"
    export SECRET_REF_TEST_CONJUR_PASSWORD="$_SR_CONJUR_PASSWORD"
    export SECRET_REF_TEST_CONJUR_API_KEY="$_SR_CONJUR_API_KEY"
    export SECRET_REF_TEST_PYTHON="$_SR_VENV/bin/python"
    for v in CONJUR_URL CONJUR_TLS_URL CONJUR_CACERT CONJUR_ACCOUNT CONJUR_LOGIN \
        CONJUR_PASSWORD CONJUR_API_KEY PYTHON; do
        v="SECRET_REF_TEST_$v"
        printf "export %s='%s'\n" "$v" "${!v}"
    done >>"$d/env" || return 1
    _sr_log "conjur: $SECRET_REF_TEST_CONJUR_URL and $SECRET_REF_TEST_CONJUR_TLS_URL"
}
# ---- end conjur ---------------------------------------------------------------------------

# start_servers: start OpenBao (plain + TLS), moto_server and the fake
# Kubernetes TokenReview API on free loopback ports, wait until they answer,
# prepare the plain OpenBao, export SECRET_REF_TEST_*.
start_servers() {
    local t0=$SECONDS d="$_SR_DIR" k8s_config v
    if [ ! -x "$_SR_VENV/bin/bao" ] || [ ! -x "$_SR_VENV/bin/moto_server" ]; then
        _sr_log "run install_servers first"
        return 1
    fi
    stop_servers # leftovers of an earlier start in this checkout
    mkdir -p "$d" || return 1
    _SR_USED_PORTS=""

    # Declarative audit device (OpenBao 2.x refuses POST /v1/sys/audit/...).
    cat >"$d/bao-audit.hcl" <<EOF || return 1
audit "file" "file" {
  description = "secret-ref test audit log"
  options {
    file_path = "$d/bao-audit.log"
    mode      = "0644"
  }
}
EOF
    _SECRET_REF_K8S_JWT="$("$_SR_VENV/bin/python" "$_SR_CI_DIR/fake_k8s_tokenreview.py" \
        --print-jwt --namespace "$_SR_K8S_NAMESPACE" --name "$_SR_K8S_NAME" \
        --uid "$_SR_K8S_UID")" || return 1
    echo "$_SECRET_REF_K8S_JWT" >"$d/k8s-tokens.txt" || return 1

    _sr_launch_k8s || return 1
    _sr_launch_bao || return 1
    _sr_launch_bao_tls || return 1
    _sr_launch_moto || return 1
    _sr_ready k8s || return 1
    _sr_ready bao || return 1
    _sr_ready bao-tls || return 1
    _sr_ready moto || return 1

    # Plain dev server: KV v1 at kv1/, AppRole at approle/, Kubernetes auth at
    # kubernetes/ pointed at the fake TokenReview API. kubernetes_ca_cert is
    # mandatory with disable_local_ca_jwt=true; it is unused over http, any
    # PEM certificate does, so the TLS server's CA is reused.
    k8s_config="$("$_SR_VENV/bin/python" -c '
import json, sys
print(json.dumps({"kubernetes_host": sys.argv[1], "disable_local_ca_jwt": True,
                  "disable_iss_validation": True,
                  "kubernetes_ca_cert": open(sys.argv[2]).read()}))' \
        "http://127.0.0.1:$_SR_K8S_PORT" "$d/bao-tls/vault-ca.pem")" || return 1
    _sr_bao POST sys/mounts/kv1 '{"type":"kv","options":{"version":"1"}}' || return 1
    _sr_bao POST sys/auth/approle '{"type":"approle"}' || return 1
    _sr_bao POST sys/auth/kubernetes '{"type":"kubernetes"}' || return 1
    _sr_bao POST auth/kubernetes/config "$k8s_config" || return 1

    export SECRET_REF_TEST_BAO_ADDR="http://127.0.0.1:$_SR_BAO_PORT"
    export SECRET_REF_TEST_BAO_TOKEN="root"
    export SECRET_REF_TEST_BAO_TLS_ADDR="https://127.0.0.1:$_SR_BAO_TLS_PORT"
    export SECRET_REF_TEST_BAO_TLS_TOKEN="root"
    export SECRET_REF_TEST_BAO_CACERT="$d/bao-tls/vault-ca.pem"
    export SECRET_REF_TEST_AUDIT_LOG="$d/bao-audit.log"
    export SECRET_REF_TEST_MOTO_URL="http://127.0.0.1:$_SR_MOTO_PORT"
    export SECRET_REF_TEST_MOTO_RECORDING="$d/moto-recording.jsonl"
    export SECRET_REF_TEST_K8S_URL="http://127.0.0.1:$_SR_K8S_PORT"
    export SECRET_REF_TEST_K8S_JWT="$_SECRET_REF_K8S_JWT"
    export SECRET_REF_TEST_K8S_TOKENS_FILE="$d/k8s-tokens.txt"
    for v in BAO_ADDR BAO_TOKEN BAO_TLS_ADDR BAO_TLS_TOKEN BAO_CACERT AUDIT_LOG \
        MOTO_URL MOTO_RECORDING K8S_URL K8S_JWT K8S_TOKENS_FILE; do
        v="SECRET_REF_TEST_$v"
        printf "export %s='%s'\n" "$v" "${!v}"
    done >"$d/env" || return 1
    _sr_start_azure || return 1 # azure: appends its own variables to the env file
    _sr_start_conjur || return 1
    _sr_start_gcp || return 1 # gcp block below: exports and appends to the env file
    _sr_log "ready in $((SECONDS - t0))s: bao $SECRET_REF_TEST_BAO_ADDR," \
        "bao-tls $SECRET_REF_TEST_BAO_TLS_ADDR, moto $SECRET_REF_TEST_MOTO_URL," \
        "k8s $SECRET_REF_TEST_K8S_URL (env file: ${d#"$_SR_REPO"/}/env)"
}

# ---- gcp -----------------------------------------------------------------------------
# Fake GCP Secret Manager, OAuth2 token endpoint and metadata server, all on one port
# (.ci/fake_gcp.py, stdlib only). Two service-account keys are generated for each start
# (RSA 2048 with the venv's `cryptography`), their token_uri the fake's /token, and the fake
# is seeded with their public keys: `reader` may read everything, `denied` nothing.

# _sr_gcp_keys DIR URL PROJECT: write DIR/reader.json, DIR/denied.json (mode 0600) and
# DIR/seed.json (the fake's seed: the public keys).
_sr_gcp_keys() {
    "$_SR_VENV/bin/python" - "$1" "$2" "$3" <<'PY'
import json, os, sys, uuid
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
out, url, project = sys.argv[1:4]
accounts = []
for name, denied in [("reader", False), ("denied", True)]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = f"{name}@{project}.iam.gserviceaccount.com"
    info = {
        "type": "service_account", "project_id": project,
        "private_key_id": uuid.uuid4().hex,
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "client_email": email, "client_id": str(uuid.uuid4().int)[:21],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": url + "/token",
        "universe_domain": "googleapis.com",
    }
    path = os.path.join(out, name + ".json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=2)
    accounts.append({"client_email": email, "denied": denied,
        "public_key_pem": key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()})
with open(os.path.join(out, "seed.json"), "w") as f:
    json.dump({"service_accounts": accounts}, f, indent=2)
PY
}

_SR_GCP_PROJECT="secret-ref-test"

_sr_launch_gcp() {
    local dir="$_SR_DIR/gcp"
    _SR_GCP_PORT="$(_sr_pick_port single)" || return 1
    _SR_USED_PORTS="$_SR_USED_PORTS $_SR_GCP_PORT"
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    _sr_gcp_keys "$dir" "http://127.0.0.1:$_SR_GCP_PORT" "$_SR_GCP_PROJECT" || return 1
    _sr_spawn gcp "$_SR_VENV/bin/python" "$_SR_CI_DIR/fake_gcp.py" --port "$_SR_GCP_PORT" \
        --seed "$dir/seed.json" --project-id "$_SR_GCP_PROJECT" \
        --metadata-email "metadata@$_SR_GCP_PROJECT.iam.gserviceaccount.com"
    _SR_GCP_PID=$_SR_PID
}

# _sr_start_gcp: start the fake (relaunched on another port if it dies on start, up to 3
# times), export SECRET_REF_TEST_GCP_* and SECRET_REF_TEST_PYTHON, append them to the env file.
_sr_start_gcp() {
    local attempt rc v
    for attempt in 1 2 3; do
        _sr_launch_gcp || return 1
        rc=0
        _sr_wait_http gcp "$_SR_GCP_PID" "http://127.0.0.1:$_SR_GCP_PORT/healthz" || rc=$?
        [ "$rc" -eq 0 ] && break
        [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ] || return 1
        _sr_log "retrying gcp on another port"
    done
    export SECRET_REF_TEST_GCP_URL="http://127.0.0.1:$_SR_GCP_PORT"
    export SECRET_REF_TEST_GCP_METADATA_HOST="127.0.0.1:$_SR_GCP_PORT"
    export SECRET_REF_TEST_GCP_METADATA_EMAIL="metadata@$_SR_GCP_PROJECT.iam.gserviceaccount.com"
    export SECRET_REF_TEST_GCP_PROJECT="$_SR_GCP_PROJECT"
    export SECRET_REF_TEST_GCP_KEY_FILE="$_SR_DIR/gcp/reader.json"
    export SECRET_REF_TEST_GCP_DENIED_KEY_FILE="$_SR_DIR/gcp/denied.json"
    export SECRET_REF_TEST_PYTHON="$_SR_VENV/bin/python"
    for v in GCP_URL GCP_METADATA_HOST GCP_METADATA_EMAIL GCP_PROJECT GCP_KEY_FILE \
        GCP_DENIED_KEY_FILE PYTHON; do
        v="SECRET_REF_TEST_$v"
        printf "export %s='%s'\n" "$v" "${!v}"
    done >>"$_SR_DIR/env" || return 1
    _sr_log "gcp $SECRET_REF_TEST_GCP_URL (Secret Manager, /token, metadata server)"
}
