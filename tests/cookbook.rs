//! The cookbook's recipes (`secret_ref::cookbook`), each run as its example program would be
//! deployed: a process with only the environment its platform gives it, reading the
//! configuration file of `examples/cookbook/`.
//!
//! - Docker: a temporary directory laid out as Docker lays out `/run/secrets`;
//! - local development: the developer's variables;
//! - Kubernetes: the real OpenBao of `.ci/servers.sh`, whose `auth/kubernetes` asks the fake
//!   TokenReview API about the service account token;
//! - ECS / EKS: moto's Secrets Manager, with credentials from a container credentials endpoint
//!   served here on loopback (ECS task role, EKS Pod Identity), or from moto's STS with a web
//!   identity token (EKS IRSA).
//!
//! Every run checks that no secret value (canaries), token or key reaches the output.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{example, unique};

/// The output of a finished run: stdout and stderr, checked to hold none of `secrets`.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut command: Command, secrets: &[&str]) -> Run {
    // No test may reach a cloud metadata endpoint by falling through the AWS chain.
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let run = Run {
        ok: status.success(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    };
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

impl Run {
    fn success(self) -> Run {
        assert!(self.ok, "failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }

    fn failure(self) -> Run {
        assert!(!self.ok, "succeeded:\n{}", self.stdout);
        self
    }
}

/// A fresh temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a file as a deployment would mount it: read-only, for its owner only.
fn write_secret(path: &std::path::Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
}

/// A token file as a platform mounts one: `name` in a fresh directory `dir`; returns its path.
#[cfg(any(feature = "hcv", feature = "aws"))]
fn token_file(dir: &str, name: &str, token: &str) -> PathBuf {
    let file = temp_dir(dir).join(name);
    write_secret(&file, token);
    file
}

/// The example's report: its secrets redacted in the `Debug` of its configuration, one for each
/// of `lengths`, and each `(field, value)` of `lengths` reported by its length only, as
/// `<field>: <n> characters`.
#[track_caller]
fn assert_lengths_reported(out: &Run, lengths: &[(&str, &str)]) {
    assert_eq!(
        out.stdout.matches("Secret([REDACTED])").count(),
        lengths.len(),
        "{}",
        out.stdout
    );
    for (field, value) in lengths {
        assert!(
            out.stdout
                .contains(&format!("{field}: {} characters", value.len())),
            "{}",
            out.stdout
        );
    }
}

/// The report of the examples that read `pg_password` and `payments_api_key` from a server:
/// both resolved to `pg` and `key` (by length), and the test server's plain http reported
/// through the example's warning hook.
#[cfg(any(feature = "hcv", feature = "aws"))]
#[track_caller]
fn assert_resolved_over_http(out: &Run, pg: &str, key: &str) {
    assert_lengths_reported(out, &[("pg_password", pg), ("payments_api_key", key)]);
    assert!(
        out.stderr.starts_with("warning: ") && out.stderr.contains("plain http"),
        "{}",
        out.stderr
    );
}

/// The line of standard error that reports `field` failing: it names the field, the line of
/// `conf` the field came from, the reference and its vault, and a cause that says each of
/// `causes`.
#[cfg(any(feature = "hcv", feature = "aws"))]
#[track_caller]
fn assert_field_failed(
    out: &Run,
    field: &str,
    conf: &str,
    reference: &str,
    vault: &str,
    causes: &[&str],
) {
    let line = out
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{field} (")))
        .unwrap_or_else(|| panic!("no line for {field}:\n{}", out.stderr));
    assert!(
        line.contains(&format!("{field} (")) && line.contains(&format!("{conf} line ")),
        "{line}"
    );
    assert!(
        line.contains(&format!("): {reference} (vault `{vault}`): ")),
        "{line}"
    );
    for cause in causes {
        assert!(line.contains(cause), "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Docker secrets with `fs`

#[cfg(feature = "fs")]
mod docker {
    use super::*;

    const PG: &str = "c4n4ry-pg-docker";
    const SMTP_USER: &str = "c4n4ry-mailer";
    const SMTP_PASSWORD: &str = "c4n4ry-smtp-docker-pw";

    /// `/run/secrets` as Docker Compose lays it out for `secrets: [pg-password, smtp]`.
    fn run_secrets(with_pg: bool) -> PathBuf {
        let dir = temp_dir("run-secrets");
        if with_pg {
            // As `echo c4n4ry-pg-docker > pg-password` writes it: with a newline.
            write_secret(&dir.join("pg-password"), &format!("{PG}\n"));
        }
        write_secret(
            &dir.join("smtp"),
            &format!(r#"{{"user": "{SMTP_USER}", "password": "{SMTP_PASSWORD}"}}"#),
        );
        dir
    }

    #[test]
    fn docker_secrets_reads_the_mounted_files() {
        let dir = run_secrets(true);
        let mut command = example("docker_secrets");
        command.env("SECRETS_DIR", &dir);
        let out = run(command, &[PG, SMTP_USER, SMTP_PASSWORD]).success();
        // The references as read, then redacted once resolved.
        assert!(
            out.stdout
                .contains("password: Secret({vault://fs/pg-password})"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("user: Secret({vault://fs/smtp/user})"));
        assert_eq!(out.stdout.matches("Secret([REDACTED])").count(), 3);
        // The file's trailing newline is not part of the password.
        assert!(
            out.stdout
                .contains(&format!("database.password: {} characters", PG.len())),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains(&format!(
            "smtp.user: {} characters, smtp.password: {} characters",
            SMTP_USER.len(),
            SMTP_PASSWORD.len()
        )));
        assert_eq!(out.stderr, "");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn docker_secrets_names_the_missing_file() {
        let dir = run_secrets(false);
        let mut command = example("docker_secrets");
        command.env("SECRETS_DIR", &dir);
        let out = run(command, &[SMTP_USER, SMTP_PASSWORD]).failure();
        assert_eq!(
            out.stderr,
            format!(
                "error: database.password: {{vault://fs/pg-password}} (vault `fs`): no file \
                 `pg-password` in {}\n",
                dir.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Local development with `env`

const DEV_PG: &str = "c4n4ry-dev-pg";
const DEV_KEY: &str = "c4n4ry-dev-payments-key";

#[test]
fn local_dev_reads_the_prefixed_variables() {
    let mut command = example("local_dev");
    command
        .env("MYAPP_PG_PASSWORD", DEV_PG)
        .env("MYAPP_PAYMENTS_API_KEY", DEV_KEY)
        // Another program's variable of the same name is not the service's.
        .env("PG_PASSWORD", "c4n4ry-someone-elses");
    let out = run(command, &[DEV_PG, DEV_KEY, "c4n4ry-someone-elses"]).success();
    assert_lengths_reported(
        &out,
        &[("database.password", DEV_PG), ("payments_api_key", DEV_KEY)],
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn local_dev_names_every_missing_variable() {
    let mut command = example("local_dev");
    command.env("MYAPP_PG_PASSWORD", DEV_PG);
    let out = run(command, &[DEV_PG]).failure();
    assert_eq!(
        out.stderr,
        "error: payments_api_key: {vault://env/payments-api-key} (vault `env`): environment \
         variable MYAPP_PAYMENTS_API_KEY is not set\n"
    );

    // Nothing set: both, in one run.
    let out = run(example("local_dev"), &[]).failure();
    assert!(
        out.stderr
            .starts_with("error: 2 secrets could not be resolved:\n"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(
        "  database.password: {vault://env/pg-password} (vault `env`): environment variable \
         MYAPP_PG_PASSWORD is not set\n"
    ));
    assert!(out.stderr.contains("MYAPP_PAYMENTS_API_KEY is not set"));
}

// ---------------------------------------------------------------------------------------------
// Kubernetes with hcv's kubernetes auth

#[cfg(feature = "hcv")]
mod kubernetes {
    use super::*;
    use common::Bao;
    use serde_json::json;

    // The example's paths are fixed (`examples/cookbook/kubernetes.conf`), and the servers
    // are shared: every run writes the same values, so concurrent runs agree.
    const PG: &str = "c4n4ry-k8s-pg-password";
    const KEY: &str = "c4n4ry-k8s-payments-key";

    /// Writes the secrets, and a role for `service_account` (in `default`) that may read
    /// them; returns the role.
    fn prepare(bao: &Bao, service_account: &str) -> String {
        bao.write_kv2(
            "my-service/db",
            json!({"user": "my-service", "password": PG}),
        );
        bao.write_kv2("my-service/payments", json!({"api_key": KEY}));
        let policy = unique("my-service-read");
        let (status, body) = bao.api(
            "PUT",
            &format!("sys/policies/acl/{policy}"),
            Some(json!({"policy": "path \"secret/data/my-service/*\" { capabilities = [\"read\"] }"})),
        );
        assert_eq!(status, 204, "{body}");
        let role = unique("my-service");
        let (status, body) = bao.api(
            "POST",
            &format!("auth/kubernetes/role/{role}"),
            Some(json!({
                "bound_service_account_names": [service_account],
                "bound_service_account_namespaces": ["default"],
                "token_policies": [policy],
                "token_ttl": "1h"
            })),
        );
        assert_eq!(status, 204, "{body}");
        role
    }

    /// The example as the pod runs it: the settings of `kubernetes.conf`, with the server's
    /// address, the role and the token file given by `MY_SERVICE_*` variables.
    fn pod(bao: &Bao, role: &str, token_file: &std::path::Path) -> Command {
        let mut command = example("kubernetes_vault");
        command
            .env("MY_SERVICE_VAULT_HCV_PROTOCOL", bao.protocol())
            .env("MY_SERVICE_VAULT_HCV_HOST", bao.host())
            .env("MY_SERVICE_VAULT_HCV_PORT", bao.port())
            // The test server is plain http: no CA.
            .env("MY_SERVICE_VAULT_HCV_CA_CERT", "")
            .env("MY_SERVICE_VAULT_HCV_KUBE_ROLE", role)
            .env("MY_SERVICE_VAULT_HCV_KUBE_API_TOKEN_FILE", token_file);
        command
    }

    #[test]
    #[ignore = "needs .ci/servers.sh"]
    fn kubernetes_vault_logs_in_with_the_service_account_token() {
        let bao = Bao::plain();
        let jwt = common::server("SECRET_REF_TEST_K8S_JWT");
        let role = prepare(&bao, "secret-ref");
        let file = token_file("serviceaccount", "token", &jwt);
        let out = run(pod(&bao, &role, &file), &[PG, KEY, &jwt, &bao.token]).success();
        assert_resolved_over_http(&out, PG, KEY);
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }

    #[test]
    #[ignore = "needs .ci/servers.sh"]
    fn kubernetes_vault_with_another_service_accounts_role_names_each_field() {
        let bao = Bao::plain();
        let jwt = common::server("SECRET_REF_TEST_K8S_JWT");
        // The role is for `billing`; the pod's token is `secret-ref`'s.
        let role = prepare(&bao, "billing");
        let file = token_file("serviceaccount", "token", &jwt);
        let out = run(pod(&bao, &role, &file), &[PG, KEY, &jwt, &bao.token]).failure();
        assert!(
            out.stderr
                .contains("error: 2 secrets could not be resolved:\n"),
            "{}",
            out.stderr
        );
        for (field, reference) in [
            ("pg_password", "{vault://hcv/my-service/db/password}"),
            (
                "payments_api_key",
                "{vault://hcv/my-service/payments/api_key}",
            ),
        ] {
            assert_field_failed(
                &out,
                field,
                "kubernetes.conf",
                reference,
                "hcv",
                &["kubernetes login", "service account name not authorized"],
            );
        }
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// ECS / EKS with aws

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use common::Moto;
    use serde_json::{Value, json};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    const PG: &str = "c4n4ry-aws-pg-password";
    const KEY: &str = "c4n4ry-aws-payments-key";

    /// The example's secrets (fixed names: every run writes the same values).
    fn prepare(moto: &Moto) {
        for (name, value) in [
            (
                "my-service/db",
                json!({"username": "my_service", "password": PG}).to_string(),
            ),
            ("my-service/payments-api-key", KEY.to_owned()),
        ] {
            let (status, body) =
                moto.call("CreateSecret", json!({"Name": name, "SecretString": value}));
            if status != 200 {
                assert_eq!(body["__type"], "ResourceExistsException", "{body}");
                let (status, body) = moto.call(
                    "PutSecretValue",
                    json!({"SecretId": name, "SecretString": value}),
                );
                assert_eq!(status, 200, "{body}");
            }
        }
    }

    /// The task or pod, with the settings of `aws.conf` and moto as the endpoint.
    fn task(moto: &Moto) -> Command {
        let mut command = example("aws_ecs");
        command
            .env("MY_SERVICE_VAULT_AWS_REGION", "us-east-1")
            .env("MY_SERVICE_VAULT_AWS_ENDPOINT_URL", &moto.url);
        command
    }

    /// A container credentials endpoint on loopback, as the ECS agent or the EKS Pod Identity
    /// agent serves one: answers requests carrying `Authorization: <token>` with `keys`,
    /// others with 403. Returns its URL and the `Authorization` values it received.
    fn credentials_endpoint(token: &str, keys: Value) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/credentials", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (token, record) = (token.to_owned(), seen.clone());
        // Serves until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let auth = text
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                let (status, body) = if auth == token {
                    ("200 OK", keys.to_string())
                } else {
                    (
                        "403 Forbidden",
                        r#"{"Code":"AccessDenied","Message":"invalid token"}"#.to_owned(),
                    )
                };
                record.lock().unwrap().push(auth);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    /// moto's record of the requests it was sent (bodies decoded).
    fn recorded() -> Vec<Value> {
        std::fs::read_to_string(common::server("SECRET_REF_TEST_MOTO_RECORDING"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|mut v| {
                if v["body_encoded"] == true {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v["body"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    v["body"] = Value::String(String::from_utf8_lossy(&bytes).into_owned());
                }
                v
            })
            .collect()
    }

    /// The task as EKS Pod Identity runs it: the agent's URL, and a file with the token the
    /// agent asks for. Returns the task and the file.
    fn pod_identity_task(moto: &Moto, url: &str, token: &str) -> (Command, PathBuf) {
        let token_file = token_file("eks-pod-identity", "eks-pod-identity-token", token);
        let mut command = task(moto);
        command
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
        (command, token_file)
    }

    #[test]
    #[ignore = "needs .ci/servers.sh"]
    fn aws_ecs_signs_with_the_container_credentials() {
        let moto = Moto::new();
        prepare(&moto);
        // Keys of this run's own, so that moto's record shows which requests they signed.
        let id = unique("key").replace('-', "").to_uppercase();
        let access_key = format!("ASIA{}", &id[id.len() - 16..]);
        let (secret_key, session) = (unique("c4n4ry-secret-key"), unique("c4n4ry-session"));
        let agent_token = unique("c4n4ry-pod-identity-token");
        let (url, seen) = credentials_endpoint(
            &agent_token,
            json!({
                "AccessKeyId": access_key,
                "SecretAccessKey": secret_key,
                "Token": session,
                "Expiration": "2099-01-01T00:00:00Z",
                "RoleArn": "arn:aws:iam::123456789012:role/my-service-task",
            }),
        );
        let (command, token_file) = pod_identity_task(&moto, &url, &agent_token);
        let out = run(command, &[PG, KEY, &secret_key, &session, &agent_token]).success();
        assert_resolved_over_http(&out, PG, KEY);

        // Credentials were asked for once, with the agent's token.
        assert_eq!(*seen.lock().unwrap(), [agent_token.as_str()]);
        // And they signed both reads.
        let signed: Vec<String> = recorded()
            .into_iter()
            .filter(|v| v["headers"]["X-Amz-Target"] == "secretsmanager.GetSecretValue")
            .filter(|v| {
                let auth = v["headers"]["Authorization"].as_str().unwrap_or_default();
                auth.contains(&format!("Credential={access_key}/"))
                    && v["headers"]["X-Amz-Security-Token"] == session.as_str()
            })
            .map(|v| {
                serde_json::from_str::<Value>(v["body"].as_str().unwrap()).unwrap()["SecretId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            signed.len(),
            2,
            "GetSecretValue signed by the container credentials: {signed:?}"
        );
        assert!(signed.contains(&"my-service/db".to_owned()));
        assert!(signed.contains(&"my-service/payments-api-key".to_owned()));
        std::fs::remove_dir_all(token_file.parent().unwrap()).unwrap();
    }

    #[test]
    #[ignore = "needs .ci/servers.sh"]
    fn aws_ecs_with_credentials_refused_names_each_field() {
        let moto = Moto::new();
        prepare(&moto);
        let agent_token = unique("c4n4ry-pod-identity-token");
        let (url, seen) = credentials_endpoint(
            &agent_token,
            json!({"AccessKeyId": "ASIANEVERGIVEN", "SecretAccessKey": "x", "Token": "y"}),
        );
        // A stale token: the agent refuses it.
        let stale = unique("c4n4ry-stale-token");
        let (command, token_file) = pod_identity_task(&moto, &url, &stale);
        let out = run(command, &[PG, KEY, &agent_token, &stale]).failure();
        assert!(
            !seen.lock().unwrap().is_empty(),
            "the endpoint was not asked"
        );
        for (field, reference) in [
            ("pg_password", "{vault://aws/my-service/db/password}"),
            (
                "payments_api_key",
                "{vault://aws/my-service/payments-api-key/}",
            ),
        ] {
            assert_field_failed(
                &out,
                field,
                "aws.conf",
                reference,
                "aws",
                &["no AWS credentials"],
            );
        }
        std::fs::remove_dir_all(token_file.parent().unwrap()).unwrap();
    }

    #[test]
    #[ignore = "needs .ci/servers.sh"]
    fn aws_eks_irsa_assumes_the_role_with_the_web_identity_token() {
        let moto = Moto::new();
        prepare(&moto);
        let role_arn = format!("arn:aws:iam::123456789012:role/{}", unique("my-service"));
        let session = unique("my-service-pod");
        let jwt = unique("c4n4ry-projected-sa-token");
        let token_file = token_file("eks-irsa", "token", &jwt);
        // The variables EKS's webhook adds to the pod; STS is moto's.
        let mut command = task(&moto);
        command
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("AWS_ROLE_ARN", &role_arn)
            .env("AWS_ROLE_SESSION_NAME", &session)
            .env("AWS_ENDPOINT_URL_STS", &moto.url);
        let out = run(command, &[PG, KEY, &jwt]).success();
        assert_resolved_over_http(&out, PG, KEY);

        // The role was assumed with the pod's token: the only credentials the process had.
        let assumed = recorded()
            .into_iter()
            .filter(|v| {
                let body = v["body"].as_str().unwrap_or_default();
                body.contains("Action=AssumeRoleWithWebIdentity")
                    && body.contains(&format!("RoleSessionName={session}"))
            })
            .count();
        assert_eq!(assumed, 1);
        std::fs::remove_dir_all(token_file.parent().unwrap()).unwrap();
    }
}
