//! The `epms` binary as its users run it: `connector inspect|check|properties|fetch|
//! record|replay` (an author), the demo,
//! the service with its tokens, and shipping a signed connector to a running host.
//! With the bundled template component and the simulator on loopback.

use std::process::Command;

mod common;
use common::{created_token, epms, free_port};

use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

const TEMPLATE: &str = env!("EPMS_CONNECTOR_TEMPLATE_WASM");

#[test]
fn inspect_prints_the_contract_facts() {
    let cache = tempfile::tempdir().unwrap();
    let out = epms(cache.path())
        .args(["connector", "inspect", TEMPLATE, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["info"]["vendor"], "acme");
    assert_eq!(json["info"]["contract_version"], "1.0.0");
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn inspect_refuses_a_file_that_is_not_a_component() {
    let cache = tempfile::tempdir().unwrap();
    let junk = cache.path().join("junk.wasm");
    std::fs::write(&junk, "not wasm").unwrap();
    let out = epms(cache.path())
        .args(["connector", "inspect"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly component"));
}

#[test]
fn fetch_prints_one_json_object_per_record_or_the_typed_error() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let portfolio = generate(&Spec {
        seed: 5,
        properties: vec![("acme".into(), "P5".into(), 120)],
    });
    let truth = portfolio.properties[0].leases.clone();
    let sim = tokio.block_on(Simulator::start(portfolio)).unwrap();
    let base = sim.base_url("acme").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let config = cache.path().join("acme.toml");
    let fetch = |token: &str| {
        std::fs::write(
            &config,
            format!("base-url = \"{base}\"\napi-token = \"{token}\"\n"),
        )
        .unwrap();
        epms(cache.path())
            .args([
                "connector",
                "fetch",
                TEMPLATE,
                "--property",
                "P5",
                "--what",
                "leases",
                "--allow-loopback",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap()
    };

    let ok = fetch(pms_sim::vendors::acme::TOKEN);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let leases: Vec<epms_model::Lease> = String::from_utf8(ok.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(leases, truth);

    let denied = fetch("wrong-token");
    assert_eq!(denied.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&denied.stderr).unwrap();
    assert_eq!(err["error"]["code"], "auth");
    drop(sim);
}

#[test]
fn check_properties_record_and_replay_through_the_binary() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let portfolio = generate(&Spec {
        seed: 6,
        properties: vec![("acme".into(), "P6".into(), 30)],
    });
    let truth = portfolio.properties[0].units.clone();
    let sim = tokio.block_on(Simulator::start(portfolio)).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let config = cache.path().join("acme.toml");
    std::fs::write(
        &config,
        format!(
            "base-url = \"{}\"\napi-token = \"{}\"\n",
            sim.base_url("acme").unwrap(),
            pms_sim::vendors::acme::TOKEN
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = epms(cache.path())
            .arg("connector")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let config = config.to_str().unwrap();
    let (code, stdout, stderr) = run(&["check", TEMPLATE, "--allow-loopback", "--config", config]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("credential accepted"));
    let (code, stdout, _) = run(&[
        "properties",
        TEMPLATE,
        "--allow-loopback",
        "--config",
        config,
    ]);
    assert_eq!(code, Some(0));
    let props: Vec<epms_model::PmsProperty> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(props.iter().any(|p| p.id == "P6"));

    let cassette = cache.path().join("acme.cassette.json");
    let cassette = cassette.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "record",
        TEMPLATE,
        "--allow-loopback",
        "--config",
        config,
        "--property",
        "P6",
        "--out",
        cassette,
        "--mask-personal",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("exchanges recorded"), "{stdout}");
    let recorded = std::fs::read_to_string(cassette).unwrap();
    assert!(
        !recorded.contains(pms_sim::vendors::acme::TOKEN),
        "no secret in the cassette"
    );
    drop(sim);

    // The simulator is gone, and loopback is not allowed: the replay reads offline.
    let (code, stdout, stderr) = run(&[
        "replay",
        TEMPLATE,
        "--cassette",
        cassette,
        "--property",
        "P6",
        "--what",
        "units",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let units: Vec<epms_model::Unit> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(units, truth);
    let (code, _, stderr) = run(&[
        "replay",
        TEMPLATE,
        "--cassette",
        cassette,
        "--property",
        "P7",
        "--what",
        "units",
    ]);
    assert_eq!(
        code,
        Some(2),
        "a request the cassette does not hold: {stderr}"
    );
    assert!(stderr.contains("not in the cassette"), "{stderr}");
}

#[test]
fn the_demo_runs_the_whole_pipeline_settles_and_serves_the_api() {
    use std::io::BufRead as _;
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = epms(cache.path())
        .args(["demo", "--units", "60", "--listen", &addr, "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read up to the admin token; the demo then keeps serving.
    let mut stdout = String::new();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let token = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("the demo ended before serving: {stdout}");
        };
        stdout.push_str(&line);
        stdout.push('\n');
        if line.trim_start().starts_with("admin:")
            && let Some(t) = line.split_whitespace().find(|w| w.starts_with("epms_"))
        {
            break t.to_owned();
        }
    };
    // The summary: every alert type of User Sync and Safety's Missing From PMS on
    // every property, units left unmapped, a move-in's grants and a move-out's
    // revokes pending.
    let lines: Vec<&str> = stdout.lines().collect();
    let number_before = |line: &str, words: &str| -> u64 {
        let at = line
            .find(words)
            .unwrap_or_else(|| panic!("{words:?} in {line:?}"));
        line[..at]
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number before {words:?} in {line:?}"))
    };
    for vendor in ["yardi", "realpage", "entrata", "mri", "appfolio"] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("door-{vendor}: ")))
            .unwrap_or_else(|| panic!("a summary for {vendor}: {stdout}"));
        let (head, alerts, waiting) = (lines[at], lines[at + 1], lines[at + 2]);
        assert!(number_before(head, " PMS units not mapped") > 0, "{head}");
        // Times as dates, not unix seconds.
        assert!(head.contains(" UTC ("), "{head}");
        for name in [
            "Duplicate Emails",
            "Missing Email",
            "Duplicate Account",
            "Name Mismatch",
            "Email Mismatch",
            "Missing From PMS",
        ] {
            assert!(
                number_before(alerts, name) > 0,
                "{vendor}: no {name}: {alerts}"
            );
        }
        assert!(number_before(waiting, " to grant") > 0, "{waiting}");
        assert!(number_before(waiting, " to revoke") > 0, "{waiting}");
    }
    assert!(stdout.contains("console on http://"), "{stdout}");
    let (status, body) = get(&addr, "/api/v1/properties", Some(&token)).unwrap();
    assert!(status.contains("200"), "{status} {body}");
    for vendor in ["yardi", "realpage", "entrata", "mri", "appfolio"] {
        assert!(body.contains(&format!("door-{vendor}")), "{body}");
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    assert!(data.path().join("epms.redb").is_file());
    // A second run refuses to reuse a database.
    let again = epms(cache.path())
        .args(["demo", "--units", "60", "--no-serve", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
}

/// One HTTP/1.1 GET on loopback; returns the status line and the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> std::io::Result<(String, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr)?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Ok((
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    ))
}

/// `epms serve` on a free port, configured by `configure`; returns once `/healthz`
/// answers, with the address.
fn serve(
    cache: &std::path::Path,
    configure: impl Fn(&mut Command),
) -> (std::process::Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = epms(cache);
    configure(&mut cmd);
    let mut child = cmd.env("EPMS_LISTEN", &addr).arg("serve").spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while get(&addr, "/healthz", None).is_err() {
        assert!(std::time::Instant::now() < deadline, "no API on {addr}");
        assert!(child.try_wait().unwrap().is_none(), "serve exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (child, addr)
}

/// Ctrl-C (`INT`) or a service manager's `TERM`: a graceful stop, the redb file
/// released.
fn stop(mut child: std::process::Child, signal: &str) {
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn tokens_survive_a_restart_of_the_service_configured_by_the_environment() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let with_env = |cmd: &mut Command| {
        cmd.env("EPMS_DATA_DIR", data.path())
            .env("EPMS_SCHEDULER__TICK_MILLIS", "100");
    };
    // A manager token needs a property that exists.
    let mut create = epms(cache.path());
    with_env(&mut create);
    let out = create
        .args(["token", "create", "--role", "manager", "--property", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let mut create = epms(cache.path());
    with_env(&mut create);
    let token = created_token(create.args(["token", "create", "--role", "admin"]));
    assert!(token.starts_with("epms_"), "{token}");

    for round in 0..2 {
        let (child, addr) = serve(cache.path(), with_env);
        let (status, body) = get(&addr, "/api/v1/properties", Some(&token)).unwrap();
        assert!(status.contains("200"), "round {round}: {status} {body}");
        let (status, _) = get(&addr, "/api/v1/properties", Some("epms_wrong")).unwrap();
        assert!(status.contains("401"), "round {round}: {status}");
        stop(child, "INT");
    }

    // Offline: the token is listed by id (never by value) and revoked.
    let mut list = epms(cache.path());
    with_env(&mut list);
    let out = list.args(["token", "list"]).output().unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(!listed.contains(&token), "{listed}");
    let id = listed
        .split_whitespace()
        .next()
        .expect("one token")
        .to_owned();
    assert!(listed.contains("Admin"), "{listed}");
    let mut revoke = epms(cache.path());
    with_env(&mut revoke);
    assert!(
        revoke
            .args(["token", "revoke", &id])
            .status()
            .unwrap()
            .success()
    );
    let mut list = epms(cache.path());
    with_env(&mut list);
    let out = list.args(["token", "list"]).output().unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_author_signs_a_connector_and_an_admin_installs_and_activates_it_from_the_cli() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let author = keys.path().join("author");
    let out = epms(cache.path())
        .args(["connector", "keygen", "--out"])
        .arg(&author)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(public.starts_with("epms-ed25519-public "), "{public}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(keys.path().join("author.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret key is private: {mode:o}");
    }
    let signature = keys.path().join("template.sig");
    let signed = epms(cache.path())
        .args(["connector", "sign", TEMPLATE, "--key"])
        .arg(keys.path().join("author.key"))
        .arg("--out")
        .arg(&signature)
        .status()
        .unwrap();
    assert!(signed.success());

    let with_env = |cmd: &mut Command| {
        cmd.env("EPMS_DATA_DIR", data.path())
            .env("EPMS_SCHEDULER__ENABLED", "false")
            .env("EPMS_CONNECTORS__TRUSTED_KEYS", &public);
    };
    let mut create = epms(cache.path());
    with_env(&mut create);
    let token = created_token(create.args(["token", "create", "--role", "admin"]));
    let (child, addr) = serve(cache.path(), with_env);
    let remote = |args: &[&str]| {
        let mut cmd = epms(cache.path());
        cmd.args(["connector"])
            .args(args)
            .env("EPMS_URL", format!("http://{addr}"))
            .env("EPMS_TOKEN", &token);
        cmd.output().unwrap()
    };

    // A signature for other bytes is refused, with the API's own code.
    let other = keys.path().join("other.sig");
    std::fs::write(&other, "epms-ed25519 0000000000000000 AAAA\n").unwrap();
    let refused = remote(&["install", TEMPLATE, "--signature", other.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("signature"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let installed = remote(&[
        "install",
        TEMPLATE,
        "--signature",
        signature.to_str().unwrap(),
    ]);
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&installed.stdout).unwrap();
    let sha = answer["version"]["sha256"].as_str().unwrap().to_owned();
    assert!(
        answer["version"]["provenance"]
            .as_str()
            .unwrap()
            .starts_with("signed by key")
    );
    let activated = remote(&["activate", "acme", &sha]);
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );
    let versions = remote(&["versions"]);
    let listed: serde_json::Value = serde_json::from_slice(&versions.stdout).unwrap();
    assert_eq!(
        listed["vendors"]["acme"]["active"],
        sha.as_str(),
        "{listed}"
    );

    stop(child, "TERM");
}
