//! Exports an incomplete `door:connector/connector@1.0.0`.

wit_bindgen::generate!({ path: "wit", world: "incomplete-connector" });

struct Incomplete;

impl exports::door::connector::connector::Guest for Incomplete {
    fn info() -> String {
        "incomplete".into()
    }
}

export!(Incomplete);
