//! Compiles the connectors that ship inside the `epms` binary.

fn main() {
    let guests = epms_guest_build::build(
        &[
            "epms-connector-yardi",
            "epms-connector-realpage",
            "epms-connector-entrata",
            "epms-connector-mri",
            "epms-connector-appfolio",
            "epms-connector-rentmanager",
            "epms-connector-template",
        ],
        &["connectors", "examples/connector-template"],
    );
    for g in &guests {
        // For the CLI's own tests.
        println!(
            "cargo:rustc-env={}_WASM={}",
            g.const_name(),
            g.wasm.display()
        );
    }
    let mut src = String::from(
        "/// Connectors built into this binary: (package, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for g in &guests {
        src.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            g.package,
            g.wasm.display().to_string()
        ));
    }
    src.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(out, src).unwrap();
}
