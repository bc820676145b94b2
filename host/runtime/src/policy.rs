//! Where a connector may send requests: pure rules, apart from the HTTP plumbing.
//!
//! A connector reaches only the origin (scheme, host, port) of its credential's
//! `base-url`. After DNS resolution the addresses are checked too, so that a PMS
//! host name cannot point the sandbox at the host's own network: loopback only when
//! the host is configured for it (tests, the demo), private, link-local (cloud
//! metadata) and other special ranges only when explicitly allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which address ranges the host lets connectors reach besides public ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkAccess {
    /// 127.0.0.0/8 and ::1.
    pub allow_loopback: bool,
    /// RFC 1918, unique-local, link-local, carrier-grade NAT and other non-public ranges.
    pub allow_private: bool,
}

/// One origin a connector may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the base URL {url:?} is not a valid http(s) URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("request URI has no host")]
    NoHost,
    #[error("scheme {0:?} is not allowed (http and https only)")]
    Scheme(String),
    #[error("{host}:{port} is not the credential's host")]
    HostNotAllowed { host: String, port: u16 },
    #[error("{host} resolves to {addr}, a {range} address, which connectors may not reach")]
    AddressNotAllowed {
        host: String,
        addr: IpAddr,
        range: AddressRange,
    },
}

/// The kind of address a host name resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRange {
    Public,
    Loopback,
    Private,
    /// Unspecified, broadcast, multicast, documentation, reserved: never reachable.
    Special,
}

impl std::fmt::Display for AddressRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressRange::Public => "public",
            AddressRange::Loopback => "loopback",
            AddressRange::Private => "private",
            AddressRange::Special => "reserved",
        })
    }
}

/// Classifies an address. Whether it is public follows the IANA special-purpose
/// registries (the `ip_network` crate's `is_global`); loopback and private ranges are
/// told apart because a host may allow them. An IPv6 address that embeds an IPv4 one
/// (IPv4-mapped counts as that address; IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) is public only if the embedded address is.
pub fn classify(addr: IpAddr) -> AddressRange {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            match (classify_v6(v6), embedded_v4(v6).map(classify_v4)) {
                (AddressRange::Public, Some(AddressRange::Public) | None) => AddressRange::Public,
                (AddressRange::Public, Some(_)) => AddressRange::Special,
                (range, _) => range,
            }
        }
    }
}

/// The IPv4 address a translation or tunnelling IPv6 address carries.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(low); // IPv4-compatible (deprecated)
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(low); // NAT64 well-known prefix
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )); // 6to4
    }
    None
}

fn classify_v4(ip: Ipv4Addr) -> AddressRange {
    let net = ip_network::Ipv4Network::new(ip, 32).expect("a /32 is a network");
    if ip.is_loopback() {
        AddressRange::Loopback
    } else if ip.is_private() || ip.is_link_local() || net.is_shared_address_space() {
        AddressRange::Private
    } else if net.is_global() {
        AddressRange::Public
    } else {
        AddressRange::Special
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressRange {
    let net = ip_network::Ipv6Network::new(ip, 128).expect("a /128 is a network");
    if ip.is_loopback() {
        AddressRange::Loopback
    } else if net.is_unique_local() || net.is_unicast_link_local() {
        AddressRange::Private
    } else if net.is_global() {
        AddressRange::Public
    } else {
        AddressRange::Special
    }
}

/// The outbound rules of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    origin: Origin,
    access: NetworkAccess,
}

impl OutboundPolicy {
    /// The policy for a credential whose `base-url` is `base_url`.
    pub fn for_base_url(base_url: &str, access: NetworkAccess) -> Result<Self, Denial> {
        let invalid = |reason: String| Denial::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason,
        };
        let url = url::Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        let scheme = url.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(invalid(format!("scheme {scheme:?}")));
        }
        let host = url
            .host_str()
            .ok_or_else(|| invalid("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| invalid("no port".into()))?;
        Ok(OutboundPolicy {
            origin: Origin { scheme, host, port },
            access,
        })
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether a request to `uri` may leave, before DNS.
    pub fn check_uri(&self, uri: &http::Uri) -> Result<(), Denial> {
        let scheme = uri.scheme_str().unwrap_or("https");
        if scheme != "http" && scheme != "https" {
            return Err(Denial::Scheme(scheme.to_owned()));
        }
        let host = uri
            .host()
            .ok_or(Denial::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        if scheme != self.origin.scheme || host != self.origin.host || port != self.origin.port {
            return Err(Denial::HostNotAllowed { host, port });
        }
        Ok(())
    }

    /// Whether `host` may be reached at `addr`, one of the addresses it resolved to.
    pub fn check_addr(&self, host: &str, addr: IpAddr) -> Result<(), Denial> {
        let range = classify(addr);
        let allowed = match range {
            AddressRange::Public => true,
            AddressRange::Loopback => self.access.allow_loopback,
            AddressRange::Private => self.access.allow_private,
            AddressRange::Special => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Denial::AddressNotAllowed {
                host: host.to_owned(),
                addr,
                range,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: &str) -> OutboundPolicy {
        OutboundPolicy::for_base_url(base, NetworkAccess::default()).unwrap()
    }

    #[test]
    fn only_the_base_url_origin_is_allowed() {
        let p = policy("https://Pms.Example.com/voyager");
        let cases = [
            ("https://pms.example.com/webservices/x.asmx", true),
            ("https://PMS.example.com:443/any", true),
            ("http://pms.example.com/x", false),
            ("https://pms.example.com:8443/x", false),
            ("https://evil.example.com/x", false),
            ("https://pms.example.com.evil.net/x", false),
            ("https://169.254.169.254/latest/meta-data", false),
        ];
        for (uri, allowed) in cases {
            let uri: http::Uri = uri.parse().unwrap();
            assert_eq!(p.check_uri(&uri).is_ok(), allowed, "{uri}");
        }
    }

    #[test]
    fn ports_default_by_scheme() {
        let p = policy("http://127.0.0.1:8080");
        assert!(
            p.check_uri(&"http://127.0.0.1:8080/a".parse().unwrap())
                .is_ok()
        );
        assert!(p.check_uri(&"http://127.0.0.1/a".parse().unwrap()).is_err());
        let p = policy("http://[::1]:9000/");
        assert!(p.check_uri(&"http://[::1]:9000/a".parse().unwrap()).is_ok());
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["ftp://x.example.com", "not a url", "file:///etc/passwd"] {
            assert!(
                OutboundPolicy::for_base_url(bad, NetworkAccess::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses_are_classified() {
        let cases: [(&str, AddressRange); 24] = [
            ("8.8.8.8", AddressRange::Public),
            ("127.0.0.1", AddressRange::Loopback),
            ("127.5.6.7", AddressRange::Loopback),
            ("::1", AddressRange::Loopback),
            ("10.1.2.3", AddressRange::Private),
            ("172.16.0.1", AddressRange::Private),
            ("192.168.1.1", AddressRange::Private),
            ("169.254.169.254", AddressRange::Private),
            ("100.64.0.1", AddressRange::Private),
            ("fd00::1", AddressRange::Private),
            ("fe80::1", AddressRange::Private),
            ("0.0.0.0", AddressRange::Special),
            ("::ffff:127.0.0.1", AddressRange::Loopback),
            ("2606:4700::1111", AddressRange::Public),
            // Regressions: ranges the hand-written classification missed.
            ("::a9fe:a9fe", AddressRange::Special),
            ("64:ff9b::a9fe:a9fe", AddressRange::Special),
            ("64:ff9b::7f00:1", AddressRange::Special),
            ("64:ff9b::808:808", AddressRange::Public),
            ("2002:a9fe:a9fe::1", AddressRange::Special),
            ("2002:808:808::1", AddressRange::Public),
            ("192.0.0.1", AddressRange::Special),
            ("198.18.0.1", AddressRange::Special),
            ("198.19.255.255", AddressRange::Special),
            ("2001:db8::1", AddressRange::Special),
        ];
        for (addr, range) in cases {
            assert_eq!(classify(addr.parse().unwrap()), range, "{addr}");
        }
    }

    #[test]
    fn loopback_and_private_need_explicit_access() {
        let strict = policy("http://pms.test");
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(strict.check_addr("pms.test", loopback).is_err());
        assert!(strict.check_addr("pms.test", metadata).is_err());
        let tests = OutboundPolicy::for_base_url(
            "http://pms.test",
            NetworkAccess {
                allow_loopback: true,
                allow_private: false,
            },
        )
        .unwrap();
        assert!(tests.check_addr("pms.test", loopback).is_ok());
        assert!(tests.check_addr("pms.test", metadata).is_err());
        let unspecified: IpAddr = "0.0.0.0".parse().unwrap();
        let all = OutboundPolicy::for_base_url(
            "http://pms.test",
            NetworkAccess {
                allow_loopback: true,
                allow_private: true,
            },
        )
        .unwrap();
        assert!(all.check_addr("pms.test", unspecified).is_err());
    }
}
