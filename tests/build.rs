//! Compiles the components the tests run: the connectors, the template, the test guests
//! (and the JavaScript one, where Node.js and npm are there).

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
            "epms-test-hostile",
            "epms-test-bench",
            "epms-test-old-contract",
            "epms-test-incomplete-contract",
            "epms-test-acme-next",
        ],
        &["connectors", "examples/connector-template", "tests/guests"],
    );
    let mut constants = epms_guest_build::constants(&guests);
    // The JavaScript guest needs Node.js and npm; without them its tests say they skipped.
    let js = epms_guest_build::build_js("tests/guests/acme-js");
    if let Err(why) = &js {
        println!("cargo:warning=the JavaScript test guest was not built: {why}");
    }
    constants.push_str(&format!(
        "/// The JavaScript `acme-js` component, or why it could not be built.\npub const EPMS_TEST_ACME_JS: Result<&str, &str> = {};\n",
        match &js {
            Ok(path) => format!("Ok({:?})", path.display().to_string()),
            Err(why) => format!("Err({why:?})"),
        }
    ));
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, constants).unwrap();
}
