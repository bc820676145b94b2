//! Where webhooks may go: the rules connectors follow (http or https; after DNS,
//! loopback and private addresses only when the host allows them, reserved ones
//! never), and an optional allow-list of host names set by the operator.

use std::net::SocketAddr;

use epms_runtime::NetworkAccess;
use epms_runtime::policy::{Denial, OutboundPolicy};

/// The outbound policy of webhook deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    pub network: NetworkAccess,
    /// Host names deliveries may reach (`*.example.com` for a domain and its
    /// subdomains); empty: any host the address rules allow.
    pub allowed_hosts: Vec<String>,
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("{0}")]
    Denied(String),
    #[error("{0} is not in the webhook allow-list")]
    NotAllowed(String),
    #[error("{host} does not resolve: {reason}")]
    Dns { host: String, reason: String },
}

fn denied(d: Denial) -> DestinationError {
    DestinationError::Denied(
        d.to_string()
            .replace("connectors may not", "webhooks may not"),
    )
}

impl DestinationPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|a| {
                let a = a.trim().to_ascii_lowercase();
                match a.strip_prefix("*.") {
                    Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
                    None => host == a,
                }
            })
    }

    /// Checks a URL as far as can be without DNS: its scheme, the allow-list, and an
    /// address written in it.
    pub fn check_url(&self, url: &str) -> Result<OutboundPolicy, DestinationError> {
        let policy = OutboundPolicy::for_base_url(url, self.network).map_err(denied)?;
        let host = policy.origin().host.clone();
        if !self.host_allowed(&host) {
            return Err(DestinationError::NotAllowed(host));
        }
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            policy.check_addr(&host, ip).map_err(denied)?;
        }
        Ok(policy)
    }

    /// Checks a URL and resolves its host once, checking every address: a delivery
    /// connects only to one of these (no second lookup to rebind).
    pub async fn resolve(&self, url: &str) -> Result<Vec<SocketAddr>, DestinationError> {
        let policy = self.check_url(url)?;
        let origin = policy.origin();
        let addrs: Vec<SocketAddr> = match origin.host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
            Err(_) => tokio::net::lookup_host((origin.host.as_str(), origin.port))
                .await
                .map_err(|e| DestinationError::Dns {
                    host: origin.host.clone(),
                    reason: e.to_string(),
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(DestinationError::Dns {
                host: origin.host.clone(),
                reason: "no address".into(),
            });
        }
        for a in &addrs {
            policy.check_addr(&origin.host, a.ip()).map_err(denied)?;
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_private_and_reserved_addresses_follow_the_connector_rules() {
        let strict = DestinationPolicy::default();
        assert!(strict.check_url("https://hooks.example.com/x").is_ok());
        for bad in [
            "http://127.0.0.1:9/x",
            "http://10.0.0.7/x",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
            "ftp://hooks.example.com/x",
            "not a url",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        let local = DestinationPolicy {
            network: NetworkAccess {
                allow_loopback: true,
                allow_private: false,
            },
            allowed_hosts: vec![],
        };
        assert!(local.check_url("http://127.0.0.1:9/x").is_ok());
        assert!(local.check_url("http://10.0.0.7/x").is_err());
    }

    #[test]
    fn an_allow_list_admits_its_hosts_and_domains_only() {
        let listed = DestinationPolicy {
            network: NetworkAccess::default(),
            allowed_hosts: vec!["locks.example.com".into(), "*.ops.example.net".into()],
        };
        assert!(listed.check_url("https://locks.example.com/feed").is_ok());
        assert!(listed.check_url("https://a.ops.example.net/x").is_ok());
        assert!(listed.check_url("https://ops.example.net/x").is_ok());
        assert_eq!(
            listed.check_url("https://evil.example.com/x").unwrap_err(),
            DestinationError::NotAllowed("evil.example.com".into())
        );
        assert!(listed.check_url("https://xops.example.net/x").is_err());
    }
}
