//! Compiles the components the tests run: the connector template and the test guests.

fn main() {
    let guests = epms_guest_build::build(
        &[
            "epms-connector-yardi",
            "epms-connector-realpage",
            "epms-connector-entrata",
            "epms-connector-mri",
            "epms-connector-appfolio",
            "epms-connector-template",
            "epms-test-hostile",
            "epms-test-bench",
            "epms-test-old-contract",
            "epms-test-incomplete-contract",
            "epms-test-acme-next",
        ],
        &["connectors", "examples/connector-template", "tests/guests"],
    );
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, epms_guest_build::constants(&guests)).unwrap();
}
