//! The client's address, never a spoofed one. Behind CloudFront → ALB the
//! TCP peer is the ALB, so the address must come from headers, but only
//! headers that a trusted hop wrote: a client can put anything in its own
//! `X-Forwarded-For`. With `TRUSTED_PROXIES` empty (local, compose) the TCP
//! peer is the client and every header is ignored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hyper::HeaderMap;

use crate::config::Cidr;

/// The TCP peer of the connection, a request extension set by the server
/// (src/http/server.rs) and by in-process tests.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The resolved client address, a request extension set by `framing` for
/// the rate limiter and logged as `client_ip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";
const FORWARDED_FOR: &str = "x-forwarded-for";

fn trusted(ip: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// The client of a request that came from `peer` (`None`: no socket, e.g.
/// an in-process call without a [`Peer`]; it counts as 0.0.0.0).
///
/// If the peer is a trusted proxy: CloudFront's `CloudFront-Viewer-Address`
/// (`ip:port`) when present, else the right-most `X-Forwarded-For` entry
/// that is not itself a trusted proxy (entries to its left were written by
/// whoever the untrusted hop was, i.e. possibly the client). Anything
/// unparseable falls back to the peer: a garbage header must not let a
/// client pick its bucket.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    let peer = peer
        .map(|p| p.to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !trusted(peer, proxies) {
        return peer;
    }
    let mut viewer = headers.get_all(VIEWER_ADDRESS).iter();
    if let (Some(v), None) = (viewer.next(), viewer.next()) {
        return v
            .to_str()
            .ok()
            .and_then(parse_viewer_address)
            .unwrap_or(peer);
    }
    let mut last_trusted = peer;
    // Right to left over every X-Forwarded-For line, in order.
    let lines: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for entry in lines.iter().rev().flat_map(|l| l.rsplit(',')) {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return peer;
        };
        let ip = ip.to_canonical();
        if !trusted(ip, proxies) {
            return ip;
        }
        last_trusted = ip;
    }
    // Every hop is trusted: the left-most one is as far back as we can see.
    last_trusted
}

/// `198.51.100.10:46532` or `2001:db8::1:46532` (CloudFront writes IPv6
/// without brackets; the port is always last).
fn parse_viewer_address(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    if let Ok(sa) = v.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let (ip, port) = v.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[(&str, u8)]) -> Vec<Cidr> {
        list.iter()
            .map(|(a, p)| Cidr {
                addr: a.parse().unwrap(),
                prefix: *p,
            })
            .collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("cloudfront-viewer-address", "5.6.7.8:1234"),
        ]);
        assert_eq!(resolve(Some(ip("9.9.9.9")), &h, &[]), ip("9.9.9.9"));
        let vpc = cidrs(&[("10.0.0.0", 16)]);
        assert_eq!(resolve(Some(ip("9.9.9.9")), &h, &vpc), ip("9.9.9.9"));
        assert_eq!(resolve(None, &h, &vpc), ip("0.0.0.0"));
    }

    #[test]
    fn behind_trusted_proxies() {
        let vpc = cidrs(&[("10.0.0.0", 16), ("2001:db8::", 32)]);
        let alb = Some(ip("10.0.3.7"));
        let h = headers(&[("cloudfront-viewer-address", "203.0.113.9:443")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("203.0.113.9"));
        let h = headers(&[("cloudfront-viewer-address", "2001:db9::5:443")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("2001:db9::5"));
        let h = headers(&[("cloudfront-viewer-address", "[2001:db9::5]:443")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("2001:db9::5"));
        // Forged entries on the left are skipped: the right-most untrusted one.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.1.1")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("203.0.113.9"));
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(resolve(alb, &h, &vpc), ip("203.0.113.9"));
        let h = headers(&[("x-forwarded-for", "10.0.9.9, 10.0.1.1")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("10.0.9.9"));
        // Garbage is never a client of its own choosing.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, nonsense")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("10.0.3.7"));
        let h = headers(&[("cloudfront-viewer-address", "nonsense")]);
        assert_eq!(resolve(alb, &h, &vpc), ip("10.0.3.7"));
        assert_eq!(resolve(alb, &HeaderMap::new(), &vpc), ip("10.0.3.7"));
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(
            resolve(Some(ip("::ffff:10.0.3.7")), &h, &vpc),
            ip("10.0.3.7")
        );
    }
}
