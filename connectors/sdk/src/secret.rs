//! Placeholders for secrets. The connector never holds a secret: it writes one of
//! these where the secret belongs and the host substitutes the value on requests to
//! the credential's own host (escaped for the body's content type).

/// `{{secret:NAME}}`: the value of the secret config field `NAME`.
pub fn placeholder(name: &str) -> String {
    format!("{{{{secret:{name}}}}}")
}

/// An `Authorization` header value for HTTP Basic: `Basic base64(user:password)`.
/// Either part may contain placeholders (MRI's user part holds a secret partner key).
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {{{{base64:{user}:{password}}}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_have_the_contract_syntax() {
        assert_eq!(placeholder("password"), "{{secret:password}}");
        assert_eq!(
            basic_auth("client/db", &placeholder("password")),
            "Basic {{base64:client/db:{{secret:password}}}}"
        );
    }
}
