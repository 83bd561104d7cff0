//! IPv4 addresses and CIDR blocks as the manifest writes them.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(into = "String")]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR block (expected a.b.c.d/len)"))?;
        let network = parse_ipv4(addr)?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{s:?} has an invalid prefix length (expected 0-32)"))?;
        let cidr = Cidr { network, prefix };
        if u32::from(network) & !cidr.mask() != 0 {
            let base = Ipv4Addr::from(u32::from(network) & cidr.mask());
            return Err(format!(
                "{s:?} has host bits set (the network is {base}/{prefix})"
            ));
        }
        Ok(cidr)
    }
}

/// Strict dotted-quad parsing: `Ipv4Addr::from_str` already rejects leading
/// zeros and out-of-range octets; this adds a message an operator can act on.
pub(crate) fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    Ipv4Addr::from_str(s).map_err(|_| format!("{s:?} is not an IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let c: Cidr = "192.168.99.0/24".parse().unwrap();
        assert!(c.contains("192.168.99.14".parse().unwrap()));
        assert!(!c.contains("192.168.98.14".parse().unwrap()));
        assert_eq!(c.broadcast(), Ipv4Addr::new(192, 168, 99, 255));
        assert!("192.168.99.1/24".parse::<Cidr>().is_err());
        assert!("192.168.99.0/33".parse::<Cidr>().is_err());
        assert!("192.168.99.0".parse::<Cidr>().is_err());
        assert!(parse_ipv4("192.168.099.1").is_err());
        assert!(parse_ipv4("192.168.99.256").is_err());
    }
}
