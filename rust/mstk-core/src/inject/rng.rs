//! Keyed hashing and the xoshiro256** stream (spec inject-errors §4.1).
//!
//! Every random choice is a pure function of (seed, record key, purpose), so output never
//! depends on thread count, input order of other records or process hash seeds. The byte
//! layout is fixed by the spec and mirrored in `mstk.inject.Rng`; changing it means bumping
//! the `mstk-qe/N` version.

use sha2::{Digest, Sha256};

/// Domain tag of every stream; part of the file format.
pub const DOMAIN: &str = "mstk-qe/1";

/// SHA-256 over the parts, each prefixed with its u32 big-endian byte length.
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let total: usize = parts.iter().map(|p| 4 + p.len()).sum();
    if total <= ONE_BLOCK {
        return digest_one_block(parts);
    }
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u32).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The longest message that SHA-256 pads into a single 64-byte block.
const ONE_BLOCK: usize = 55;

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Stream messages are short: one block, padded here and compressed directly, skips the
/// hasher's buffering, which cost as much as the (SHA-NI) compression itself.
fn digest_one_block(parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    let mut at = 0;
    for part in parts {
        block[at..at + 4].copy_from_slice(&(part.len() as u32).to_be_bytes());
        block[at + 4..at + 4 + part.len()].copy_from_slice(part);
        at += 4 + part.len();
    }
    block[at] = 0x80;
    block[56..].copy_from_slice(&(at as u64 * 8).to_be_bytes());
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, &[block.into()]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// `H`: the first 8 bytes of the digest as a big-endian u64 (the rank of a record).
pub fn rank_hash(parts: &[&[u8]]) -> u64 {
    let d = digest(parts);
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// xoshiro256** seeded from a digest. Hand-written because `rand`'s streams and
/// distributions are allowed to change between versions.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn from_state(mut s: [u64; 4]) -> Self {
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    pub fn from_parts(parts: &[&[u8]]) -> Self {
        let d = digest(parts);
        let word = |i: usize| u64::from_be_bytes(d[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        Rng::from_state([word(0), word(1), word(2), word(3)])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` as `(x·n) >> 64` (Lemire's multiply, without rejection: the spec
    /// fixes this exact mapping so Python and Rust agree). `n = 0` returns 0.
    pub fn uniform(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn spec_vectors() {
        // spec §4.1: msg("mstk-qe/1","rank","0","itest_0") and its digest.
        let parts: [&[u8]; 4] = [b"mstk-qe/1", b"rank", b"0", b"itest_0"];
        assert!(hex(&digest(&parts)).starts_with("e168e7a4ba4b03c5"));
        assert_eq!(rank_hash(&parts), 16242486750797824965);
        let mut r = Rng::from_state([1, 2, 3, 4]);
        assert_eq!(
            [r.next_u64(), r.next_u64(), r.next_u64()],
            [11520, 0, 1509978240]
        );
        let mut pick = Rng::from_parts(&[b"mstk-qe/1", b"pick", b"0", b"itest_1", b"keyboard"]);
        assert_eq!(pick.next_u64(), 4423575290561779089);
        let mut edit =
            Rng::from_parts(&[b"mstk-qe/1", b"edit", b"0", b"itest_1", b"keyboard", b"13"]);
        assert_eq!(edit.next_u64(), 1147448478056350324);
    }

    /// §4.1's message built in full and hashed by the incremental hasher.
    fn reference_digest(parts: &[&[u8]]) -> [u8; 32] {
        let mut msg = Vec::new();
        for p in parts {
            msg.extend_from_slice(&(p.len() as u32).to_be_bytes());
            msg.extend_from_slice(p);
        }
        Sha256::digest(&msg).into()
    }

    #[test]
    fn one_block_digest_equals_the_hasher() {
        // Every message length from empty to two blocks, across the one-block cut-off,
        // and a long one.
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
        for len in (0..=120).chain([300]) {
            for split in [0, len / 3, len] {
                let parts: [&[u8]; 2] = [&bytes[..split], &bytes[split..len]];
                assert_eq!(digest(&parts), reference_digest(&parts), "{len} {split}");
            }
        }
        let none: [&[u8]; 0] = [];
        assert_eq!(digest(&none), reference_digest(&none));
    }

    #[test]
    fn zero_state_is_replaced() {
        let mut r = Rng::from_state([0; 4]);
        assert_ne!(r.next_u64() | r.next_u64() | r.next_u64(), 0);
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut r = Rng::from_state([9, 8, 7, 6]);
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(r.uniform(n) < n);
            }
        }
        assert_eq!(r.uniform(0), 0);
    }
}
