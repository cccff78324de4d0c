//! Identifiers Vonage would mint for a call: leg UUIDs, `CON-` conversation UUIDs, recording UUIDs
//! and file ids. Random v4 UUIDs from a small generator seeded by the time and the process.

use std::time::{SystemTime, UNIX_EPOCH};

/// A SplitMix64 generator: good enough for unique ids, no dependency.
#[derive(Debug)]
pub struct Ids {
    state: u64,
}

impl Default for Ids {
    fn default() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Ids { state: nanos ^ (u64::from(std::process::id()) << 32) }
    }
}

impl Ids {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A random (version 4) UUID, lowercase.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// A conversation UUID: `CON-` and a UUID.
    pub fn conversation(&mut self) -> String {
        format!("CON-{}", self.uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let mut ids = Ids::default();
        let (a, b) = (ids.uuid(), ids.uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert!(ids.conversation().starts_with("CON-"));
    }
}
