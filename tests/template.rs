//! The connector template stands alone: copied out of this repository with only the
//! SDK path changed, its manifest resolves (no `workspace = true` left to break it).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_template_manifest_works_outside_the_workspace() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = repo.join("examples/connector-template");
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("acme2");
    std::fs::create_dir_all(copy.join("src")).unwrap();
    for entry in std::fs::read_dir(template.join("src")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join("src").join(entry.file_name())).unwrap();
    }
    let sdk = repo.join("connectors/sdk").canonicalize().unwrap();
    let manifest = std::fs::read_to_string(template.join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains(".workspace"),
        "inherits from the workspace:\n{manifest}"
    );
    let manifest = manifest.replace(
        "path = \"../../connectors/sdk\"",
        &format!("path = {:?}", sdk.display().to_string()),
    );
    std::fs::write(copy.join("Cargo.toml"), manifest).unwrap();
    // The repository's lock file pins what the copy resolves, so no registry is asked.
    std::fs::copy(repo.join("Cargo.lock"), copy.join("Cargo.lock")).unwrap();
    let metadata = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(copy.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    assert_eq!(json["workspace_root"], copy.display().to_string());
}
