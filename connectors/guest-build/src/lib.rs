//! Compiles connector crates of this workspace into `wasm32-wasip2` components, from
//! a build script, so that `cargo build` / `cargo test` of the host always have
//! fresh components without any other tool.
//!
//! The nested `cargo build` gets its own target directory (`<target>/wasm-guests`):
//! the outer build holds the lock on the main one. It makes sure the
//! `wasm32-wasip2` target is installed (a fresh machine has only the host target,
//! and `rust-toolchain.toml` does not add targets to an installed toolchain).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target connectors are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// One compiled component.
#[derive(Debug, Clone)]
pub struct Guest {
    /// The package name, e.g. `epms-connector-yardi`.
    pub package: String,
    /// Where the component is.
    pub wasm: PathBuf,
}

impl Guest {
    /// An upper-case Rust identifier for the package (`epms-test-hostile` → `EPMS_TEST_HOSTILE`).
    pub fn const_name(&self) -> String {
        self.package.to_uppercase().replace('-', "_")
    }
}

fn workspace_root() -> PathBuf {
    // Up from the calling package (its build script's environment) to the manifest
    // that declares the workspace. Not this crate's compile-time location: a build
    // of this crate cached in a shared target directory may come from a checkout
    // elsewhere.
    let caller =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("called from a build script"));
    caller
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .expect("the calling package is inside the workspace")
        .to_owned()
}

/// `<target dir>/wasm-guests`, from a build script's `OUT_DIR`
/// (`<target>/<profile>/build/<pkg>-<hash>/out`).
fn guest_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("called from a build script"));
    let target = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()) // <profile> (or <triple>/<profile>)
        .and_then(|profile| profile.parent())
        .map(Path::to_owned)
        .unwrap_or_else(|| out.join("target"));
    target.join("wasm-guests")
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The outer build's settings are for the host target; none of them may leak in.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// Installs the wasm target with rustup if the toolchain lacks it.
pub fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot
        .as_ref()
        .is_some_and(|s| s.join("lib/rustlib").join(TARGET).join("lib").is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .unwrap_or_else(|e| panic!("the {TARGET} target is missing and rustup could not run ({e}); install it with `rustup target add {TARGET}`"));
    assert!(status.success(), "`rustup target add {TARGET}` failed");
}

/// Builds `packages` (workspace members) for [`TARGET`] in release mode and returns
/// their components. Emits `rerun-if-changed` for `watch` (paths relative to the
/// workspace root) plus the contract and the SDK.
pub fn build(packages: &[&str], watch: &[&str]) -> Vec<Guest> {
    let root = workspace_root();
    for path in ["wit", "connectors/sdk", "Cargo.lock"].iter().chain(watch) {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    ensure_target();
    let target_dir = guest_target_dir();
    let mut cmd = cargo();
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        // Small components: no debug info (names stay for backtraces).
        .args(["--config", "profile.release.debug=false"])
        .args(["--config", "profile.release.strip=\"debuginfo\""])
        // Speed: one optimisation unit across crates, and Wasm SIMD (a standard
        // feature wasmtime enables) for memchr's searches in the XML and JSON readers.
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .args([
            "--config",
            "target.wasm32-wasip2.rustflags=[\"-C\", \"target-feature=+simd128\"]",
        ]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().expect("cargo could not run");
    assert!(status.success(), "building the connector components failed");
    packages
        .iter()
        .map(|p| Guest {
            package: (*p).to_owned(),
            wasm: target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", p.replace('-', "_"))),
        })
        .inspect(|g| assert!(g.wasm.is_file(), "{} was not produced", g.wasm.display()))
        .collect()
}

/// Rust source declaring one `pub const NAME: &str = "<path>";` per guest, for
/// `include!` from `OUT_DIR`.
pub fn constants(guests: &[Guest]) -> String {
    guests
        .iter()
        .map(|g| {
            format!(
                "/// Path of the compiled `{}` component.\npub const {}: &str = {:?};\n",
                g.package,
                g.const_name(),
                g.wasm.display().to_string()
            )
        })
        .collect()
}

/// Makes a JavaScript connector a component with componentize-js, from a build script.
///
/// `dir` (relative to the workspace root) holds `connector.js`, `build.mjs`,
/// `package.json` and a `package-lock.json` that pins componentize-js. They are copied
/// to `<target>/js-guests/<name>`, where `npm ci` installs the pinned packages (once per
/// lock file) and `node build.mjs` writes `<name>.wasm`. Node.js and npm come from the
/// machine (the packages from the npm registry); where either is missing or fails, the
/// reason is returned so that the tests needing the component can say they were skipped.
pub fn build_js(dir: &str) -> Result<PathBuf, String> {
    let root = workspace_root();
    let source = root.join(dir);
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{dir} names no folder"))?;
    const FILES: [&str; 4] = [
        "connector.js",
        "build.mjs",
        "package.json",
        "package-lock.json",
    ];
    for file in FILES {
        println!("cargo:rerun-if-changed={}", source.join(file).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    let work = guest_target_dir()
        .parent()
        .map(|t| t.join("js-guests").join(&name))
        .ok_or("no target directory")?;
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let lock = std::fs::read(source.join("package-lock.json"))
        .map_err(|e| format!("{dir}/package-lock.json: {e}"))?;
    let installed = work.join("node_modules/.installed-lock");
    if std::fs::read(&installed).ok().as_deref() != Some(lock.as_slice()) {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), work.join(file))
                .map_err(|e| format!("copying {file}: {e}"))?;
        }
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&work),
            "npm ci",
        )?;
        std::fs::write(&installed, &lock).map_err(|e| format!("{}: {e}", installed.display()))?;
    }
    let wasm = work.join(format!("{name}.wasm"));
    // This script reruns whenever any guest changes; componentize only when this one did.
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let inputs = FILES
        .iter()
        .map(|f| source.join(f))
        .chain([root.join("wit/v1/connector.wit")])
        .map(modified)
        .collect::<Option<Vec<_>>>();
    if let (Some(built), Some(inputs)) = (modified(wasm.clone()), inputs)
        && inputs.iter().all(|i| *i <= built)
    {
        return Ok(wasm);
    }
    std::fs::copy(source.join("build.mjs"), work.join("build.mjs"))
        .map_err(|e| format!("copying build.mjs: {e}"))?;
    run(
        Command::new("node")
            .arg(work.join("build.mjs"))
            .arg(source.join("connector.js"))
            .arg(root.join("wit/v1"))
            .arg(&wasm)
            .current_dir(&work),
        "node build.mjs",
    )?;
    Ok(wasm)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what} could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
