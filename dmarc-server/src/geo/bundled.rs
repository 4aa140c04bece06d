//! The geolocation data built into the binary (see `build.rs`): a country MMDB
//! (`@ip-location-db/geo-whois-asn-country-mmdb`, CC0, from NRO statistics and WHOIS data,
//! attribution to nro.net) and an address-to-ASN table (`@ip-location-db/asn`, CC BY 4.0,
//! from RouteViews, DB-IP and NRO), converted from its CSV by `build.rs`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/geo_data.rs"));

/// Address ranges and the networks announcing them, sorted by first address.
#[derive(Debug, Default)]
pub struct AsnTable {
    v4: Vec<(u32, u32, u32)>,
    /// Per /16 prefix `p`, the first IPv4 range starting at or after `p << 16` (and the
    /// length at the end): a lookup searches a few ranges instead of all of them.
    v4_index: Vec<u32>,
    v6: Vec<(u128, u128, u32)>,
    orgs: HashMap<u32, Box<str>>,
}

/// Reads the table `build.rs` wrote.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("the ASN table ends early".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u128(&mut self) -> Result<u128, String> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    fn count(&mut self) -> Result<usize, String> {
        Ok(self.u32()? as usize)
    }
}

impl AsnTable {
    /// Reads a table in `build.rs`'s format.
    pub fn parse(bytes: &[u8]) -> Result<AsnTable, String> {
        let mut c = Cursor { bytes };
        if c.take(6)? != b"DMASN1" {
            return Err("not an ASN table".into());
        }
        let mut table = AsnTable::default();
        for _ in 0..c.count()? {
            table.v4.push((c.u32()?, c.u32()?, c.u32()?));
        }
        for _ in 0..c.count()? {
            table.v6.push((c.u128()?, c.u128()?, c.u32()?));
        }
        table.v4_index = (0..=1u32 << 16)
            .map(|p| {
                let start = u64::from(p) << 16;
                table.v4.partition_point(|r| u64::from(r.0) < start) as u32
            })
            .collect();
        for _ in 0..c.count()? {
            let asn = c.u32()?;
            let len = u16::from_le_bytes(c.array()?);
            let org = String::from_utf8_lossy(c.take(usize::from(len))?);
            table.orgs.insert(asn, org.into());
        }
        Ok(table)
    }

    /// The bundled table, read once.
    pub fn bundled() -> &'static AsnTable {
        static TABLE: OnceLock<AsnTable> = OnceLock::new();
        TABLE.get_or_init(|| AsnTable::parse(ASN_TABLE).unwrap_or_default())
    }

    /// Ranges in the table.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The network announcing `ip` and its organisation, if the table has it.
    pub fn lookup(&self, ip: IpAddr) -> Option<(u32, Option<&str>)> {
        let asn = match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let at = u32::from(v4);
                let prefix = (at >> 16) as usize;
                // The range holding `at` starts before the next prefix's first range, and
                // at or after the one before this prefix's first.
                let low = self
                    .v4_index
                    .get(prefix)
                    .map_or(0, |&i| i.saturating_sub(1));
                let high = self
                    .v4_index
                    .get(prefix + 1)
                    .map_or(self.v4.len(), |&i| i as usize);
                find(&self.v4[low as usize..high], at)
            }
            IpAddr::V6(v6) => find(&self.v6, u128::from(v6)),
        }?;
        Some((asn, self.orgs.get(&asn).map(|o| &**o)))
    }
}

/// The ASN of the range holding `at` in sorted, non-overlapping `ranges`.
fn find<T: Ord + Copy>(ranges: &[(T, T, u32)], at: T) -> Option<u32> {
    let i = ranges.partition_point(|r| r.0 <= at).checked_sub(1)?;
    let (_, last, asn) = ranges[i];
    (at <= last).then_some(asn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_by_binary_search() {
        let mut bytes = b"DMASN1".to_vec();
        bytes.extend(2u32.to_le_bytes());
        for v in [10u32, 20, 1, 30, 40, 2] {
            bytes.extend(v.to_le_bytes());
        }
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(2u32.to_le_bytes());
        bytes.extend(3u16.to_le_bytes());
        bytes.extend(b"Two");
        let table = AsnTable::parse(&bytes).expect("a table");
        let v4 = |n: u32| IpAddr::V4(n.into());
        assert_eq!(table.lookup(v4(9)), None);
        assert_eq!(table.lookup(v4(10)), Some((1, None)));
        assert_eq!(table.lookup(v4(20)), Some((1, None)));
        assert_eq!(table.lookup(v4(25)), None);
        assert_eq!(table.lookup(v4(40)), Some((2, Some("Two"))));
        assert_eq!(table.lookup(v4(41)), None);
        // An IPv4-mapped IPv6 address is its IPv4 address.
        let mapped: IpAddr = "::ffff:0.0.0.35".parse().expect("address");
        assert_eq!(table.lookup(mapped), Some((2, Some("Two"))));
    }

    #[test]
    fn the_bundled_table_reads_whole() {
        let table = AsnTable::bundled();
        assert!(table.v4.len() > 100_000, "{} IPv4 ranges", table.v4.len());
        assert!(table.v6.len() > 10_000, "{} IPv6 ranges", table.v6.len());
        for list in [
            table.v4.windows(2).all(|w| w[0].1 < w[1].0),
            table.v6.windows(2).all(|w| w[0].1 < w[1].0),
        ] {
            assert!(list, "sorted and without overlaps");
        }
        // The /16 index finds what a search of every range finds.
        for i in 0..100_000u32 {
            let at = i.wrapping_mul(2_654_435_761);
            let whole = find(&table.v4, at).map(|asn| (asn, table.orgs.get(&asn).map(|o| &**o)));
            assert_eq!(table.lookup(IpAddr::V4(at.into())), whole, "{at}");
        }
        assert!(AsnTable::parse(b"DMASN1\x05\0\0\0").is_err(), "cut short");
        assert!(AsnTable::parse(b"nothing").is_err());
    }
}
