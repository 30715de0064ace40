//! Tokenization that works for every language without knowing which one it is.
//!
//! A word is a run of letters, digits and combining marks (so Devanagari and Thai vowel signs stay in
//! their word); an apostrophe inside a word is dropped (`don't` → `dont`). Scripts written without
//! spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese) give overlapping character pairs instead.
//! No stemming and no stop words: nothing here is English-only.
//!
//! Folded on the way, and recorded as [`Obfuscation`] flags:
//! - letters stretched three times or more (`gacorrr` → `gacor`, `maxwinnn` → `maxwin`);
//! - Cyrillic and Greek look-alikes inside a Latin word (`AЕRО88` → `aero88`);
//! - letters spaced out (`s l o t` → `slot`).

use super::ascii;
use super::normalize::{NormalizedText, Obfuscation};

/// The words of one text, stored in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
    /// Scratch: which bytes of an ASCII text are letters or digits ([`alnum_map`]).
    alnum: Vec<u64>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }

    /// Word `i` as bytes (for looking at it byte by byte: no check that a slice falls between
    /// characters).
    #[inline]
    pub fn bytes(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.buf.as_bytes()[s as usize..e as usize]
    }

    /// The [`PAD`] bytes from the start of word `i`: the word, then what follows it (later words, or
    /// the padding after the last), for reading a short word in whole machine words.
    #[inline]
    pub fn head(&self, i: usize) -> Option<&[u8; PAD]> {
        let start = self.spans[i].0 as usize;
        self.buf.as_bytes().get(start..)?.first_chunk()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }
}

/// How many bytes from a word's start [`Tokens::head`] gives: the buffer ends with this many zeros.
pub const PAD: usize = 24;
const PADDING: &str = match str::from_utf8(&[0; PAD]) {
    Ok(zeros) => zeros,
    Err(_) => panic!("zeros are UTF-8"),
};

/// Splits normalized text into words, folding obfuscation, into `out` (reusing its buffers); the text
/// says whether it is ASCII.
pub fn tokenize_normalized(text: &NormalizedText, out: &mut Tokens, flags: &mut Obfuscation) {
    split_into(&text.text, text.ascii, out, flags);
}

fn split_into(text: &str, ascii: bool, out: &mut Tokens, flags: &mut Obfuscation) {
    out.clear();
    split_words(text, ascii, out, flags);
    out.buf.push_str(PADDING);
}

fn split_words(text: &str, ascii: bool, out: &mut Tokens, flags: &mut Obfuscation) {
    if ascii {
        tokenize_ascii(text, out, flags);
        join_spaced_letters(out, flags, true);
        fold_leet(out, flags);
        return;
    }
    let mut word = WordBuilder::default();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                word.push_ascii(c, out);
            } else if c == '\''
                && word.open(out)
                && chars.peek().is_some_and(|&n| n.is_alphabetic())
            {
                // "don't" is one word
            } else {
                word.finish(out, flags);
            }
        } else if is_unspaced_script(c) {
            word.finish(out, flags);
            let mut run: Vec<char> = vec![c];
            while let Some(&n) = chars.peek() {
                if is_unspaced_script(n) || (is_mark(n) && !n.is_ascii()) {
                    run.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            push_char_pairs(&run, out);
            word = WordBuilder {
                start: out.buf.len(),
                ..WordBuilder::default()
            };
        } else if is_word_char(c) {
            word.push(c, out);
        } else if (c == '\'' || c == '\u{2019}')
            && word.open(out)
            && chars.peek().is_some_and(|&n| n.is_alphabetic())
        {
            // "don't" is one word
        } else {
            word.finish(out, flags);
        }
    }
    word.finish(out, flags);
    join_spaced_letters(out, flags, false);
    fold_leet(out, flags);
}

/// The same rules as the general path, byte by byte, for ASCII text (most comments).
fn tokenize_ascii(text: &str, out: &mut Tokens, flags: &mut Obfuscation) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // Most texts have no letter three times in a row: one pass over the whole text spares the
    // per-word checks.
    let may_stretch = has_stretch_candidate(bytes);
    // Most words are letters and digits only, nothing stretched: they stay where they are in a
    // copy of the whole text (one copy rather than one per word); the others are written after it.
    out.buf.push_str(text);
    let mut map = std::mem::take(&mut out.alnum);
    alnum_map(bytes, &mut map);
    if !may_stretch && memchr::memchr(b'\'', bytes).is_none() {
        // No apostrophe to drop and no stretched letters (most texts): every word stays where it
        // is in the copy.
        spans_of(&map, n, &mut out.spans);
        out.alnum = map;
        return;
    }
    let mut i = next_where(&map, 0, true, n);
    while i < n {
        let end = next_where(&map, i, false, n);
        let apostrophe = bytes.get(end) == Some(&b'\'')
            && bytes.get(end + 1).is_some_and(u8::is_ascii_alphabetic);
        let stretched = may_stretch && is_stretched(&bytes[i..end]);
        if !apostrophe && !stretched {
            out.spans.push((i as u32, end as u32));
            i = next_where(&map, end, true, n);
            continue;
        }
        let start = out.buf.len();
        let (mut last, mut run) = (0u8, 0u32);
        loop {
            if i < n && bytes[i].is_ascii_alphanumeric() {
                let b = bytes[i];
                if b == last && stretches(char::from(b)) {
                    run += 1;
                    match run {
                        3 => {
                            out.buf.pop();
                            flags.set(Obfuscation::STRETCHED);
                        }
                        4.. => {}
                        _ => out.buf.push(char::from(b)),
                    }
                } else {
                    last = b;
                    run = 1;
                    out.buf.push(char::from(b));
                }
                i += 1;
            } else if bytes[i..].starts_with(b"'")
                && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
            {
                // "don't" is one word
                i += 1;
            } else {
                break;
            }
        }
        out.spans.push((start as u32, out.buf.len() as u32));
        i = next_where(&map, i, true, n);
    }
    out.alnum = map;
}

/// Marks which bytes of ASCII `bytes` are letters or digits: bit `k % 64` of `map[k / 64]` for byte
/// `k` (bytes past the end are neither). Eight bytes at a time: a byte-by-byte scan for where words
/// start and end took a third of tokenizing.
fn alnum_map(bytes: &[u8], map: &mut Vec<u64>) {
    map.clear();
    let mut bits = 0;
    for (j, word) in ascii::words(bytes).enumerate() {
        bits |= ascii::gather(ascii::letters(word) | ascii::digits(word)) << (8 * (j % 8));
        if j % 8 == 7 {
            map.push(std::mem::take(&mut bits));
        }
    }
    if !bytes.len().div_ceil(8).is_multiple_of(8) {
        map.push(bits);
    }
}

/// Appends the words `map` ([`alnum_map`] of a text of `n` bytes) marks: runs of set bits, found from
/// where the bits change, a word at a time rather than a byte or a branch at a time.
fn spans_of(map: &[u64], n: usize, spans: &mut Vec<(u32, u32)>) {
    // Whether the byte before the current 64 is a letter or digit.
    let mut carry = 0;
    // The first word whose end is still to be found.
    let mut open = spans.len();
    for (w, &bits) in map.iter().enumerate() {
        let before = bits << 1 | carry;
        carry = bits >> 63;
        let base = (w * 64) as u32;
        let (mut starts, mut ends) = (bits & !before, !bits & before);
        while starts != 0 {
            spans.push((base + starts.trailing_zeros(), 0));
            starts &= starts - 1;
        }
        while ends != 0 {
            spans[open].1 = base + ends.trailing_zeros();
            open += 1;
            ends &= ends - 1;
        }
    }
    // A word that goes on to the end of the map ends with the text.
    if carry != 0 {
        spans[open].1 = n as u32;
    }
}

/// The first byte at or after `from` that is (`alnum`) or is not a letter or digit by `map`, or `n`.
#[inline]
fn next_where(map: &[u64], from: usize, alnum: bool, n: usize) -> usize {
    let flip = if alnum { 0 } else { u64::MAX };
    let mut w = from / 64;
    let Some(&first) = map.get(w) else {
        return n;
    };
    let mut bits = (first ^ flip) & (u64::MAX << (from % 64));
    loop {
        if bits != 0 {
            return (w * 64 + bits.trailing_zeros() as usize).min(n);
        }
        w += 1;
        match map.get(w) {
            Some(&b) => bits = b ^ flip,
            None => return n,
        }
    }
}

/// Whether a letter repeated three times or more is stretched (`gacorrr`): `w` and `x` repeat in
/// `www` and `xxx` on purpose, and digits repeat in numbers.
fn stretches(c: char) -> bool {
    c.is_alphabetic() && c != 'w' && c != 'x'
}

/// Three of the same letter in a row, stretched ([`stretches`]), in an ASCII word.
fn is_stretched(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] == w[1] && w[1] == w[2] && stretches(char::from(w[0])))
}

/// Three of the same letter in a row, stretched ([`stretches`]), anywhere in `bytes` (ASCII text, all
/// words side by side: a match across two words is only a candidate).
fn has_stretch_candidate(bytes: &[u8]) -> bool {
    let Some(n) = bytes.len().checked_sub(2) else {
        return false;
    };
    // Branch-free, so it vectorizes.
    let triples = bytes[..n].iter().zip(&bytes[1..=n]).zip(&bytes[2..]);
    let found = triples.fold(0u8, |found, ((&a, &b), &c)| {
        let stretchable = a.is_ascii_alphabetic() & (a != b'w') & (a != b'x');
        found | u8::from((a == b) & (b == c) & stretchable)
    });
    found != 0
}

/// Tokenizes into a new value (convenience for tests and one-off calls).
pub fn tokenize(text: &str) -> (Tokens, Obfuscation) {
    let mut tokens = Tokens::default();
    let mut flags = Obfuscation::default();
    split_into(text, text.is_ascii(), &mut tokens, &mut flags);
    (tokens, flags)
}

fn is_mark(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_mark(c))
}

/// Scripts written without spaces between words.
fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' // kana
        | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' // han
        | '\u{0E00}'..='\u{0EFF}' // thai, lao
        | '\u{1000}'..='\u{109F}' // myanmar
        | '\u{1780}'..='\u{17FF}' // khmer
    ) && !is_mark(c)
}

fn push_char_pairs(run: &[char], out: &mut Tokens) {
    // Marks belong to the character before them: group them first.
    let mut units: Vec<(usize, usize)> = Vec::with_capacity(run.len());
    let mut s = String::with_capacity(run.len() * 3);
    for &c in run {
        let start = s.len();
        s.push(c);
        match units.last_mut() {
            Some(last) if is_mark(c) => last.1 = s.len(),
            _ => units.push((start, s.len())),
        }
    }
    if units.len() == 1 {
        push_token(out, &s);
        return;
    }
    for pair in units.windows(2) {
        push_token(out, &s[pair[0].0..pair[1].1]);
    }
}

fn push_token(out: &mut Tokens, text: &str) {
    let start = out.buf.len() as u32;
    out.buf.push_str(text);
    out.spans.push((start, out.buf.len() as u32));
}

/// Look-alikes of Latin letters in Cyrillic and Greek, folded inside words that also hold Latin letters.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'е' | 'ё' | 'ε' => 'e',
        'һ' | 'н' => 'h',
        'і' | 'ї' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'α' => 'a',
        _ => return None,
    })
}

#[derive(Default)]
struct WordBuilder {
    start: usize,
    last: Option<char>,
    run: u32,
    latin: bool,
    lookalike: bool,
    stretched: bool,
}

impl WordBuilder {
    fn open(&self, out: &Tokens) -> bool {
        out.buf.len() > self.start
    }

    /// `push` for an ASCII letter or digit.
    #[inline]
    fn push_ascii(&mut self, c: char, out: &mut Tokens) {
        if Some(c) == self.last && stretches(c) {
            self.stretch(c, out);
            return;
        }
        if !self.open(out) {
            self.start = out.buf.len();
        }
        self.last = Some(c);
        self.run = 1;
        self.latin |= c.is_ascii_lowercase();
        out.buf.push(c);
    }

    fn stretch(&mut self, c: char, out: &mut Tokens) {
        self.run += 1;
        match self.run {
            3 => {
                out.buf.pop();
                self.stretched = true;
            }
            4.. => {}
            _ => out.buf.push(c),
        }
    }

    fn push(&mut self, c: char, out: &mut Tokens) {
        if !self.open(out) {
            self.start = out.buf.len();
        }
        if Some(c) == self.last && stretches(c) {
            self.stretch(c, out);
            return;
        }
        self.last = Some(c);
        self.run = 1;
        self.latin |= c.is_ascii_lowercase();
        self.lookalike |= latin_lookalike(c).is_some();
        out.buf.push(c);
    }

    fn finish(&mut self, out: &mut Tokens, flags: &mut Obfuscation) {
        if out.buf.len() > self.start {
            if self.latin && self.lookalike {
                let folded: String = out.buf[self.start..]
                    .chars()
                    .map(|c| latin_lookalike(c).unwrap_or(c))
                    .collect();
                out.buf.truncate(self.start);
                out.buf.push_str(&folded);
                flags.set(Obfuscation::MIXED_SCRIPT);
            }
            if self.stretched {
                flags.set(Obfuscation::STRETCHED);
            }
            out.spans.push((self.start as u32, out.buf.len() as u32));
        }
        *self = WordBuilder {
            start: out.buf.len(),
            ..WordBuilder::default()
        };
    }
}

/// Three or more single letters or digits in a row (`s l o t g a c o r`, `a-e-r-o-8-8`) become one
/// word, if at least one of them is a letter.
fn join_spaced_letters(out: &mut Tokens, flags: &mut Obfuscation, ascii: bool) {
    let single = |t: &Tokens, i: usize| {
        let (s, e) = t.spans[i];
        match e - s {
            // One ASCII byte: a letter or digit (tokens hold nothing else).
            1 => true,
            // One character of two to four bytes (beginning with a byte that is not ASCII).
            2..=4 if t.buf.as_bytes()[s as usize] >= 0x80 => {
                let mut cs = t.get(i).chars();
                matches!((cs.next(), cs.next()), (Some(c), None) if c.is_alphanumeric() && !is_unspaced_script(c))
            }
            _ => false,
        }
    };
    let n = out.spans.len();
    // Most texts have no three one-character words in a row: nothing to join.
    let three_in_a_row = if ascii {
        // An ASCII word is single when it is one byte long. Word lengths vary: counted without
        // branching on them.
        let longest = out
            .spans
            .iter()
            .fold((0u32, 0u32), |(run, longest), &(s, e)| {
                let run = (run + 1) * u32::from(e - s == 1);
                (run, longest.max(run))
            });
        longest.1 >= 3
    } else {
        let mut run = 0;
        (0..n).any(|k| {
            run = if single(out, k) { run + 1 } else { 0 };
            run == 3
        })
    };
    if !three_in_a_row {
        return;
    }
    let mut i = 0;
    let mut joined: Option<Vec<(u32, u32)>> = None;
    while i < n {
        let mut j = i;
        while j < n && single(out, j) {
            j += 1;
        }
        let has_letter = (i..j).any(|k| out.get(k).chars().all(char::is_alphabetic));
        if j - i >= 3 && has_letter {
            let spans = joined.get_or_insert_with(|| out.spans[..i].to_vec());
            let word: String = (i..j).map(|k| out.get(k)).collect();
            let start = out.buf.len() as u32;
            out.buf.push_str(&word);
            spans.push((start, out.buf.len() as u32));
            flags.set(Obfuscation::SPACED);
            i = j;
        } else {
            // Not a spaced-out word, nor is any part of it that starts later: its words stay as
            // they are. (Trying again from each of its words would take time quadratic in its length.)
            let end = j.max(i + 1);
            if let Some(spans) = joined.as_mut() {
                spans.extend_from_slice(&out.spans[i..end]);
            }
            i = end;
        }
    }
    if let Some(spans) = joined {
        out.spans = spans;
    }
}

/// The letter a digit stands for in "leet" spelling (`sl0t`, `m4xwin`, `j4ckp0t`).
const fn leet_letter(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' => b'i',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        _ => return None,
    })
}

/// A digit [`leet_letter`] knows between two lower-case letters, anywhere in `bytes`.
fn has_leet_candidate(bytes: &[u8]) -> bool {
    // Branch-free, with comparisons only, so it vectorizes: the digits [`leet_letter`] knows are 0 to
    // 7 except 2 and 6 (checked below and by a test over every byte).
    const _: () = {
        let mut d = 0;
        while d < 10 {
            assert!(leet_letter(b'0' + d).is_some() == (d < 8 && d != 2 && d != 6));
            d += 1;
        }
    };
    let Some(n) = bytes.len().checked_sub(2) else {
        return false;
    };
    let triples = bytes[..n].iter().zip(&bytes[1..=n]).zip(&bytes[2..]);
    let found = triples.fold(0u8, |found, ((&before, &digit), &after)| {
        let d = digit.wrapping_sub(b'0');
        let leet = (d < 8) & (d != 2) & (d != 6);
        found | u8::from(leet & before.is_ascii_lowercase() & after.is_ascii_lowercase())
    });
    found != 0
}

/// Folds digits written between two letters of a word back into the letters they stand for
/// (`sl0t` → `slot`, `gac0r` → `gacor`); digits at a word's ends stay (`slot88`, `mp3`, `4d`).
fn fold_leet(out: &mut Tokens, flags: &mut Obfuscation) {
    // Most texts have no digit between two letters: one pass over the buffer the words are in (for
    // ASCII text, the whole text; a match across two words is only a candidate) spares the per-word
    // checks.
    if !has_leet_candidate(out.buf.as_bytes()) {
        return;
    }
    for i in 0..out.spans.len() {
        let (s, e) = out.spans[i];
        let word = &out.buf.as_bytes()[s as usize..e as usize];
        if word.len() < 3 || !word.is_ascii() || !word.iter().any(u8::is_ascii_digit) {
            continue;
        }
        let is_letter = |k: usize| word.get(k).is_some_and(u8::is_ascii_lowercase);
        let folds = |k: usize| {
            k > 0 && is_letter(k - 1) && is_letter(k + 1) && leet_letter(word[k]).is_some()
        };
        if !(1..word.len() - 1).any(folds) {
            continue;
        }
        let folded: String = word
            .iter()
            .enumerate()
            .map(|(k, &b)| {
                char::from(if folds(k) {
                    leet_letter(b).unwrap_or(b)
                } else {
                    b
                })
            })
            .collect();
        out.buf.replace_range(s as usize..e as usize, &folded);
        flags.set(Obfuscation::LEET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> (Vec<String>, Obfuscation) {
        let (t, f) = tokenize(text);
        (t.iter().map(str::to_owned).collect(), f)
    }

    #[test]
    fn letters_and_digits_are_found_eight_bytes_at_a_time() {
        // Every ASCII byte at every place of an 8-byte piece, in texts ending on and off the steps.
        for shift in 0..8 {
            for len in [1usize, 7, 8, 9, 63, 64, 65, 128 + shift, 200] {
                let bytes: Vec<u8> = (0..len).map(|k| ((k + shift) % 128) as u8).collect();
                let mut map = Vec::new();
                alnum_map(&bytes, &mut map);
                assert_eq!(map.len(), len.div_ceil(64));
                for k in 0..map.len() * 64 {
                    let bit = map[k / 64] >> (k % 64) & 1 == 1;
                    let want = bytes.get(k).is_some_and(u8::is_ascii_alphanumeric);
                    assert_eq!(bit, want, "byte {k} of {len}, shifted {shift}");
                }
                for from in 0..=len {
                    for alnum in [true, false] {
                        let naive = (from..len)
                            .find(|&k| bytes[k].is_ascii_alphanumeric() == alnum)
                            .unwrap_or(len);
                        assert_eq!(next_where(&map, from, alnum, len), naive);
                    }
                }
            }
        }
    }

    #[test]
    fn digits_standing_for_letters_are_folded() {
        let (w, f) = words("main sl0t gac0r di m4xwin88, j4ckp0t");
        assert_eq!(w, ["main", "slot", "gacor", "di", "maxwin88", "jackpot"]);
        assert!(f.has(Obfuscation::LEET));
        // Digits at the ends of a word, or next to other digits, are not letters.
        let (w, f) = words("mp3 4d slot88 covid19 2024 b2b x1000");
        assert_eq!(
            w,
            ["mp3", "4d", "slot88", "covid19", "2024", "b2b", "x1000"]
        );
        assert!(!f.has(Obfuscation::LEET));
        assert_eq!(general("sl0t gac0r ✨").0, ["slot", "gacor"]);
    }

    #[test]
    fn the_leet_prefilter_finds_every_folding_digit() {
        // The branch-free scan must say yes exactly where the per-word check could fold.
        for middle in 0..=255u8 {
            for (before, after) in [
                (b'a', b'z'),
                (b'A', b'z'),
                (b'a', b'0'),
                (b' ', b'x'),
                (0xC3, b'a'),
            ] {
                let expected = leet_letter(middle).is_some()
                    && before.is_ascii_lowercase()
                    && after.is_ascii_lowercase();
                let triple = [before, middle, after];
                assert_eq!(has_leet_candidate(&triple), expected, "{triple:?}");
                assert_eq!(
                    has_leet_candidate(&[b'q', b'.', before, middle, after, b'!']),
                    expected
                );
            }
        }
        assert!(!has_leet_candidate(b"s0"));
    }

    #[test]
    fn the_stretch_prefilter_finds_every_stretched_word() {
        // The branch-free scan must say yes wherever the per-word check does.
        for b in 0..=127u8 {
            let triple = [b, b, b];
            let expected = is_stretched(&triple);
            assert_eq!(expected, stretches(char::from(b)), "{triple:?}");
            assert_eq!(has_stretch_candidate(&triple), expected, "{triple:?}");
            assert_eq!(
                has_stretch_candidate(&[b'q', b' ', b, b, b, b'!']),
                expected
            );
            assert!(!has_stretch_candidate(&[b, b, b'.', b]));
        }
        assert!(!has_stretch_candidate(b"aa"));
    }

    #[test]
    fn splits_on_punctuation_and_keeps_apostrophe_words_whole() {
        let (w, _) = words("don't stop, it's 2am!! mantap.gan");
        assert_eq!(w, ["dont", "stop", "its", "2am", "mantap", "gan"]);
    }

    /// The general path, forced, for comparing with the ASCII one.
    fn general(text: &str) -> (Vec<String>, Obfuscation) {
        // A non-ASCII space at the end sends the text down the general path without adding a word.
        let (t, f) = tokenize(&format!("{text}\u{3000}"));
        (t.iter().map(str::to_owned).collect(), f)
    }

    #[test]
    fn the_ascii_path_tokenizes_like_the_general_one() {
        for text in [
            "don't stop, it's 2am!! mantap.gan",
            "gacorrr maxwinnnn good www xxx aaa",
            "s l o t g a c o r 1 2 3 a-e-r-o-8-8 'quoted' it''s ' x",
            "Check out my channel http://www.example.com/watch?v=AbC123 now!!!",
            "",
            "   ...   ",
            "a'b c' 'd e'f",
        ] {
            let lower = text.to_ascii_lowercase();
            assert_eq!(words(&lower), general(&lower), "{text:?}");
        }
        // Every text of up to 7 characters from letters that stretch and that do not, a digit, an
        // apostrophe and a space.
        crate::engine::every_string(&["a", "b", "7", "w", "'", " "], 1..=7, |text| {
            assert_eq!(words(text), general(text), "{text:?}");
        });
        // Words of every length up to 70 ending and starting on every side of the 64-byte blocks
        // the ASCII path reads its map in, texts ending inside a word and after one.
        for k in 1..=70 {
            let unit = format!("{}7, ", "x".repeat(k));
            let long = unit.repeat(200 / unit.len() + 1);
            for len in 1..=200 {
                let text = &long[..len];
                assert_eq!(words(text), general(text), "{text:?}");
            }
        }
    }

    #[test]
    fn stretched_letters_are_folded() {
        let (w, f) = words("gacorrr maxwinnnn good www");
        assert_eq!(w, ["gacor", "maxwin", "good", "www"]);
        assert!(f.has(Obfuscation::STRETCHED));
    }

    #[test]
    fn spaced_letters_are_joined() {
        let (w, f) = words("main s l o t g a c o r di sini, a-e-r-o-8-8 dan 1 2 3");
        assert_eq!(
            w,
            [
                "main",
                "slotgacor",
                "di",
                "sini",
                "aero88",
                "dan",
                "1",
                "2",
                "3"
            ]
        );
        assert!(f.has(Obfuscation::SPACED));
    }

    #[test]
    fn long_runs_of_single_digits_stay_as_they_are_in_one_pass() {
        // A million single digits in a row hold no spaced-out word; trying again from each of them
        // would take about 10^12 steps (this test would not finish).
        for digit in ["1", "١", "१"] {
            let text = format!("{digit} ").repeat(1 << 20);
            let (w, f) = words(&text);
            assert_eq!(w.len(), 1 << 20);
            assert!(w.iter().all(|w| w == digit), "{digit}");
            assert!(!f.has(Obfuscation::SPACED));
        }
        // ... and a spaced-out word after such a run is still found.
        let (w, _) = words(&format!("{}then s l o t", "1 ".repeat(1000)));
        assert_eq!(w[1000..], ["then", "slot"]);
        assert_eq!(w.len(), 1002);
    }

    #[test]
    fn cyrillic_lookalikes_in_latin_words_are_folded() {
        let (w, f) = words("aеrо88 молоко");
        assert_eq!(w, ["aero88", "молоко"]);
        assert!(f.has(Obfuscation::MIXED_SCRIPT));
    }

    #[test]
    fn unspaced_scripts_give_character_pairs() {
        let (w, _) = words("東京タワー");
        assert_eq!(w, ["東京", "京タ", "タワ", "ワー"]);
    }

    #[test]
    fn devanagari_marks_stay_in_the_word() {
        let (w, _) = words("नमस्ते दुनिया");
        assert_eq!(w, ["नमस्ते", "दुनिया"]);
    }
}
