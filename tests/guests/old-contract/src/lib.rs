//! Exports `door:connector/connector@0.9.0`: the host must refuse it and say why.

wit_bindgen::generate!({ path: "wit", world: "old-connector" });

struct Old;

impl exports::door::connector::connector::Guest for Old {
    fn info() -> String {
        "old".into()
    }
}

export!(Old);
