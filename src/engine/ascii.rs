//! Classes of ASCII bytes worked out eight at a time (SWAR: one machine word holds eight bytes), for
//! the passes over a whole text that most comments, in ASCII, go through: a byte-by-byte loop spends
//! several instructions a byte on what takes about one here.

/// `b` in every byte of a machine word.
const fn each(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The bytes of `word` (eight ASCII bytes, byte `k` of the text in bits `8k..8k + 8`) from `lo` to
/// `hi`: each such byte's top bit set, every other bit clear. Of a word holding a byte that is not
/// ASCII, the marks mean nothing (callers that may pass one check [`non_ascii`] and drop them), but
/// working them out never overflows.
#[inline]
fn within(word: u64, lo: u8, hi: u8) -> u64 {
    // With every byte under 0x80, adding to it never carries into the next: the top bit of each
    // byte of `x + (0x80 - lo)` says `x >= lo`, that of `x + (0x7f - hi)` says `x > hi`.
    word.wrapping_add(each(0x80 - lo)) & !word.wrapping_add(each(0x7f - hi)) & each(0x80)
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

/// Bytes equal to `b` among eight ASCII bytes.
#[inline]
pub fn equal(word: u64, b: u8) -> u64 {
    within(word, b, b)
}

/// Bytes that are not ASCII among eight bytes (the classes above hold only for words without any).
#[inline]
pub fn non_ascii(word: u64) -> u64 {
    word & each(0x80)
}

/// The sum of the eight bytes of `counts`.
#[inline]
pub fn sum_bytes(counts: u64) -> u32 {
    // Pairs of bytes added into 16-bit lanes (at most 510 each), then the four lanes at once.
    let pairs = (counts & 0x00ff_00ff_00ff_00ff) + (counts >> 8 & 0x00ff_00ff_00ff_00ff);
    (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32
}

/// What [`counts`] finds in a text.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Counts {
    pub letters: u32,
    pub upper: u32,
    pub digits: u32,
    /// A byte that is not ASCII, a `<` or a `&` (markup, an entity): the counts hold only without one.
    pub other: bool,
}

/// The letters, capitals and digits of a text, eight bytes at a time, and whether it holds anything
/// that is not plain ASCII text.
pub fn counts(bytes: &[u8]) -> Counts {
    let mut counts = Counts::default();
    let mut other = 0;
    let mut words = words(bytes).peekable();
    while words.peek().is_some() {
        // Counted in each of the eight bytes of a machine word (a byte holds 255 words' worth):
        // no `count_ones`, which the baseline x86-64 target has no instruction for.
        let (mut l, mut u, mut d) = (0, 0, 0);
        for word in words.by_ref().take(255) {
            other |= non_ascii(word) | equal(word, b'<') | equal(word, b'&');
            l += letters(word) >> 7;
            u += upper(word) >> 7;
            d += digits(word) >> 7;
        }
        counts.letters += sum_bytes(l);
        counts.upper += sum_bytes(u);
        counts.digits += sum_bytes(d);
    }
    counts.other = other != 0;
    counts
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
                let lt = |w| equal(w, b'<');
                assert_eq!(class(lt, k), b(|&b| b == b'<'), "byte {k}");
            }
        }
    }

    #[test]
    fn the_bytes_of_a_word_are_summed() {
        for bytes in [
            [0u8; 8],
            [255; 8],
            [1, 2, 3, 4, 5, 6, 7, 8],
            [255, 0, 0, 0, 0, 0, 0, 254],
        ] {
            let expected: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
            assert_eq!(sum_bytes(u64::from_le_bytes(bytes)), expected, "{bytes:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_ascii_are_found_in_every_place() {
        for shift in 0..8 {
            let bytes: Vec<u8> = (0..256 + shift).map(|k| (k + shift) as u8).collect();
            for (j, word) in words(&bytes).enumerate() {
                for k in 0..8 {
                    let b = bytes.get(8 * j + k).copied().unwrap_or(0);
                    assert_eq!(gather(non_ascii(word)) >> k & 1 == 1, !b.is_ascii());
                }
            }
        }
    }
}
