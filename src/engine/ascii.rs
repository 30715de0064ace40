//! Classes of ASCII bytes worked out eight at a time (SWAR: one machine word holds eight bytes), for
//! the passes over a whole text that most comments, in ASCII, go through: a byte-by-byte loop spends
//! several instructions a byte on what takes about one here.

/// `b` in every byte of a machine word.
const fn each(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The bytes of `word` (eight ASCII bytes, byte `k` of the text in bits `8k..8k + 8`) from `lo` to
/// `hi`: each such byte's top bit set, every other bit clear.
#[inline]
fn within(word: u64, lo: u8, hi: u8) -> u64 {
    // With every byte under 0x80, adding to it never carries into the next: the top bit of each
    // byte of `x + (0x80 - lo)` says `x >= lo`, that of `x + (0x7f - hi)` says `x > hi`.
    (word + each(0x80 - lo)) & !(word + each(0x7f - hi)) & each(0x80)
}

/// Letters (either case) among eight ASCII bytes, as [`within`] marks them.
#[inline]
pub fn letters(word: u64) -> u64 {
    within(word | each(0x20), b'a', b'z')
}

/// Upper-case letters among eight ASCII bytes.
#[inline]
pub fn upper(word: u64) -> u64 {
    within(word, b'A', b'Z')
}

/// Digits among eight ASCII bytes.
#[inline]
pub fn digits(word: u64) -> u64 {
    within(word, b'0', b'9')
}

/// Marks as [`within`] gives them gathered into eight bits: bit `k` for byte `k`.
#[inline]
pub fn gather(marks: u64) -> u64 {
    (marks >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The text's bytes eight by eight, the last word filled with zeros (which are none of the classes).
pub fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let pieces = bytes.chunks_exact(8);
    let rest = pieces.remainder();
    let last = (!rest.is_empty())
        .then(|| u64::from_le_bytes(std::array::from_fn(|k| rest.get(k).copied().unwrap_or(0))));
    pieces
        .map(|p| u64::from_le_bytes(std::array::from_fn(|k| p[k])))
        .chain(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ascii_byte_in_every_place_is_classed_as_one_at_a_time_would() {
        for shift in 0..8 {
            let bytes: Vec<u8> = (0..128 + shift)
                .map(|k| ((k + shift) % 128) as u8)
                .collect();
            let words: Vec<u64> = words(&bytes).collect();
            assert_eq!(words.len(), bytes.len().div_ceil(8));
            let class = |f: fn(u64) -> u64, k: usize| gather(f(words[k / 8])) >> (k % 8) & 1 == 1;
            for k in 0..words.len() * 8 {
                let b = bytes.get(k).copied();
                let b = |test: fn(&u8) -> bool| b.as_ref().is_some_and(test);
                assert_eq!(class(letters, k), b(u8::is_ascii_alphabetic), "byte {k}");
                assert_eq!(class(upper, k), b(u8::is_ascii_uppercase), "byte {k}");
                assert_eq!(class(digits, k), b(u8::is_ascii_digit), "byte {k}");
            }
        }
    }
}
