//! Text normalization: undo the tricks spammers use to dodge filters, before tokenizing.
//!
//! - HTML: tags are stripped but the targets of links (`href`, `src`) are kept as text; entities are decoded.
//! - Unicode NFKC folds mathematical letters (`𝐌𝐄𝐆𝐀𝐁𝐄𝐓𝟗𝟗`), full-width letters and ligatures into plain
//!   ones; squared and circled letters NFKC leaves alone (`🅂🄻🄾🅃`) and small capitals (`ꜱʟᴏᴛ`) are folded by hand.
//! - Zero-width characters, soft hyphens and stray U+FEFF are removed.
//! - Case is folded.
//!
//! What was undone is recorded in [`Obfuscation`] flags: styled letters in a comment are evidence of their own.

use super::ascii;
use unicode_normalization::char::decompose_compatible;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Tricks found while normalizing (bit flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Obfuscation(pub u8);

impl Obfuscation {
    /// Mathematical, full-width, circled or squared letters.
    pub const STYLED: u8 = 1;
    /// Zero-width characters inside the text.
    pub const ZERO_WIDTH: u8 = 2;
    /// Letters of several scripts in one word (`AЕR88` with a Cyrillic Е).
    pub const MIXED_SCRIPT: u8 = 4;
    /// Letters spaced out: `s l o t`.
    pub const SPACED: u8 = 8;
    /// Letters stretched: `gacorrr`.
    pub const STRETCHED: u8 = 16;
    /// Digits standing for letters inside a word: `sl0t`, `m4xwin` (recorded, but not a feature).
    pub const LEET: u8 = 32;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub fn set(&mut self, flag: u8) {
        self.0 |= flag;
    }
}

/// A comment's text after normalization, with what it took to get there.
#[derive(Debug, Default, Clone)]
pub struct NormalizedText {
    /// Case-folded, NFKC, tags stripped (link targets kept), entities decoded.
    pub text: String,
    pub obfuscation: Obfuscation,
    /// Letters before case folding, and how many were upper case.
    pub letters: u32,
    pub upper: u32,
    /// ASCII digits in `text`.
    pub digits: u32,
    /// `text` is ASCII (most comments: later passes take their ASCII paths without looking again).
    /// Set by [`normalize_into`]; false (not known to be) in a default value.
    pub ascii: bool,
    /// The raw text held HTML tags.
    pub had_html: bool,
    /// Reused working buffer.
    scratch: String,
}

impl NormalizedText {
    /// Most letters in upper case (and enough letters to tell).
    pub fn is_shouting(&self) -> bool {
        self.letters >= 8 && self.upper * 10 >= self.letters * 7
    }
}

/// Normalizes `raw` into `out`, reusing its buffer.
pub fn normalize_into(raw: &str, out: &mut NormalizedText) {
    out.text.clear();
    out.obfuscation = Obfuscation::default();
    out.letters = 0;
    out.upper = 0;
    out.digits = 0;
    out.ascii = true;
    out.had_html = false;

    // Fast path: ASCII without markup or entities is its own NFKC form and has no zero-width
    // characters. Found, and its letters, capitals and digits counted, in one pass.
    let counts = ascii::counts(raw.as_bytes());
    if !counts.other {
        out.letters = counts.letters;
        out.upper = counts.upper;
        out.digits = counts.digits;
        out.text.push_str(raw);
        out.text.make_ascii_lowercase();
        return;
    }

    let stripped;
    let mut text = raw;
    if text.contains('<') {
        stripped = strip_tags(text, &mut out.had_html);
        text = &stripped;
    }
    let decoded = if text.contains('&') {
        html_escape::decode_html_entities(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };

    let mut obfuscation = Obfuscation::default();
    let mut pre = std::mem::take(&mut out.scratch);
    pre.clear();
    let mut typed_wide = false;
    // Runs of ASCII (most of most texts) copied whole; none of the characters below is ASCII.
    let mut rest: &str = &decoded;
    loop {
        let (run, others) = split_ascii(rest);
        pre.push_str(run);
        let mut chars = others.chars();
        let Some(c) = chars.next() else {
            break;
        };
        rest = chars.as_str();
        if is_invisible(c) {
            obfuscation.set(Obfuscation::ZERO_WIDTH);
        } else if is_styled(c) {
            obfuscation.set(Obfuscation::STYLED);
            // Decomposed here, as NFKC would (it begins with this decomposition), so a text whose
            // only change is its styled letters (the usual) passes the quick check below whole.
            decompose_compatible(unsquare(c), |d| pre.push(d));
        } else if let Some(letter) = small_capital(c) {
            obfuscation.set(Obfuscation::STYLED);
            pre.push(letter);
        } else {
            typed_wide |= is_wide_alphanumeric(c);
            pre.push(c);
        }
    }
    // Full-width and circled letters and digits are how Chinese, Japanese and Korean keyboards type
    // them; elsewhere they are put on to look different.
    if typed_wide && !decoded.chars().any(is_cjk) {
        obfuscation.set(Obfuscation::STYLED);
    }
    // Most text is already in NFKC form; the quick check spares it the full normalization.
    let decorated = if is_nfkc_quick(pre.chars()) == IsNormalized::Yes {
        fold_case_runs(&pre, out)
    } else {
        fold_case(pre.chars().nfkc(), out)
    };
    out.scratch = pre;
    if decorated {
        obfuscation.set(Obfuscation::STYLED);
    }
    // A trailing U+FEFF is an export artefact, not an attempt to hide anything.
    if obfuscation.has(Obfuscation::ZERO_WIDTH) && !has_inner_invisible(&decoded) {
        obfuscation.0 &= !Obfuscation::ZERO_WIDTH;
    }
    out.obfuscation = obfuscation;
    out.digits = out.text.bytes().filter(u8::is_ascii_digit).count() as u32;
    out.ascii = out.text.is_ascii();
}

/// Appends `chars` case-folded to `out.text`, counting letters; drops combining marks that NFKC
/// could not compose onto a plain letter (decoration: A̲M̲B̲I̲L̲, s̶l̶o̶t̶) and says whether there were any.
fn fold_case(chars: impl Iterator<Item = char>, out: &mut NormalizedText) -> bool {
    fold_case_chars(chars, &mut false, out)
}

/// [`fold_case`] of characters after one that is an ASCII letter or digit (`previous_ascii`, which
/// is left saying so of the last character kept) or not.
fn fold_case_chars(
    chars: impl Iterator<Item = char>,
    previous_ascii: &mut bool,
    out: &mut NormalizedText,
) -> bool {
    let mut decorated = false;
    for c in chars {
        if *previous_ascii && !c.is_ascii() && unicode_normalization::char::is_combining_mark(c) {
            decorated = true;
            continue;
        }
        *previous_ascii = c.is_ascii_alphanumeric();
        if c.is_alphabetic() {
            out.letters += 1;
            if c.is_uppercase() {
                out.upper += 1;
            }
        }
        if c.is_ascii() {
            out.text.push(c.to_ascii_lowercase());
        } else {
            out.text.extend(c.to_lowercase());
        }
    }
    decorated
}

/// [`fold_case`] of `text`, its runs of ASCII taken whole.
fn fold_case_runs(text: &str, out: &mut NormalizedText) -> bool {
    let mut decorated = false;
    let mut previous_ascii = false;
    let mut rest = text;
    while !rest.is_empty() {
        let (run, others) = split_ascii(rest);
        if let Some(&last) = run.as_bytes().last() {
            let counts = ascii::counts(run.as_bytes());
            out.letters += counts.letters;
            out.upper += counts.upper;
            let start = out.text.len();
            out.text.push_str(run);
            out.text[start..].make_ascii_lowercase();
            previous_ascii = last.is_ascii_alphanumeric();
        }
        // The characters up to the next ASCII one, one at a time.
        let end = others
            .bytes()
            .position(|b| b.is_ascii())
            .unwrap_or(others.len());
        let (wide, after) = others.split_at(end);
        decorated |= fold_case_chars(wide.chars(), &mut previous_ascii, out);
        rest = after;
    }
    decorated
}

/// The ASCII `text` starts with, and the rest.
fn split_ascii(text: &str) -> (&str, &str) {
    let run = text
        .bytes()
        .position(|b| !b.is_ascii())
        .unwrap_or(text.len());
    text.split_at(run)
}

/// Normalizes into a new value (convenience for tests and one-off calls).
pub fn normalize(raw: &str) -> NormalizedText {
    let mut out = NormalizedText::default();
    normalize_into(raw, &mut out);
    out
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// An invisible character between two visible ones (not only at the ends).
fn has_inner_invisible(text: &str) -> bool {
    let trimmed = text.trim_matches(|c: char| is_invisible(c) || c.is_whitespace());
    trimmed.chars().any(is_invisible)
}

/// Letters styled to look different while reading the same, in any script's text.
fn is_styled(c: char) -> bool {
    matches!(c,
        '\u{1D400}'..='\u{1D7FF}'   // mathematical alphanumeric symbols
        | '\u{1F100}'..='\u{1F1E5}' // enclosed alphanumeric supplement (squared, negative circled);
                                    // not the regional indicators after it, which make flag emoji
        | '\u{1D2C}'..='\u{1D6A}' | '\u{1D9B}'..='\u{1DBF}' | '\u{02B0}'..='\u{02B8}'
        | '\u{2090}'..='\u{209C}' // superscript and subscript letters (ˢˡᵒᵗ), folded by NFKC
    )
}

/// Full-width and circled letters and digits (full-width punctuation is ordinary CJK text).
fn is_wide_alphanumeric(c: char) -> bool {
    matches!(c,
        '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}'
        | '\u{2460}'..='\u{24FF}' // enclosed alphanumerics (circled letters and digits)
    )
}

/// Han, kana and Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{AC00}'..='\u{D7AF}'
    )
}

/// The plain letter a small capital stands for (`ꜱʟᴏᴛ ɢᴀᴄᴏʀ`): NFKC leaves these alone.
fn small_capital(c: char) -> Option<char> {
    Some(match c {
        '\u{1D00}' => 'a',
        '\u{0299}' => 'b',
        '\u{1D04}' => 'c',
        '\u{1D05}' => 'd',
        '\u{1D07}' => 'e',
        '\u{A730}' => 'f',
        '\u{0262}' => 'g',
        '\u{029C}' => 'h',
        '\u{026A}' => 'i',
        '\u{1D0A}' => 'j',
        '\u{1D0B}' => 'k',
        '\u{029F}' => 'l',
        '\u{1D0D}' => 'm',
        '\u{0274}' => 'n',
        '\u{1D0F}' => 'o',
        '\u{1D18}' => 'p',
        '\u{0280}' => 'r',
        '\u{A731}' => 's',
        '\u{1D1B}' => 't',
        '\u{1D1C}' => 'u',
        '\u{1D20}' => 'v',
        '\u{1D21}' => 'w',
        '\u{028F}' => 'y',
        '\u{1D22}' => 'z',
        _ => return None,
    })
}

/// Folds the squared and negative-circled letters that NFKC leaves alone; other characters pass.
fn unsquare(c: char) -> char {
    let code = c as u32;
    let base = match code {
        0x1F130..=0x1F149 => 0x1F130, // squared A-Z
        0x1F150..=0x1F169 => 0x1F150, // negative circled A-Z
        0x1F170..=0x1F189 => 0x1F170, // negative squared A-Z
        _ => return c,
    };
    char::from_u32(u32::from(b'A') + code - base).unwrap_or(c)
}

/// Removes HTML tags, keeping the targets of `href` and `src` attributes as words of the text.
fn strip_tags(text: &str, had_html: &mut bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // Only `<` followed by a letter, `/` or `!` opens a tag; "a < b" stays text.
        let opens_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        // (The `>` is looked for only after a `<` that opens a tag: looking for it after every `<`
        // would take time quadratic in a run of them.)
        match (opens_tag, opens_tag.then(|| after.find('>')).flatten()) {
            (true, Some(close)) => {
                *had_html = true;
                let tag = &after[..close];
                for target in attribute_values(tag, &["href", "src"]) {
                    out.push(' ');
                    out.push_str(target);
                    out.push(' ');
                }
                out.push(' ');
                rest = &after[close + 1..];
            }
            (true, None) => {
                // No tag closes anywhere after this one: the rest is text. (Looking for a `>` again
                // after each later `<` would take time quadratic in the length.)
                out.push('<');
                rest = after;
                break;
            }
            (false, _) => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Values of the named attributes in the inside of one tag (`a href="x" title=y`).
fn attribute_values<'a>(tag: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut values = Vec::new();
    let lower = tag.to_ascii_lowercase();
    for name in names {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(name) {
            let at = from + pos + name.len();
            from = at;
            let value = lower[at..].trim_start();
            let Some(value) = value.strip_prefix('=') else {
                continue;
            };
            let start = tag.len() - value.len() + (value.len() - value.trim_start().len());
            let value = &tag[start..];
            let (quoted, end) = match value.chars().next() {
                Some(q @ ('"' | '\'')) => (1, value[1..].find(q).map_or(value.len(), |e| e + 1)),
                _ => (0, value.find(char::is_whitespace).unwrap_or(value.len())),
            };
            if end > quoted {
                values.push(&value[quoted..end]);
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_that_are_not_ascii_in_any_place_of_a_machine_word_are_normalized() {
        // The fast path's eight-byte classes see every text before it is known to be ASCII: a byte
        // over 0x7f in any of the eight places must neither overflow (a panic in a debug build)
        // nor make the text pass for ASCII.
        for ascii in 0..8 {
            for other in ["é", "€", "面", "😂", "\u{FEFF}"] {
                let text = format!("{}{other}xY", "a".repeat(ascii));
                let n = normalize(&text);
                assert_eq!(n.ascii, n.text.is_ascii(), "{text:?}");
                assert_eq!(n.upper, 1, "{text:?}");
            }
        }
    }

    #[test]
    fn ascii_runs_fold_as_characters_one_at_a_time_do() {
        // Every string of up to 5 pieces: ASCII letters and digits, punctuation, combining marks
        // (after an ASCII letter they are decoration, dropped), letters that are not ASCII (one whose
        // lower case is two characters), an emoji.
        let pieces = [
            "A", "b7", " ", "\u{0332}", "\u{0301}", "É", "İ", "Σ", "ß", "😂", "x.Y",
        ];
        crate::engine::every_string(&pieces, 0..=5, |text| {
            let (mut one, mut runs) = (NormalizedText::default(), NormalizedText::default());
            let decorated = (
                fold_case(text.chars(), &mut one),
                fold_case_runs(text, &mut runs),
            );
            assert_eq!(decorated.0, decorated.1, "{text:?}");
            assert_eq!(
                (one.text, one.letters, one.upper),
                (runs.text, runs.letters, runs.upper),
                "{text:?}"
            );
        });
    }

    #[test]
    fn letters_capitals_and_digits_are_counted_in_texts_of_any_length() {
        // Past 255 machine words (2,040 bytes) the counts are carried out of each byte: a text of
        // capitals only must not wrap around.
        for len in [0, 1, 7, 8, 9, 2039, 2040, 2041, 2048, 5000, 20_000] {
            for unit in ["Ab3 ,x", "ZZZZZZZZ", "9", "a.B"] {
                let text: String = unit.chars().cycle().take(len).collect();
                let n = normalize(&text);
                let count = |f: fn(&u8) -> bool| text.bytes().filter(f).count() as u32;
                assert_eq!(n.letters, count(u8::is_ascii_alphabetic), "{len} {unit}");
                assert_eq!(n.upper, count(u8::is_ascii_uppercase), "{len} {unit}");
                assert_eq!(n.digits, count(u8::is_ascii_digit), "{len} {unit}");
            }
        }
    }

    #[test]
    fn unclosed_tags_are_text_and_cost_one_pass() {
        assert_eq!(
            normalize("a <b and <i never closed").text,
            "a <b and <i never closed"
        );
        assert_eq!(
            normalize("<b>bold</b> then <i").text.trim(),
            "bold  then <i"
        );
        // Two megabytes of `<a` without a `>`: rescanning for `>` after every `<` would take
        // about 10^12 steps (this test would not finish); one pass keeps it all as text.
        let text = "<a".repeat(1 << 20);
        assert_eq!(normalize(&text).text, text);
        // The same for a `<` that opens no tag, however many there are.
        for text in [
            "<".repeat(1 << 20),
            "<1".repeat(1 << 20),
            "a <b ".repeat(1 << 18),
        ] {
            assert!(normalize(&text).text == text, "{}", &text[..10]);
        }
    }

    /// `styled` normalizes to `plain` and counts as styled text.
    fn assert_styled(styled: &str, plain: &str) {
        let n = normalize(styled);
        assert_eq!(n.text, plain);
        assert!(n.obfuscation.has(Obfuscation::STYLED), "{styled}");
    }

    #[test]
    fn mathematical_and_fullwidth_letters_become_plain() {
        assert_styled(
            "Main di 𝐌𝐄𝐆𝐀𝐁𝐄𝐓𝟗𝟗 dan ＳＬＯＴ",
            "main di megabet99 dan slot",
        );
    }

    #[test]
    fn superscript_letters_become_plain_and_count_as_styling() {
        assert_styled("ˢˡᵒᵗ ᵍᵃᶜᵒʳ hari ini", "slot gacor hari ini");
        // Superscript digits are notation, not styling.
        assert!(!normalize("an area of 20 m² or x⁴")
            .obfuscation
            .has(Obfuscation::STYLED));
    }

    #[test]
    fn small_capitals_become_plain() {
        assert_styled(
            "ʟɪᴠᴇ ꜱᴛʀᴇᴀᴍɪɴɢ ᴅɪ ꜱʟᴏᴛ ɢᴀᴄᴏʀ 24 ᴊᴀᴍ",
            "live streaming di slot gacor 24 jam",
        );
    }

    #[test]
    fn how_cjk_keyboards_type_is_not_styling() {
        // Full-width punctuation and digits are ordinary Chinese and Japanese text.
        let zh = normalize("面团要醒多久？我上次做的太硬了，切不开！");
        assert!(!zh.obfuscation.has(Obfuscation::STYLED));
        assert!(zh.text.contains('?'));
        let ja = normalize("哲学の道、今年も３回行きました。①朝 ②昼");
        assert!(!ja.obfuscation.has(Obfuscation::STYLED));
        assert!(ja.text.contains('3'));
        // Full-width letters in Latin text are put on to look different.
        assert!(normalize("daftar di ＲＡＪＡ３８ sekarang")
            .obfuscation
            .has(Obfuscation::STYLED));
        assert!(normalize("juara ①").obfuscation.has(Obfuscation::STYLED));
        // A flag emoji is not a styled letter.
        let flag = normalize("Merdeka! 🇮🇩");
        assert!(!flag.obfuscation.has(Obfuscation::STYLED));
        assert!(flag.text.contains('🇮'));
    }

    #[test]
    fn decorating_combining_marks_are_removed_but_accents_kept() {
        let n = normalize("A\u{332}M\u{332}B\u{332}IL4D s\u{336}lot café nai\u{308}ve");
        assert_eq!(n.text, "ambil4d slot café naïve");
        assert!(n.obfuscation.has(Obfuscation::STYLED));
    }

    #[test]
    fn squared_letters_are_folded() {
        assert_eq!(normalize("🅂🄻🄾🅃 gacor").text, "slot gacor");
    }

    #[test]
    fn zero_width_inside_words_is_removed_and_flagged() {
        let n = normalize("ga\u{200B}cor");
        assert_eq!(n.text, "gacor");
        assert!(n.obfuscation.has(Obfuscation::ZERO_WIDTH));
        let trailing = normalize("nice song\u{FEFF}");
        assert_eq!(trailing.text, "nice song");
        assert!(!trailing.obfuscation.has(Obfuscation::ZERO_WIDTH));
    }

    #[test]
    fn tags_are_stripped_keeping_link_targets_and_entities_decoded() {
        let n = normalize(
            r#"Nice &amp; <a href="https://Shop.example/x" rel="nofollow">cheap</a> post"#,
        );
        assert_eq!(n.text, "nice &  https://shop.example/x  cheap  post");
        assert!(n.had_html);
    }

    #[test]
    fn a_lone_less_than_is_text() {
        assert_eq!(normalize("3 < 5 &lt;b&gt;").text, "3 < 5 <b>");
    }

    #[test]
    fn shouting_is_measured_before_case_folding() {
        assert!(normalize("CHECK OUT MY CHANNEL").is_shouting());
        assert!(!normalize("Check out my channel").is_shouting());
    }
}
