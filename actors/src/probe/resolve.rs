//! Turning a host name into addresses for the probes that connect by address (TCP, ICMP):
//! an IP literal is used as written, a name goes through the system resolver, and a failure
//! reads the same in every probe (`cannot resolve db.internal: Name or service not known`).

use std::net::{IpAddr, SocketAddr};

/// The addresses of `name` (brackets of an IPv6 literal allowed) with `port`, in the
/// resolver's order, without repeats.
pub async fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let name = name.trim();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // `getaddrinfo` blocks, so tokio runs it on its blocking pool. If the check times out
    // first, that thread finishes the lookup on its own and nothing waits for it.
    let found = tokio::net::lookup_host((name, port)).await.map_err(|e| {
        // tokio wraps the resolver's own words: keep only those (`Name or service not known`).
        let text = e.to_string();
        let why = text
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&text)
            .to_string();
        format!("cannot resolve {name}: {why}")
    })?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(format!("cannot resolve {name}: no addresses"));
    }
    Ok(addresses)
}
