//! Pod IPs from the node's `spec.podCIDR`, as the host-local IPAM plugin hands them out
//! under a real kubelet's CNI: the network and the gateway (`.1`) are never given, the
//! next free address after the last one given is taken (round robin, so a released IP is
//! not reused at once), and an IP is held until its pod goes.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Why no IP could be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("invalid pod CIDR {0:?}")]
    InvalidCidr(String),
    /// host-local's wording when the range is used up.
    #[error("failed to allocate for range 0: no IP addresses available in range set: {0}")]
    Exhausted(String),
}

/// The addresses of one node's pod CIDR and who holds them (by pod uid).
#[derive(Debug)]
pub struct IpAllocator {
    cidr: String,
    first: u32,
    last: u32,
    next: u32,
    held: HashMap<u32, String>,
}

impl IpAllocator {
    /// A pool over `cidr` (`10.244.1.0/24`); only IPv4 is simulated.
    pub fn new(cidr: &str) -> Result<IpAllocator, AllocError> {
        let bad = || AllocError::InvalidCidr(cidr.to_string());
        let (addr, bits) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let bits: u32 = bits.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&bits) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - bits);
        let network = u32::from(addr) & mask;
        let broadcast = network | !mask;
        // .0 is the network, .1 the bridge's gateway, the last the broadcast address.
        let (first, last) = (network + 2, broadcast - 1);
        Ok(IpAllocator { cidr: cidr.to_string(), first, last, next: first, held: HashMap::new() })
    }

    /// The IP held by `uid`, or a new one for it.
    pub fn allocate(&mut self, uid: &str) -> Result<Ipv4Addr, AllocError> {
        if let Some((ip, _)) = self.held.iter().find(|(_, u)| u.as_str() == uid) {
            return Ok(Ipv4Addr::from(*ip));
        }
        let size = self.last - self.first + 1;
        for i in 0..size {
            let candidate = self.first + (self.next - self.first + i) % size;
            if let std::collections::hash_map::Entry::Vacant(e) = self.held.entry(candidate) {
                e.insert(uid.to_string());
                self.next = if candidate == self.last { self.first } else { candidate + 1 };
                return Ok(Ipv4Addr::from(candidate));
            }
        }
        Err(AllocError::Exhausted(self.cidr.clone()))
    }

    /// Records that `uid` already holds `ip` (a pod that had it before a restart); false
    /// when the IP is outside the range or someone else's.
    pub fn reserve(&mut self, ip: Ipv4Addr, uid: &str) -> bool {
        let n = u32::from(ip);
        if n < self.first || n > self.last {
            return false;
        }
        match self.held.get(&n) {
            Some(holder) => holder == uid,
            None => {
                self.held.insert(n, uid.to_string());
                true
            }
        }
    }

    /// Gives back whatever `uid` holds.
    pub fn release(&mut self, uid: &str) {
        self.held.retain(|_, u| u != uid);
    }

    pub fn in_use(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_start_after_the_gateway_and_are_unique() {
        let mut a = IpAllocator::new("10.244.1.0/24").unwrap();
        assert_eq!(a.allocate("a").unwrap(), Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(a.allocate("b").unwrap(), Ipv4Addr::new(10, 244, 1, 3));
        // The same pod asking again keeps its IP.
        assert_eq!(a.allocate("a").unwrap(), Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(a.in_use(), 2);
    }

    #[test]
    fn released_addresses_come_back_round_robin() {
        let mut a = IpAllocator::new("10.0.0.0/30").unwrap();
        // A /30 has one usable pod address: .2 (.0 network, .1 gateway, .3 broadcast).
        assert_eq!(a.allocate("a").unwrap(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(a.allocate("b"), Err(AllocError::Exhausted("10.0.0.0/30".into())));
        a.release("a");
        assert_eq!(a.allocate("b").unwrap(), Ipv4Addr::new(10, 0, 0, 2));

        let mut a = IpAllocator::new("10.0.0.0/29").unwrap();
        let ips: Vec<_> = ["a", "b", "c"].iter().map(|u| a.allocate(u).unwrap().octets()[3]).collect();
        assert_eq!(ips, [2, 3, 4]);
        a.release("b");
        // Next after the last given, not the hole just freed.
        assert_eq!(a.allocate("d").unwrap().octets()[3], 5);
        assert_eq!(a.allocate("e").unwrap().octets()[3], 6);
        assert_eq!(a.allocate("f").unwrap().octets()[3], 3);
    }

    #[test]
    fn reserving_adopts_an_existing_ip_once() {
        let mut a = IpAllocator::new("10.244.2.0/24").unwrap();
        assert!(a.reserve(Ipv4Addr::new(10, 244, 2, 9), "a"));
        assert!(a.reserve(Ipv4Addr::new(10, 244, 2, 9), "a"));
        assert!(!a.reserve(Ipv4Addr::new(10, 244, 2, 9), "b"));
        assert!(!a.reserve(Ipv4Addr::new(10, 244, 3, 9), "b"));
        assert_eq!(a.allocate("a").unwrap(), Ipv4Addr::new(10, 244, 2, 9));
    }

    #[test]
    fn bad_cidrs_are_refused() {
        for c in ["", "10.0.0.0", "10.0.0.0/33", "10.0.0/24", "fd00::/64", "10.0.0.0/31"] {
            assert!(matches!(IpAllocator::new(c), Err(AllocError::InvalidCidr(_))), "{c}");
        }
    }
}
