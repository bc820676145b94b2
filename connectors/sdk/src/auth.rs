//! Session-token authentication: sign in once by a request of its own (a POST with
//! the password as a placeholder), send the token the PMS returned in a header of every
//! later request, and sign in again once when the PMS answers 401 (the token expired).
//!
//! The token lives in guest memory for the session, as any bearer of the session must
//! hold it; the password does not: the sign-in body carries `{{secret:password}}` and
//! the host fills it in. One sign-in per session also respects PMSs that limit the
//! sessions a user may hold at once.

use crate::ConnectorError;
use crate::http::Response;
use crate::session::Memo;

/// The token of one session, signed in on first use.
#[derive(Debug, Default)]
pub struct TokenSession {
    token: Memo<(), String>,
}

impl TokenSession {
    /// Sends a request with the session's token: `sign_in` makes one when there is none
    /// yet, `send` sends the request with it. On a 401 the token is dropped, `sign_in`
    /// runs once more and the request is sent again; a second 401 is returned to the
    /// caller (whose error mapping makes it `auth`).
    pub fn send(
        &self,
        sign_in: impl Fn() -> Result<String, ConnectorError>,
        send: impl Fn(&str) -> Result<Response, ConnectorError>,
    ) -> Result<Response, ConnectorError> {
        let token = self.token.get_or_try(&(), &sign_in)?;
        let response = send(&token)?;
        if response.status != 401 {
            return Ok(response);
        }
        self.token.clear();
        let token = self.token.get_or_try(&(), &sign_in)?;
        send(&token)
    }
}

/// A token answered as a bare JSON string (`"3f9c…"`, as Rent Manager does) or as plain
/// text; anything else is a protocol error.
pub fn token_from(response: &Response) -> Result<String, ConnectorError> {
    if !response.is_success() {
        return Err(response.status_error("signing in"));
    }
    let text = response.text()?.trim();
    let token = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(_) => {
            return Err(ConnectorError::Protocol(
                "the sign-in answer is JSON but not a token string".into(),
            ));
        }
        // JSON cut short (a string or object begun and not ended) is no token either.
        Err(_) if text.starts_with(['"', '{', '[']) => {
            return Err(ConnectorError::Protocol(
                "the sign-in answer is JSON cut short".into(),
            ));
        }
        Err(_) => text.to_owned(),
    };
    // A token goes into a header: visible ASCII only (a garbled answer is not a token).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectorError::Protocol(
            "the sign-in answer holds no token".into(),
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn one_sign_in_per_session_and_one_more_after_a_401() {
        let session = TokenSession::default();
        let sign_ins = Cell::new(0);
        let sign_in = || {
            sign_ins.set(sign_ins.get() + 1);
            Ok(format!("token-{}", sign_ins.get()))
        };
        let seen = RefCell::new(Vec::new());
        let expired = Cell::new(false);
        let send = |token: &str| {
            seen.borrow_mut().push(token.to_owned());
            Ok(if expired.get() && token == "token-1" {
                response(401, "")
            } else {
                response(200, "[]")
            })
        };
        session.send(sign_in, send).unwrap();
        session.send(sign_in, send).unwrap();
        assert_eq!(sign_ins.get(), 1, "the token is kept for the session");
        expired.set(true);
        assert_eq!(session.send(sign_in, send).unwrap().status, 200);
        assert_eq!(sign_ins.get(), 2, "signed in again once");
        assert_eq!(*seen.borrow(), ["token-1", "token-1", "token-1", "token-2"]);
    }

    #[test]
    fn a_second_401_is_returned_and_a_failed_sign_in_is_not_kept() {
        let session = TokenSession::default();
        let always_401 = |_: &str| Ok(response(401, ""));
        let r = session.send(|| Ok("t".into()), always_401).unwrap();
        assert_eq!(r.status, 401);
        let refused = session.send(
            || Err(ConnectorError::Auth("bad password".into())),
            always_401,
        );
        assert!(matches!(refused, Err(ConnectorError::Auth(_))));
    }

    #[test]
    fn tokens_are_read_from_a_json_string_or_text() {
        assert_eq!(
            token_from(&response(200, "\"abc-123\"")).unwrap(),
            "abc-123"
        );
        assert_eq!(token_from(&response(200, "abc-123\n")).unwrap(), "abc-123");
        assert!(matches!(
            token_from(&response(200, "{}")),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            token_from(&response(200, "")),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            token_from(&response(401, "")),
            Err(ConnectorError::Auth(_))
        ));
        // Regression: a garbled sign-in answer became a "token" no header can carry,
        // and the request failed as a configuration error.
        assert!(matches!(
            token_from(&response(200, "\u{1}\u{fffd}<{")),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            token_from(&response(200, "\"rm12-sess")),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
