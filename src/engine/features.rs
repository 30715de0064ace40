//! Features: what the classifier sees of a comment.
//!
//! Words and word pairs of the text, the beginnings of longer words and the endings of long ones, and
//! evidence beyond words: the domains linked in the text and in
//! `author_url`, the email's domain, the comment type, how many links (bucketed), phone-number and money
//! patterns, the obfuscation undone by normalization, shouting, length, the author's name, and how the
//! text relates to `post_title`. Pingbacks and trackbacks get features of their own: the source's
//! domain and site title, the `[…] excerpt […]` shape and whether the excerpt relates to the post.
//!
//! Each feature is a 64-bit id (a hash of its kind and value), so extraction allocates nothing per
//! feature. The same code serves scoring, which only needs ids, and explaining, which also wants a
//! description: callers pass a [`FeatureSink`] and descriptions are built only when asked for.

use std::borrow::Cow;
use std::cell::RefCell;

use compact_str::{format_compact, CompactString};
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::comment::{CommentKind, CommentRef};
use super::normalize::{normalize_into, NormalizedText, Obfuscation};
use super::tokenize::{tokenize_normalized, Tokens, PAD};

/// What a feature is about; also the seed of its id, so ids of different kinds never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum FeatureKind {
    Word = 1,
    Phrase,
    WordStem,
    NumberLength,
    BrandLike,
    LinkDomain,
    LinkTld,
    LinkCount,
    AuthorWord,
    AuthorDomain,
    AuthorTld,
    EmailDomain,
    Type,
    Phone,
    Money,
    EmailInText,
    Mention,
    Length,
    Obfuscation,
    Shouting,
    Exclaiming,
    Emoji,
    Html,
    Topic,
    LinkbackShape,
    LinkbackSiteWord,
    LinkbackDomain,
    LinkbackSameSite,
    LinkbackTopic,
    WordStart,
    WordEnd,
    ThreeWords,
}

/// A feature in words, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feature {
    pub kind: FeatureKind,
    /// Held inline when short (most words and domains): describing costs no allocation.
    pub value: CompactString,
}

impl Feature {
    fn new(kind: FeatureKind, value: impl Into<CompactString>) -> Self {
        Feature {
            kind,
            value: value.into(),
        }
    }

    /// The feature as a blog owner would say it.
    pub fn describe(&self) -> String {
        // The words around the value (joined without the formatting machinery: explaining
        // describes a reason for every comment).
        let (before, after) = match self.kind {
            FeatureKind::Word => ("the word \"", "\""),
            FeatureKind::Phrase => ("the phrase \"", "\""),
            FeatureKind::WordStem => ("a word starting \"", "\" run together with digits"),
            FeatureKind::NumberLength => ("a ", "-digit number"),
            FeatureKind::BrandLike => return "a brand-like name made of letters and digits".into(),
            FeatureKind::LinkDomain => ("a link to ", ""),
            FeatureKind::LinkTld => ("a link to a .", " address"),
            FeatureKind::LinkCount => ("", " in the text"),
            FeatureKind::AuthorWord => ("\"", "\" in the author's name"),
            FeatureKind::AuthorDomain => ("the author's website ", ""),
            FeatureKind::AuthorTld => ("the author's website is a .", " address"),
            FeatureKind::EmailDomain => ("an email address at ", ""),
            FeatureKind::Type => ("posted as a ", ""),
            FeatureKind::Phone => return "a phone number".into(),
            FeatureKind::Money => return "an amount of money".into(),
            FeatureKind::EmailInText => return "an email address in the text".into(),
            FeatureKind::Mention => return "addresses another reader with @".into(),
            FeatureKind::Length => ("length: ", ""),
            FeatureKind::Obfuscation => ("obfuscated text: ", ""),
            FeatureKind::Shouting => return "written mostly in capitals".into(),
            FeatureKind::Exclaiming => return "repeated exclamation marks".into(),
            FeatureKind::Emoji => return "emoji".into(),
            FeatureKind::Html => return "HTML markup".into(),
            FeatureKind::Topic => ("relation to the article's title: ", ""),
            FeatureKind::LinkbackShape => ("the pingback text ", ""),
            FeatureKind::LinkbackSiteWord => ("\"", "\" in the linking site's title"),
            FeatureKind::LinkbackDomain => ("a pingback from ", ""),
            FeatureKind::LinkbackSameSite => return "a pingback from this same site".into(),
            FeatureKind::LinkbackTopic => (
                "relation of the pingback's excerpt to the article's title: ",
                "",
            ),
            FeatureKind::WordStart => ("a word starting \"", "\""),
            FeatureKind::WordEnd => ("a long word ending \"", "\""),
            FeatureKind::ThreeWords => ("the words \"", "\""),
        };
        [before, self.value.as_str(), after].concat()
    }
}

/// Receives the features of one comment.
pub trait FeatureSink {
    /// `describe` is called only by sinks that explain.
    fn add(&mut self, id: u64, describe: impl FnOnce() -> Feature);

    /// A feature made of the comment's words `first..first + count` (a pair or a triple, or one word or
    /// a part of it: see [`describe_words`]): a sink that keeps only some features may keep the words'
    /// place instead and describe it once it knows it needs to ([`FeatureExtractor::words_at`]).
    #[inline]
    fn add_words(
        &mut self,
        id: u64,
        kind: FeatureKind,
        words: &Tokens,
        first: usize,
        count: usize,
    ) {
        self.add(id, || describe_words(kind, words, first, count));
    }
}

/// The feature of kind `kind` made of the words `first..first + count`: a pair or a triple, or one word
/// or a part of it ([`word_part`]).
fn describe_words(kind: FeatureKind, words: &Tokens, first: usize, count: usize) -> Feature {
    if count == 1 {
        return Feature::new(kind, word_part(kind, words.get(first)));
    }
    Feature::new(kind, words_at(words, first, count))
}

/// What a word gives a feature of kind `kind`: its beginning, its ending, its letters before digits,
/// its number of digits, or (a word feature) itself.
fn word_part(kind: FeatureKind, token: &str) -> &str {
    match kind {
        FeatureKind::WordStart => prefix(token, WORD_START, token.is_ascii()),
        FeatureKind::WordEnd => suffix(token, WORD_END, token.is_ascii()),
        FeatureKind::WordStem => stem_of(token),
        FeatureKind::NumberLength => digit_length_bucket(token.len()),
        _ => token,
    }
}

/// Collects feature ids only: the scoring and training path.
impl FeatureSink for Vec<u64> {
    #[inline]
    fn add(&mut self, id: u64, _describe: impl FnOnce() -> Feature) {
        self.push(id);
    }
}

/// Collects ids with their descriptions: the explaining path.
impl FeatureSink for Vec<(u64, Feature)> {
    fn add(&mut self, id: u64, describe: impl FnOnce() -> Feature) {
        self.push((id, describe()));
    }
}

/// Watches nothing: [`FeatureExtractor::ids`] without a watcher.
impl FeatureSink for () {
    #[inline]
    fn add(&mut self, _id: u64, _describe: impl FnOnce() -> Feature) {}
}

/// Collects ids and shows each feature to a watcher.
struct Watched<'a, W> {
    ids: &'a mut Vec<u64>,
    watcher: &'a mut W,
}

impl<W: FeatureSink> FeatureSink for Watched<'_, W> {
    #[inline]
    fn add(&mut self, id: u64, describe: impl FnOnce() -> Feature) {
        self.ids.push(id);
        self.watcher.add(id, describe);
    }

    #[inline]
    fn add_words(
        &mut self,
        id: u64,
        kind: FeatureKind,
        words: &Tokens,
        first: usize,
        count: usize,
    ) {
        self.ids.push(id);
        self.watcher.add_words(id, kind, words, first, count);
    }
}

/// A small open-addressing set of feature ids, cleared in O(1) by bumping a generation.
#[derive(Default)]
struct IdSet {
    slots: Vec<(u64, u32)>,
    generation: u32,
}

impl IdSet {
    /// Keeps the first occurrence of each id, in order, of the ids [`FeatureExtractor::extract`]
    /// hands out (its order is relied on: see below).
    fn retain_first(&mut self, ids: &mut Vec<u64>) {
        // At most a quarter full: an id seldom meets another in its slot, a branch the processor
        // cannot foresee (half full, it took 6% of all mispredictions in `batch`, cachegrind). A
        // few KiB for most comments, inside the first-level cache.
        let want = (ids.len() * 4).next_power_of_two().max(128);
        if self.slots.len() < want || self.generation == u32::MAX {
            self.slots = vec![(0, 0); want];
            self.generation = 0;
        }
        self.generation += 1;
        let generation = self.generation;
        let mask = self.slots.len() - 1;
        // Word pairs and triples (nearly half of a comment's features) repeat only where a word does:
        // unless one did, they are kept without a look. This holds because `extract` hands out
        // every word (Word and NumberLength ids) before any pair or triple, and pairs and triples
        // nowhere else. (Two different pairs whose ids collide, a chance of about one in 2^57
        // per pair of pairs, would count twice where they counted once; the ids are one feature
        // either way, in training as in scoring.)
        let (pair, triple) = (
            FeatureKind::Phrase as usize,
            FeatureKind::ThreeWords as usize,
        );
        let (word, number) = (
            FeatureKind::Word as usize,
            FeatureKind::NumberLength as usize,
        );
        let mut word_repeated = false;
        ids.retain(|&id| {
            let kind = kind_index(id);
            if (kind == pair || kind == triple) && !word_repeated {
                return true;
            }
            let mut i = (id as usize) & mask;
            loop {
                let slot = &mut self.slots[i];
                if slot.1 != generation {
                    *slot = (id, generation);
                    return true;
                }
                if slot.0 == id {
                    word_repeated |= kind == word || kind == number;
                    return false;
                }
                i = (i + 1) & mask;
            }
        });
    }
}

/// Words longer than this also give their first this many characters as a feature.
const WORD_START: usize = 5;
/// Words of at least `LONG_WORD` characters (not all digits) also give their last `WORD_END`.
const LONG_WORD: usize = 8;
const WORD_END: usize = 4;

/// A feature id is 64 bits: the top bit is set for signs of deliberate evasion, the next
/// [`KIND_BITS`] hold the feature's kind, the rest a hash of its kind and value.
const EVASION: u64 = 1 << 63;
const KIND_BITS: u32 = 6;
const KIND_SHIFT: u32 = 63 - KIND_BITS;

/// One more than the largest kind number: the size of a table indexed by [`kind_index`] (slot 0,
/// which no kind uses, is free for the prior).
pub const KIND_SLOTS: usize = FeatureKind::ThreeWords as usize + 1;
const _: () = assert!(KIND_SLOTS <= 1 << KIND_BITS);

impl FeatureKind {
    /// Signs that the writer worked to get past a filter: obfuscated letters and brand-like names.
    const fn is_evasion(self) -> bool {
        matches!(self, FeatureKind::Obfuscation | FeatureKind::BrandLike)
    }
}

/// Whether a feature id is a sign of deliberate evasion (see [`crate::engine::train::FeatureValues`]);
/// the id's top bit says so.
#[inline]
pub fn is_evasion_feature(id: u64) -> bool {
    id & EVASION != 0
}

/// The kind number of a feature id (1 to `KIND_SLOTS - 1`), kept in the id itself.
#[inline]
pub fn kind_index(id: u64) -> usize {
    ((id >> KIND_SHIFT) & ((1 << KIND_BITS) - 1)) as usize
}

#[inline]
const fn tagged(kind: FeatureKind, hash: u64) -> u64 {
    let id = (hash & ((1 << KIND_SHIFT) - 1)) | ((kind as u64) << KIND_SHIFT);
    if kind.is_evasion() {
        id | EVASION
    } else {
        id
    }
}

#[inline]
fn feature_id(kind: FeatureKind, value: &str) -> u64 {
    tagged(kind, xxh3_64_with_seed(value.as_bytes(), kind as u64))
}

/// [`feature_id`] worked out when compiling, for features of fixed values (most comments have
/// several: their length, their type, how many links). The same hash, in a form that runs in `const`.
const fn fixed_id(kind: FeatureKind, value: &str) -> u64 {
    tagged(
        kind,
        xxhash_rust::const_xxh3::xxh3_64_with_seed(value.as_bytes(), kind as u64),
    )
}

/// A fixed value and its id: `fixed!(Length, "no words")`.
macro_rules! fixed {
    ($kind:ident, $value:expr) => {
        ($value, const { fixed_id(FeatureKind::$kind, $value) })
    };
}

#[inline]
const fn pair_id(kind: FeatureKind, a: u64, b: u64) -> u64 {
    // splitmix64 finalizer over an order-sensitive combination
    let mut z = a.rotate_left(29) ^ b ^ (kind as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    tagged(kind, z ^ (z >> 31))
}

/// Reusable buffers for extracting features (one per thread).
#[derive(Default)]
pub struct FeatureExtractor {
    text: NormalizedText,
    tokens: Tokens,
    word_ids: Vec<u64>,
    /// Per word: the id of its beginning (0 for words under 4 characters).
    starts: Vec<u64>,
    side: NormalizedText,
    side_tokens: Tokens,
    dedup: IdSet,
    /// The last post title seen, the hashes of its words' beginnings, and their [`bloom_bits`].
    title: String,
    title_words: Vec<u64>,
    title_bloom: u64,
    seen: Vec<u64>,
    /// The words joined, for [`Self::content_key`].
    joined: Vec<u8>,
    /// Lent by [`Self::with_ids_buffer`] (to the server's workers, `batch` and [`Self::ids_exact`]).
    ids_buffer: Vec<u64>,
    /// The features of recently seen words.
    memo: WordMemo,
}

thread_local! {
    static EXTRACTOR: RefCell<FeatureExtractor> = RefCell::default();
}

impl FeatureExtractor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` with this thread's own extractor, kept from call to call with its buffers and its
    /// memo of words (a fresh one is 256 KiB to fill). A call from within `f` gets a fresh one.
    pub fn with_thread_local<R>(f: impl FnOnce(&mut FeatureExtractor) -> R) -> R {
        EXTRACTOR.with(|cell| match cell.try_borrow_mut() {
            Ok(mut extractor) => f(&mut extractor),
            Err(_) => f(&mut FeatureExtractor::new()),
        })
    }

    /// The ids of the comment's features, deduplicated (each counts once per comment), in the order
    /// they were found.
    pub fn ids<'c>(&mut self, comment: impl Into<CommentRef<'c>>, out: &mut Vec<u64>) {
        self.ids_watched(comment, out, &mut ());
    }

    /// Runs `f` with this extractor and a vector kept with it for a comment's ids (one request's or
    /// one block's scoring allocates none).
    pub fn with_ids_buffer<R>(&mut self, f: impl FnOnce(&mut Self, &mut Vec<u64>) -> R) -> R {
        let mut ids = std::mem::take(&mut self.ids_buffer);
        let result = f(self, &mut ids);
        self.ids_buffer = ids;
        result
    }

    /// As [`Self::ids`], in a vector of their exact size (training keeps one per comment: growing
    /// it id by id would allocate several times and leave a quarter of it unused).
    pub fn ids_exact<'c>(&mut self, comment: impl Into<CommentRef<'c>>) -> Vec<u64> {
        self.with_ids_buffer(|extractor, ids| {
            extractor.ids(comment, ids);
            ids.clone()
        })
    }

    /// As [`Self::ids`], also handing every feature, with its description, to `watcher` (duplicates
    /// included): one pass both scores and explains.
    pub fn ids_watched<'c, W: FeatureSink>(
        &mut self,
        comment: impl Into<CommentRef<'c>>,
        out: &mut Vec<u64>,
        watcher: &mut W,
    ) {
        out.clear();
        let mut both = Watched { ids: out, watcher };
        self.extract(comment, &mut both);
        self.dedup.retain_first(out);
    }

    /// Describes a feature of the words `first..first + count` of the text last extracted, as
    /// handed to [`FeatureSink::add_words`].
    pub fn words_at(&self, kind: FeatureKind, first: usize, count: usize) -> Feature {
        describe_words(kind, &self.tokens, first, count)
    }

    /// A hash of the words of the text last extracted: comments that differ only in case, spacing,
    /// punctuation or obfuscation share it (used to keep duplicates on one side of a split). A text
    /// with no words (emoji, punctuation) is keyed by its normalized characters but for spaces, so
    /// "❤❤❤" and "😂" stay two texts instead of both being the empty one.
    pub fn content_key(&mut self) -> u64 {
        self.joined.clear();
        if self.tokens.is_empty() {
            for c in self.text.text.chars().filter(|c| !c.is_whitespace()) {
                let mut utf8 = [0; 4];
                self.joined
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            // Seeded apart from the words' hashes: a wordless text never shares a key with words.
            return xxhash_rust::xxh3::xxh3_64_with_seed(&self.joined, 1);
        }
        // The words, each followed by a space, hashed in one go (the same hash as fed word by word).
        for w in self.tokens.iter() {
            self.joined.extend_from_slice(w.as_bytes());
            self.joined.push(b' ');
        }
        xxhash_rust::xxh3::xxh3_64(&self.joined)
    }

    /// The comment's features with their descriptions, deduplicated by id, in the order of [`Self::ids`].
    pub fn described<'c>(&mut self, comment: impl Into<CommentRef<'c>>) -> Vec<(u64, Feature)> {
        let mut out: Vec<(u64, Feature)> = Vec::new();
        self.extract(comment, &mut out);
        let mut seen = std::collections::HashSet::new();
        out.retain(|(id, _)| seen.insert(*id));
        out
    }

    /// Emits every feature of `comment` into `sink` (duplicates included).
    pub fn extract<'c, S: FeatureSink>(
        &mut self,
        comment: impl Into<CommentRef<'c>>,
        sink: &mut S,
    ) {
        let comment = comment.into();
        let kind = comment.kind();
        let linkback = matches!(kind, CommentKind::Pingback | CommentKind::Trackback);

        normalize_into(head(comment.content), &mut self.text);
        let mut flags = self.text.obfuscation;
        tokenize_normalized(&self.text, &mut self.tokens, &mut flags);
        let links = links_in(&self.text.text, self.text.ascii, sink);

        self.words(sink);
        let (count, id) = bucket_links(links);
        sink.add(id, || Feature::new(FeatureKind::LinkCount, count));
        self.patterns(sink);
        shape(&self.text, flags, self.tokens.len(), sink);
        self.author(&comment, linkback, sink);

        let lowered;
        let (type_name, id) = match kind {
            CommentKind::Comment => fixed!(Type, "comment"),
            CommentKind::Pingback => fixed!(Type, "pingback"),
            CommentKind::Trackback => fixed!(Type, "trackback"),
            CommentKind::Other => {
                let name = comment.kind.unwrap_or("comment").trim();
                let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    lowered = name.to_ascii_lowercase();
                    lowered.as_str()
                } else {
                    name
                };
                (name, feature_id(FeatureKind::Type, name))
            }
        };
        sink.add(id, || Feature::new(FeatureKind::Type, type_name));

        if linkback {
            self.linkback(sink);
        }
        if let Some(title) = comment.post_title.filter(|t| !t.trim().is_empty()) {
            self.topic(title, linkback, sink);
        }
    }

    fn words<S: FeatureSink>(&mut self, sink: &mut S) {
        self.word_ids.clear();
        self.starts.clear();
        let tokens = &self.tokens;
        for (i, token) in tokens.iter().enumerate() {
            let word = self.memo.lookup(token, tokens.head(i));
            self.starts.push(word.start);
            self.word_ids.push(word.id);
            word.emit(tokens, i, sink);
        }
        // Word pairs, and word triples (each the previous pair and the next word).
        let mut pair = 0;
        for i in 1..self.word_ids.len() {
            if i >= 2 {
                let id = pair_id(FeatureKind::ThreeWords, pair, self.word_ids[i]);
                sink.add_words(id, FeatureKind::ThreeWords, tokens, i - 2, 3);
            }
            pair = pair_id(FeatureKind::Phrase, self.word_ids[i - 1], self.word_ids[i]);
            sink.add_words(pair, FeatureKind::Phrase, tokens, i - 1, 2);
        }
    }

    /// Phone numbers, money, emails and @-mentions.
    // Kept out of line, like the other parts below that run once a comment: inlined, they made the
    // scoring loop's code larger than a core's first-level instruction cache (1.3% less CPU apart).
    #[inline(never)]
    fn patterns<S: FeatureSink>(&self, sink: &mut S) {
        let text = &self.text.text;
        // A phone number has 9 digits at least.
        let digits = self.text.digits;
        if digits >= 9 && has_phone_number(text) {
            sink.add(const { fixed_id(FeatureKind::Phone, "") }, || {
                Feature::new(FeatureKind::Phone, "")
            });
        }
        if digits > 0 && has_money(text, self.text.ascii, &self.tokens) {
            sink.add(const { fixed_id(FeatureKind::Money, "") }, || {
                Feature::new(FeatureKind::Money, "")
            });
        }
        let bytes = text.as_bytes();
        let mut email = false;
        let mut mention = false;
        for i in memchr::memchr_iter(b'@', bytes) {
            let before = i > 0 && is_word_byte(bytes[i - 1]);
            let after = bytes.get(i + 1).is_some_and(|&b| is_word_byte(b));
            if before && after {
                email = true;
            } else if !before && after {
                mention = true;
            }
        }
        if email {
            sink.add(const { fixed_id(FeatureKind::EmailInText, "") }, || {
                Feature::new(FeatureKind::EmailInText, "")
            });
        }
        if mention {
            sink.add(const { fixed_id(FeatureKind::Mention, "") }, || {
                Feature::new(FeatureKind::Mention, "")
            });
        }
    }

    #[inline(never)]
    fn author<S: FeatureSink>(&mut self, comment: &CommentRef, linkback: bool, sink: &mut S) {
        if let Some(author) = comment.author {
            normalize_into(head(author), &mut self.side);
            let mut flags = Obfuscation::default();
            tokenize_normalized(&self.side, &mut self.side_tokens, &mut flags);
            let kind = if linkback {
                FeatureKind::LinkbackSiteWord
            } else {
                FeatureKind::AuthorWord
            };
            for word in self.side_tokens.iter() {
                sink.add(feature_id(kind, word), || Feature::new(kind, word));
            }
        }
        // Only a website given is evidence: whether a comment form asks for one at all differs from
        // site to site, so its absence says nothing about the comment.
        if let Some(host) = comment.author_url.and_then(host_of_url) {
            let (domain, tld) = domain_and_suffix(&host);
            let kind = if linkback {
                FeatureKind::LinkbackDomain
            } else {
                FeatureKind::AuthorDomain
            };
            sink.add(feature_id(kind, domain), || Feature::new(kind, domain));
            sink.add(feature_id(FeatureKind::AuthorTld, tld), || {
                Feature::new(FeatureKind::AuthorTld, tld)
            });
            if linkback {
                let own = comment.permalink.and_then(host_of_url);
                if own.is_some_and(|own| domain_and_suffix(&own).0 == domain) {
                    sink.add(
                        const { fixed_id(FeatureKind::LinkbackSameSite, "") },
                        || Feature::new(FeatureKind::LinkbackSameSite, ""),
                    );
                }
            }
        }
        if let Some(email) = comment.author_email {
            if let Some((_, domain)) = email.trim().rsplit_once('@') {
                let domain = domain.trim().to_ascii_lowercase();
                if !domain.is_empty() {
                    sink.add(feature_id(FeatureKind::EmailDomain, &domain), || {
                        Feature::new(FeatureKind::EmailDomain, domain.clone())
                    });
                }
            }
        }
    }

    #[inline(never)]
    fn linkback<S: FeatureSink>(&self, sink: &mut S) {
        let text = self.text.text.trim();
        let framed = |t: &str| t.starts_with("[...]") || t.starts_with("[..]");
        let shape = if framed(text) || text.ends_with("[...]") || text.starts_with("...") {
            "is an excerpt framed by [...]"
        } else {
            "is not an excerpt"
        };
        sink.add(feature_id(FeatureKind::LinkbackShape, shape), || {
            Feature::new(FeatureKind::LinkbackShape, shape)
        });
    }

    /// How many of the comment's words (4 letters or more) echo the article's title.
    #[inline(never)]
    fn topic<S: FeatureSink>(&mut self, title: &str, linkback: bool, sink: &mut S) {
        // Comments of one post come together in exports: the title's words are worked out once.
        if self.title != title {
            self.title.clear();
            self.title.push_str(title);
            normalize_into(head(title), &mut self.side);
            let mut flags = Obfuscation::default();
            tokenize_normalized(&self.side, &mut self.side_tokens, &mut flags);
            self.title_words.clear();
            for w in self.side_tokens.iter() {
                let ascii = w.is_ascii();
                if char_count_up_to(w, 4, ascii) >= 4 {
                    self.title_words.push(feature_id(
                        FeatureKind::WordStart,
                        prefix(w, WORD_START, ascii),
                    ));
                }
            }
            self.title_bloom = self.title_words.iter().fold(0, |m, &p| m | bloom_bits(p));
        }
        if self.title_words.is_empty() {
            return;
        }
        let mut shared = 0;
        self.seen.clear();
        for &p in &self.starts {
            // Most words are not the title's: two bits of a 64-bit mask tell nearly all of them
            // apart, without a branch on each word's length (0, for a short word, is no title word's).
            if bloom_bits(p) & self.title_bloom == bloom_bits(p)
                && self.title_words.contains(&p)
                && !self.seen.contains(&p)
            {
                self.seen.push(p);
                shared += 1;
                if shared == 2 {
                    break;
                }
            }
        }
        let n = self.tokens.len();
        let size = match n {
            0..=5 => 0,
            6..=15 => 1,
            _ => 2,
        };
        let overlap = shared.min(2);
        let id = TOPIC_IDS[usize::from(linkback)][size][overlap];
        let (size, overlap) = (TOPIC_SIZES[size], TOPIC_OVERLAPS[overlap]);
        let kind = if linkback {
            FeatureKind::LinkbackTopic
        } else {
            FeatureKind::Topic
        };
        let what = if linkback { "excerpt" } else { "comment" };
        sink.add(id, || {
            Feature::new(kind, format_compact!("{size} {what} that {overlap}"))
        });
    }
}

/// The two bits of a word beginning's id in a mask of the title's (chosen by its hash bits: the
/// kind is the same for all).
#[inline]
fn bloom_bits(id: u64) -> u64 {
    1 << (id % 64) | 1 << (id >> 6 & 63)
}

/// How long a comment is, for its relation to the post title.
const TOPIC_SIZES: [&str; 3] = ["short", "medium", "long"];
/// How many of its words it shares with the title.
const TOPIC_OVERLAPS: [&str; 3] = [
    "shares no word with it",
    "shares one word with it",
    "shares several words with it",
];
/// The topic features' ids, for a comment and a linkback, by size and overlap: each the pair of its
/// size and its overlap (worked out when compiling).
const TOPIC_IDS: [[[u64; 3]; 3]; 2] = {
    let mut ids = [[[0; 3]; 3]; 2];
    let kinds = [FeatureKind::Topic, FeatureKind::LinkbackTopic];
    let mut k = 0;
    while k < 2 {
        let mut s = 0;
        while s < 3 {
            let mut o = 0;
            while o < 3 {
                let kind = kinds[k];
                ids[k][s][o] = pair_id(
                    kind,
                    fixed_id(kind, TOPIC_SIZES[s]),
                    fixed_id(kind, TOPIC_OVERLAPS[o]),
                );
                o += 1;
            }
            s += 1;
        }
        k += 1;
    }
    ids
};

/// The features one word gives on its own, by id (0 for none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WordFeatures {
    /// The word, or the length bucket of a long number ("5-6" digits ...).
    id: u64,
    /// Its beginning: kept for words of 4 characters or more (to compare with the post title's),
    /// a feature for words longer than [`WORD_START`].
    start: u64,
    start_is_feature: bool,
    /// The ending of a long word.
    end: u64,
    /// The letters before trailing digits (`slot88` → `slot`).
    stem: u64,
    /// Letters run together with two digits or more: a brand-like name.
    brand: bool,
    /// A number of five digits or more: `id` is its length's.
    long_number: bool,
}

impl WordFeatures {
    fn of(token: &str) -> Self {
        // The beginnings of longer words tie inflected forms together in any language that
        // inflects at the end (subscribe, subscribed, subscribers; menang, menangkan). Words of 4
        // characters or more keep theirs to compare with the post title's.
        let ascii = token.is_ascii();
        let chars = char_count_up_to(token, LONG_WORD, ascii);
        let part_id = |kind| feature_id(kind, word_part(kind, token));
        let start = if chars >= 4 {
            part_id(FeatureKind::WordStart)
        } else {
            0
        };
        let all_digits = token.bytes().all(|b| b.is_ascii_digit());
        // Names run together from a word and a brand (tukangtoto, rajaslot, hokibet) share
        // their endings, as inflected words share their beginnings.
        let end = if chars >= LONG_WORD && !all_digits {
            part_id(FeatureKind::WordEnd)
        } else {
            0
        };
        // A number of five digits or more counts by its length, not its value.
        let long_number = all_digits && token.len() > 4;
        let id = part_id(if long_number {
            FeatureKind::NumberLength
        } else {
            FeatureKind::Word
        });
        let (mut stem_id, mut brand) = (0, false);
        if !all_digits && token.bytes().any(|b| b.is_ascii_digit()) {
            let stem = stem_of(token);
            if stem.len() >= 3 && stem.len() < token.len() {
                stem_id = part_id(FeatureKind::WordStem);
                brand = stem.chars().all(char::is_alphabetic) && token.len() - stem.len() >= 2;
            }
        }
        WordFeatures {
            id,
            start,
            start_is_feature: chars > WORD_START,
            end,
            stem: stem_id,
            brand,
            long_number,
        }
    }

    /// Hands the features of word `i` of `tokens` to `sink`.
    #[inline]
    fn emit<S: FeatureSink>(&self, tokens: &Tokens, i: usize, sink: &mut S) {
        if self.start_is_feature {
            sink.add_words(self.start, FeatureKind::WordStart, tokens, i, 1);
        }
        if self.end != 0 {
            sink.add_words(self.end, FeatureKind::WordEnd, tokens, i, 1);
        }
        let kind = if self.long_number {
            FeatureKind::NumberLength
        } else {
            FeatureKind::Word
        };
        sink.add_words(self.id, kind, tokens, i, 1);
        if self.stem != 0 {
            sink.add_words(self.stem, FeatureKind::WordStem, tokens, i, 1);
            if self.brand {
                sink.add(const { fixed_id(FeatureKind::BrandLike, "") }, || {
                    Feature::new(FeatureKind::BrandLike, "")
                });
            }
        }
    }
}

/// A word without its trailing digits.
fn stem_of(token: &str) -> &str {
    token.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Words up to this many bytes are remembered (nearly all words; a longer one is worked out anew).
const MEMO_WORD: usize = 23;
/// Slots in the memo of words: 4,096 of 64 bytes, 256 KiB (a quarter of a core's L2 cache here).
const MEMO_SLOTS: usize = 4096;

/// A word of up to [`MEMO_WORD`] bytes in three machine words: its bytes, zeros after them, and its
/// length in the top byte of the last word (which holds 7 bytes of the word at most). Two words are
/// the same when their keys are.
type MemoKey = [u64; 3];

/// The key of the word of `len` bytes (1 to [`MEMO_WORD`]) that `head` starts with.
#[inline]
fn memo_key(head: &[u8; PAD], len: usize) -> Option<MemoKey> {
    // Read in whole machine words from the word's place, what follows it masked off: bytes copied
    // one by one would take a loop, and stores read back at once wait on each other.
    let masks = KEY_MASKS.get(len).filter(|_| len > 0)?;
    let piece = |j: usize| u64::from_le_bytes(std::array::from_fn(|k| head[8 * j + k])) & masks[j];
    Some([piece(0), piece(1), piece(2) | (len as u64) << 56])
}

/// For each word length, which bytes of the three machine words of [`memo_key`] are the word's.
const KEY_MASKS: [[u64; 3]; MEMO_WORD + 1] = {
    let mut masks = [[0; 3]; MEMO_WORD + 1];
    let mut len = 0;
    while len <= MEMO_WORD {
        let mut byte = 0;
        while byte < len {
            masks[len][byte / 8] |= 0xff << (8 * (byte % 8));
            byte += 1;
        }
        len += 1;
    }
    masks
};

/// The slot a word's key names.
#[inline]
fn slot_index(key: &MemoKey) -> usize {
    let mixed = (key[0] ^ key[1].rotate_left(21) ^ key[2].rotate_left(42))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - MEMO_SLOTS.trailing_zeros())) as usize
}

/// A word and its features, in one cache line.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct MemoSlot {
    /// All zeros for a free slot (no word is empty).
    key: MemoKey,
    features: WordFeatures,
}

const _: () = assert!(std::mem::size_of::<MemoSlot>() == 64);

/// The features of recently seen words: words repeat (a few thousand make up most of any language's
/// text), and a word's features take up to four hashes and a look at each of its characters, where
/// finding it here takes one multiplication. Direct-mapped: a word takes the slot its key names,
/// replacing what was there; a slot is used only for the very word it holds, so the features are
/// always those [`WordFeatures::of`] gives.
#[derive(Default)]
struct WordMemo {
    slots: Option<Box<[MemoSlot; MEMO_SLOTS]>>,
}

impl WordMemo {
    /// The features of `token`, whose bytes `head` starts with ([`Tokens::head`]).
    #[inline]
    fn lookup(&mut self, token: &str, head: Option<&[u8; PAD]>) -> WordFeatures {
        let key = head.and_then(|head| memo_key(head, token.len()));
        let (Some(key), Some(slots)) = (key, self.slots.as_deref_mut()) else {
            return self.first(token, key);
        };
        let slot = &mut slots[slot_index(&key)];
        if slot.key == key {
            return slot.features;
        }
        let features = WordFeatures::of(token);
        *slot = MemoSlot { key, features };
        features
    }

    /// A word too long to remember, or the first word of all (the slots are made then).
    #[cold]
    fn first(&mut self, token: &str, key: Option<MemoKey>) -> WordFeatures {
        let features = WordFeatures::of(token);
        if let (Some(key), None) = (key, &self.slots) {
            let mut slots = vec![MemoSlot::default(); MEMO_SLOTS].into_boxed_slice();
            slots[slot_index(&key)] = MemoSlot { key, features };
            self.slots = slots.try_into().ok();
        }
        features
    }
}

/// Of a comment's text (and of its author's name and post title), only the first this many bytes are
/// read: four times the longest comment WordPress stores (64 KiB). Features cost about 36 bytes of
/// memory per byte of text, so a 16 MiB record took 600 MB to score; a longer text is junk or an attack,
/// and its first 256 KiB say what it is.
pub const MAX_TEXT_BYTES: usize = 256 << 10;

/// The first [`MAX_TEXT_BYTES`] of `text`, cut between characters.
fn head(text: &str) -> &str {
    &text[..text.floor_char_boundary(MAX_TEXT_BYTES)]
}

/// The words `first..first + count` with a space between each.
fn words_at(words: &Tokens, first: usize, count: usize) -> CompactString {
    let range = first..first + count;
    let mut out = CompactString::with_capacity(range.clone().map(|i| words.get(i).len() + 1).sum());
    for i in range {
        if i > first {
            out.push(' ');
        }
        out.push_str(words.get(i));
    }
    out
}

/// The number of characters in `word`, counting no further than `cap`. `ascii`: whether `word` is
/// ASCII (callers that look at a word several ways find out once).
fn char_count_up_to(word: &str, cap: usize, ascii: bool) -> usize {
    if ascii {
        word.len().min(cap)
    } else {
        word.chars().take(cap).count()
    }
}

/// The first `chars` characters of `word` (`ascii` as for [`char_count_up_to`]).
fn prefix(word: &str, chars: usize, ascii: bool) -> &str {
    if ascii {
        return &word[..word.len().min(chars)];
    }
    match word.char_indices().nth(chars) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

/// The last `chars` characters of `word` (`ascii` as for [`char_count_up_to`]).
fn suffix(word: &str, chars: usize, ascii: bool) -> &str {
    if ascii {
        return &word[word.len().saturating_sub(chars)..];
    }
    match word.char_indices().rev().nth(chars.saturating_sub(1)) {
        Some((i, _)) => &word[i..],
        None => word,
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn digit_length_bucket(len: usize) -> &'static str {
    match len {
        0..=6 => "5-6",
        7..=9 => "7-9",
        10..=13 => "10-13",
        _ => "14+",
    }
}

/// How many links, in words, and that feature's id.
fn bucket_links(n: usize) -> (&'static str, u64) {
    match n {
        0 => fixed!(LinkCount, "no links"),
        1 => fixed!(LinkCount, "one link"),
        2 => fixed!(LinkCount, "two links"),
        3..=5 => fixed!(LinkCount, "3-5 links"),
        _ => fixed!(LinkCount, "6 or more links"),
    }
}

/// Emits the domain and suffix of each link in the text; returns how many links there are.
#[inline(never)]
fn links_in<S: FeatureSink>(text: &str, ascii: bool, sink: &mut S) -> usize {
    let bytes = text.as_bytes();
    if memchr::memchr(b'.', bytes).is_none() {
        return 0;
    }
    let mut count = 0;
    // The words (between whitespace) that hold a dot: found from the dots, so the rest of the text is
    // not decoded character by character (nor at all, in ASCII: `char::is_whitespace` of an ASCII
    // character is this).
    let space = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
    let mut from = 0;
    let dotted = std::iter::from_fn(|| {
        let dot = from + memchr::memchr(b'.', &bytes[from..])?;
        let (start, end) = if ascii {
            let start = bytes[..dot].iter().rposition(space).map_or(0, |i| i + 1);
            let end = bytes[dot..]
                .iter()
                .position(space)
                .map_or(text.len(), |i| dot + i);
            (start, end)
        } else {
            let start = text[..dot].rfind(char::is_whitespace).map_or(0, |i| {
                i + text[i..].chars().next().map_or(1, char::len_utf8)
            });
            let end = text[dot..]
                .find(char::is_whitespace)
                .map_or(text.len(), |i| dot + i);
            (start, end)
        };
        from = end;
        Some(&text[start..end])
    });
    // A link's host ends in a dot and a letter (`.com`): words without one (a sentence's last word)
    // hold no link, and are not split up and looked at.
    let could_link = |w: &&str| {
        w.as_bytes()
            .windows(2)
            .any(|p| p[0] == b'.' && (p[1].is_ascii_alphabetic() || !p[1].is_ascii()))
    };
    let chunks = dotted
        .filter(could_link)
        .flat_map(|w| w.split(['(', ')', '<', '>', '"', '\'', '[', ']', '{', '}', ',', '|']));
    for chunk in chunks {
        let Some(host) = link_host(chunk) else {
            continue;
        };
        count += 1;
        let (domain, tld) = domain_and_suffix(host);
        sink.add(feature_id(FeatureKind::LinkDomain, domain), || {
            Feature::new(FeatureKind::LinkDomain, domain)
        });
        sink.add(feature_id(FeatureKind::LinkTld, tld), || {
            Feature::new(FeatureKind::LinkTld, tld)
        });
    }
    count
}

/// The host of a chunk of text that is a link: with a scheme, starting `www.`, or a bare domain
/// whose suffix is a known one (`slotgacor88.xyz`, `shop.example.com/x`).
fn link_host(chunk: &str) -> Option<&str> {
    if chunk.len() < 4 || !chunk.contains('.') {
        return None;
    }
    let (explicit, rest) = if let Some(r) = chunk
        .strip_prefix("https://")
        .or_else(|| chunk.strip_prefix("http://"))
    {
        (true, r)
    } else if let Some(r) = chunk.strip_prefix("//") {
        (true, r)
    } else {
        (chunk.starts_with("www."), chunk)
    };
    link_host_of(rest, explicit)
}

/// The host at the start of `rest` (a URL without its scheme); a host without a scheme or `www.` must
/// end in a known public suffix.
fn link_host_of(rest: &str, explicit: bool) -> Option<&str> {
    // Byte by byte: every character looked for is ASCII; only a host that is not ASCII is checked
    // character by character.
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b':'))
        .unwrap_or(rest.len());
    let host = rest[..end].trim_end_matches(['.', '!', ';']);
    let host = match memchr::memrchr(b'@', host.as_bytes()) {
        Some(at) => &host[at + 1..],
        None => host,
    };
    if host.len() < 4 || memchr::memchr(b'.', host.as_bytes()).is_none() {
        return None;
    }
    let all = |text: &str, ascii: fn(u8) -> bool, other: fn(char) -> bool| {
        if text.is_ascii() {
            text.bytes().all(ascii)
        } else {
            text.chars().all(other)
        }
    };
    let host_char = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let host_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    if !all(host, host_byte, host_char)
        || host.starts_with(['.', '-'])
        || host.as_bytes().windows(2).any(|w| w == b"..")
    {
        return None;
    }
    let last = memchr::memrchr(b'.', host.as_bytes()).map_or(host, |dot| &host[dot + 1..]);
    if last.len() < 2 || !all(last, |b| b.is_ascii_alphabetic(), char::is_alphabetic) {
        return None;
    }
    if !explicit && !psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known()) {
        return None;
    }
    Some(host)
}

/// The host of a URL as found in `author_url` (scheme optional).
fn host_of_url(url: &str) -> Option<Cow<'_, str>> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let after_scheme = |url: &str| -> usize {
        match url.find("://") {
            Some(i) => i + 3,
            None if url.starts_with("//") => 2,
            None => 0,
        }
    };
    if url.bytes().any(|b| b.is_ascii_uppercase()) || !url.is_ascii() {
        let lower = url.to_lowercase();
        let host = link_host_of(&lower[after_scheme(&lower)..], true)?;
        Some(Cow::Owned(host.to_owned()))
    } else {
        link_host_of(&url[after_scheme(url)..], true).map(Cow::Borrowed)
    }
}

/// The registrable domain (`slotgacor88.xyz` for `www.slotgacor88.xyz`) and the public suffix.
fn domain_and_suffix(host: &str) -> (&str, &str) {
    let host = host.trim_end_matches('.');
    // Both are ends of the host: one lookup finds the domain and, with it, its suffix.
    let end = |len: usize| host.get(host.len().saturating_sub(len)..);
    match psl::domain(host.as_bytes()) {
        Some(domain) => (
            end(domain.as_bytes().len()).unwrap_or(host),
            end(domain.suffix().as_bytes().len()).unwrap_or(host),
        ),
        None => (
            host,
            psl::suffix(host.as_bytes())
                .and_then(|s| end(s.as_bytes().len()))
                .unwrap_or_else(|| host.rsplit('.').next().unwrap_or(host)),
        ),
    }
}

/// 9 to 15 digits in groups separated by spaces, dashes, dots or parentheses, maybe after a `+`.
fn has_phone_number(text: &str) -> bool {
    let mut digits = 0;
    let mut groups = 0;
    let mut in_group = false;
    let mut gap = 0;
    for &b in text.as_bytes() {
        if b.is_ascii_digit() {
            digits += 1;
            if !in_group {
                groups += 1;
                in_group = true;
            }
            gap = 0;
        } else if digits > 0 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/') && gap < 2 {
            in_group = false;
            gap += 1;
        } else if b == b'+' && digits == 0 {
            gap = 0;
        } else if digits > 0 {
            if (9..=15).contains(&digits) && groups <= 5 {
                return true;
            }
            digits = 0;
            groups = 0;
            in_group = false;
            gap = 0;
        }
    }
    (9..=15).contains(&digits) && groups <= 5
}

/// Currency signs before digits, or amounts written with a currency word or a thousands suffix.
fn has_money(text: &str, ascii: bool, tokens: &Tokens) -> bool {
    let mut chars = text.chars().peekable();
    let signs = !ascii || memchr::memchr(b'$', text.as_bytes()).is_some();
    while let Some(c) = chars.next().filter(|_| signs) {
        if matches!(
            c,
            '$' | '£' | '€' | '¥' | '₹' | '₱' | '฿' | '₩' | '₫' | '₺' | '₽' | '₦'
        ) {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek().is_some_and(char::is_ascii_digit) {
                return true;
            }
        }
    }
    // Money in words is always next to a token that starts with a digit: only those are looked at,
    // and their neighbours.
    let starts_with_digit = |t: &[u8]| t.first().is_some_and(u8::is_ascii_digit);
    for i in (0..tokens.len()).filter(|&i| starts_with_digit(tokens.bytes(i))) {
        let t = tokens.bytes(i);
        let digits = t.iter().take_while(|b| b.is_ascii_digit()).count();
        // A number with a unit attached (`50k`, `100rb`, `2jt`): the only tokens starting with a digit
        // that can say money.
        if let b"k" | b"rb" | b"jt" | b"m" | b"usd" | b"juta" | b"ribu" | b"rp" = &t[digits..] {
            return true;
        }
        // A currency word (7 letters at most) before a number, or after a number of digits only.
        let word =
            |j: usize| Some(tokens.bytes(j)).filter(|w| w.len() <= 7 && !starts_with_digit(w));
        if let Some(b"rp" | b"usd" | b"idr" | b"eur" | b"gbp" | b"brl" | b"r" | b"us") =
            i.checked_sub(1).and_then(word)
        {
            return true;
        }
        if digits == t.len() && i + 1 < tokens.len() {
            if let Some(
                b"usd" | b"dollars" | b"rupiah" | b"reais" | b"euros" | b"ribu" | b"juta" | b"jt"
                | b"rb" | b"pounds" | b"bucks",
            ) = word(i + 1)
            {
                return true;
            }
        }
    }
    false
}

/// Features of the comment's form rather than its words.
#[inline(never)]
fn shape<S: FeatureSink>(text: &NormalizedText, flags: Obfuscation, words: usize, sink: &mut S) {
    let (length, id) = match words {
        0 => fixed!(Length, "no words"),
        1 => fixed!(Length, "one word"),
        2 => fixed!(Length, "two words"),
        3..=4 => fixed!(Length, "3-4 words"),
        5..=8 => fixed!(Length, "5-8 words"),
        9..=16 => fixed!(Length, "9-16 words"),
        17..=32 => fixed!(Length, "17-32 words"),
        33..=64 => fixed!(Length, "33-64 words"),
        _ => fixed!(Length, "over 64 words"),
    };
    sink.add(id, || Feature::new(FeatureKind::Length, length));
    for (flag, name) in [
        (Obfuscation::STYLED, "styled Unicode letters"),
        (Obfuscation::ZERO_WIDTH, "hidden zero-width characters"),
        (
            Obfuscation::MIXED_SCRIPT,
            "look-alike letters from other alphabets",
        ),
        (Obfuscation::SPACED, "letters spaced out"),
        (Obfuscation::STRETCHED, "letters stretched"),
        // Not `LEET`: Indonesian "alay" writing (`4ku s4y4ng k4mu`) puts digits for letters innocently;
        // the folded words are evidence enough.
    ] {
        if flags.has(flag) {
            sink.add(feature_id(FeatureKind::Obfuscation, name), || {
                Feature::new(FeatureKind::Obfuscation, name)
            });
        }
    }
    if text.is_shouting() {
        sink.add(const { fixed_id(FeatureKind::Shouting, "") }, || {
            Feature::new(FeatureKind::Shouting, "")
        });
    }
    let bytes = text.text.as_bytes();
    if memchr::memchr_iter(b'!', bytes).any(|i| bytes.get(i + 1) == Some(&b'!')) {
        sink.add(const { fixed_id(FeatureKind::Exclaiming, "") }, || {
            Feature::new(FeatureKind::Exclaiming, "")
        });
    }
    if !text.ascii
        && text
            .text
            .chars()
            .any(|c| matches!(c, '\u{1F300}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{1F1E6}'..='\u{1F1FF}'))
    {
        sink.add(const { fixed_id(FeatureKind::Emoji, "") }, || {
            Feature::new(FeatureKind::Emoji, "")
        });
    }
    if text.had_html {
        sink.add(const { fixed_id(FeatureKind::Html, "") }, || {
            Feature::new(FeatureKind::Html, "")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::comment::Comment;

    fn kinds(comment: &Comment) -> Vec<Feature> {
        FeatureExtractor::new()
            .described(comment)
            .into_iter()
            .map(|(_, f)| f)
            .collect()
    }

    fn has(features: &[Feature], kind: FeatureKind, value: &str) -> bool {
        features.iter().any(|f| f.kind == kind && f.value == value)
    }

    #[test]
    fn ids_worked_out_when_compiling_are_the_runtime_ones() {
        for kind in [
            FeatureKind::Length,
            FeatureKind::Type,
            FeatureKind::BrandLike,
        ] {
            for value in [
                "",
                "no words",
                "comment",
                "a longer value of over sixteen bytes",
                "日本",
            ] {
                assert_eq!(
                    fixed_id(kind, value),
                    feature_id(kind, value),
                    "{kind:?} {value}"
                );
            }
        }
        for (k, kind) in [FeatureKind::Topic, FeatureKind::LinkbackTopic]
            .into_iter()
            .enumerate()
        {
            for (s, size) in TOPIC_SIZES.into_iter().enumerate() {
                for (o, overlap) in TOPIC_OVERLAPS.into_iter().enumerate() {
                    let id = pair_id(kind, feature_id(kind, size), feature_id(kind, overlap));
                    assert_eq!(TOPIC_IDS[k][s][o], id);
                }
            }
        }
    }

    #[test]
    fn the_memo_of_words_gives_what_working_them_out_gives() {
        // Enough words that many share a slot (4,096), of every length around the 8-byte steps of
        // the key and the longest remembered (23 bytes), in several scripts, with digits.
        let stems = ["a", "slot", "menang", "gacor", "kébab", "日本", "раз", "x"];
        let mut words = Vec::new();
        for i in 0..12_000usize {
            let stem = stems[i % stems.len()];
            let word = format!("{}{}", stem.repeat(1 + i % 7), i / 3);
            words.push(word);
        }
        words.extend(
            [
                "abcdefgh",
                "abcdefghi",
                "abcdefghijklmnop",
                "abcdefghijklmnopq",
            ]
            .map(String::from),
        );
        words.push("z".repeat(23));
        words.push("z".repeat(24));
        let mut memo = WordMemo::default();
        let mut keys = std::collections::HashMap::new();
        // Twice over, so that words are found as well as missed, some after their slot was taken.
        for (n, word) in words
            .iter()
            .chain(&words)
            .chain(words.iter().rev())
            .enumerate()
        {
            // What follows a word in the buffer varies: it must not count.
            let mut head = word.as_bytes().to_vec();
            head.extend((0..PAD).map(|k| [0, b'a', b'7', 0xff][(n + k) % 4]));
            let head = head.first_chunk();
            assert_eq!(memo.lookup(word, head), WordFeatures::of(word), "{word}");
            if let Some(key) = head.and_then(|head| memo_key(head, word.len())) {
                assert_eq!(*keys.entry(key).or_insert_with(|| word.clone()), *word);
            }
        }
        assert!(keys.len() > 4096, "{} words remembered", keys.len());
        // Nor does it change the word's key (the memo would miss).
        for word in words.iter().filter(|w| w.len() <= MEMO_WORD) {
            let key = |tail: u8| {
                let mut head = word.as_bytes().to_vec();
                head.resize(word.len() + PAD, tail);
                head.first_chunk()
                    .and_then(|head| memo_key(head, word.len()))
            };
            assert!(key(0).is_some());
            assert_eq!(key(0), key(0xff), "{word}");
        }
    }

    #[test]
    fn content_keys_tell_texts_apart_by_their_words_or_else_their_characters() {
        let mut fx = FeatureExtractor::new();
        let mut key = |text: &str| {
            fx.ids(&Comment::from_text(text), &mut Vec::new());
            fx.content_key()
        };
        assert_eq!(key("Great <b>video</b>!!"), key("great   VIDEO"));
        assert_eq!(key("❤ ❤❤"), key("❤❤❤"));
        let wordless = [key("❤❤❤"), key("😂"), key("!!!"), key("")];
        for (i, a) in wordless.iter().enumerate() {
            for b in &wordless[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(key("😂 lol"), key("😂"));
    }

    #[test]
    fn only_the_first_256_kib_of_a_text_are_read() {
        let mut fx = FeatureExtractor::new();
        let words = |n: usize| {
            (0..n)
                .map(|i| format!("w{i:06}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // 8 bytes a word: the words that fit in 256 KiB, and many more.
        let fits = words(MAX_TEXT_BYTES / 8);
        let long = words(MAX_TEXT_BYTES / 8 * 4);
        let ids = |fx: &mut FeatureExtractor, text: &str| {
            let mut out = Vec::new();
            fx.ids(&Comment::from_text(text), &mut out);
            out
        };
        let head_ids = ids(&mut fx, &fits);
        assert_eq!(ids(&mut fx, &long), head_ids);
        // A cut inside a character falls before it.
        let text = format!("{}é tail", "a".repeat(MAX_TEXT_BYTES - 1));
        assert_eq!(head(&text).len(), MAX_TEXT_BYTES - 1);
        assert_eq!(head("short é"), "short é");
    }

    #[test]
    fn links_give_domains_and_suffixes() {
        let c = Comment::from_text(
            "daftar di https://www.SlotGacor88.xyz/daftar atau toko.example.co.id",
        );
        let f = kinds(&c);
        assert!(has(&f, FeatureKind::LinkDomain, "slotgacor88.xyz"));
        assert!(has(&f, FeatureKind::LinkTld, "xyz"));
        assert!(has(&f, FeatureKind::LinkDomain, "example.co.id"));
        assert!(has(&f, FeatureKind::LinkCount, "two links"));
        // Any whitespace ends a link, also one NFKC leaves as it is (U+1680, three bytes in UTF-8).
        let f = kinds(&Comment::from_text(
            "lihat\u{1680}slotgacor88.xyz/a.b\u{1680}dan\u{1680}toko.example.co.id.",
        ));
        assert!(has(&f, FeatureKind::LinkDomain, "slotgacor88.xyz"));
        assert!(has(&f, FeatureKind::LinkDomain, "example.co.id"));
        assert!(has(&f, FeatureKind::LinkCount, "two links"));
        // And every ASCII whitespace: tab, line feed, vertical tab, form feed, carriage return.
        let f = kinds(&Comment::from_text(
            "a\tslot88.xyz\nexample.com\x0bexample.org\x0cexample.net\rexample.io ok.",
        ));
        for domain in [
            "slot88.xyz",
            "example.com",
            "example.org",
            "example.net",
            "example.io",
        ] {
            assert!(has(&f, FeatureKind::LinkDomain, domain), "{domain}");
        }
        assert!(has(&f, FeatureKind::LinkCount, "3-5 links"));
    }

    #[test]
    fn domain_and_suffix_are_the_public_suffix_lists() {
        for host in [
            "www.slotgacor88.xyz",
            "toko.example.co.id",
            "example.co.uk",
            "co.uk",
            "xyz",
            "a.b.c.blogspot.com",
            "shop.example.unknowntld",
            "bücher.example.de",
            "example.com.",
            "localhost.localdomain",
        ] {
            let trimmed = host.trim_end_matches('.');
            let domain = psl::domain_str(trimmed).unwrap_or(trimmed);
            let suffix = psl::suffix_str(trimmed).unwrap_or("?");
            assert_eq!(domain_and_suffix(host), (domain, suffix), "{host}");
        }
    }

    #[test]
    fn sentence_ends_are_not_links() {
        let f = kinds(&Comment::from_text("great post.thanks a lot... e.g. this"));
        assert!(has(&f, FeatureKind::LinkCount, "no links"));
    }

    #[test]
    fn phone_numbers_and_money_are_recognised() {
        let f = kinds(&Comment::from_text("Call +1-888-555-0199 now, only $20"));
        assert!(has(&f, FeatureKind::Phone, ""));
        assert!(has(&f, FeatureKind::Money, ""));
        let f = kinds(&Comment::from_text("wa 0812 3344 5566 depo 10k"));
        assert!(has(&f, FeatureKind::Phone, ""));
        assert!(has(&f, FeatureKind::Money, ""));
        let f = kinds(&Comment::from_text("in 2019 I paid 30 for it"));
        assert!(!has(&f, FeatureKind::Phone, ""));
        assert!(!has(&f, FeatureKind::Money, ""));
        // Money in words: a currency word before a number, a unit after a number of digits only or
        // attached to it; at either end of the text too. Not: the word on the wrong side, a number
        // with letters before its unit word, words that are not currency words.
        let money = |text: &str| has(&kinds(&Comment::from_text(text)), FeatureKind::Money, "");
        for text in [
            "rp 50000",
            "only rp 50.000 today",
            "50000 rupiah",
            "send 20 bucks now",
            "100rb",
            "depo 2jt",
            "harga idr 10",
            "dapat 5 juta",
        ] {
            assert!(money(text), "{text}");
        }
        for text in [
            "50000 rp",
            "rupiah 50000",
            "bucks 20",
            "a4 dollars",
            "100 rupiahs",
            "2 kilograms",
            "no 10 here",
        ] {
            assert!(!money(text), "{text}");
        }
    }

    #[test]
    fn styled_brand_names_give_plain_words_and_a_brand_feature() {
        let f = kinds(&Comment::from_text("gas di 𝐌𝐄𝐆𝐀𝐁𝐄𝐓𝟗𝟗"));
        assert!(has(&f, FeatureKind::Word, "megabet99"));
        assert!(has(&f, FeatureKind::WordStem, "megabet"));
        assert!(has(&f, FeatureKind::BrandLike, ""));
        assert!(has(&f, FeatureKind::Obfuscation, "styled Unicode letters"));
    }

    #[test]
    fn long_words_give_their_endings_in_any_script() {
        let f = kinds(&Comment::from_text(
            "bangga liat TUKANGTOTO comeback, main di rajatoto 081233445566 kemenangan",
        ));
        assert!(has(&f, FeatureKind::WordEnd, "toto"));
        assert!(has(&f, FeatureKind::WordEnd, "ngan"));
        // Eight letters are enough; shorter words and numbers give none.
        assert!(has(&f, FeatureKind::WordEnd, "back"));
        assert!(!has(&f, FeatureKind::WordEnd, "liat"));
        assert!(!has(&f, FeatureKind::WordEnd, "5566"));
        let f = kinds(&Comment::from_text("доставкапиццы"));
        assert!(has(&f, FeatureKind::WordEnd, "иццы"));
        assert_eq!(suffix("é", 4, false), "é");
    }

    #[test]
    fn pingbacks_get_their_own_features() {
        let c = Comment {
            content: "[&hellip;] jasa joki rank murah [&hellip;]".into(),
            author: Some("elojob".into()),
            author_url: Some("https://elojob.example.net/x".into()),
            kind: Some("pingback".into()),
            post_title: Some("Japan's cyber diplomacy".into()),
            ..Comment::default()
        };
        let f = kinds(&c);
        assert!(has(
            &f,
            FeatureKind::LinkbackShape,
            "is an excerpt framed by [...]"
        ));
        assert!(has(&f, FeatureKind::LinkbackSiteWord, "elojob"));
        assert!(has(&f, FeatureKind::LinkbackDomain, "example.net"));
        assert!(has(
            &f,
            FeatureKind::LinkbackTopic,
            "short excerpt that shares no word with it"
        ));
        let reason = f
            .iter()
            .find(|x| x.kind == FeatureKind::LinkbackTopic)
            .map(Feature::describe);
        assert_eq!(
            reason.as_deref(),
            Some("relation of the pingback's excerpt to the article's title: short excerpt that shares no word with it")
        );
        assert!(has(&f, FeatureKind::Type, "pingback"));
    }

    #[test]
    fn topic_overlap_uses_word_beginnings() {
        let c = Comment {
            content: "Japanese diplomacy in cyberspace is underrated".into(),
            post_title: Some("Japan's cyber diplomatic push".into()),
            ..Comment::default()
        };
        let f = kinds(&c);
        assert!(has(
            &f,
            FeatureKind::Topic,
            "medium comment that shares several words with it"
        ));
    }

    #[test]
    fn ids_are_unique_and_match_descriptions() {
        let c = Comment::from_text("buy buy buy now now buy now");
        let mut ids = Vec::new();
        let mut ex = FeatureExtractor::new();
        ex.ids(&c, &mut ids);
        let described: Vec<u64> = ex.described(&c).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, described);
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        // words buy, now; pairs "buy buy", "buy now", "now now", "now buy"; triples "buy buy buy",
        // "buy buy now", "buy now now", "now now buy", "now buy now"; and the rest once each
        assert!(ids.len() < 2 + 4 + 5 + 12);
        // Pairs and triples are deduplicated only when a word repeats: also when two words share one
        // id (numbers of five digits by their length), also with an extractor that saw other texts.
        for text in [
            "call 12345 now, call 67890 now",
            "11111 22222 33333 44444",
            "alpha beta gamma delta",
            "ab cd ab cd ab cd",
            "one two three one two three",
        ] {
            let c = Comment::from_text(text);
            ex.ids(&c, &mut ids);
            let described: Vec<u64> = ex.described(&c).into_iter().map(|(id, _)| id).collect();
            assert_eq!(ids, described, "{text}");
        }
    }

    #[test]
    fn ids_carry_their_kind_and_word_triples_are_features() {
        let c = Comment {
            author: Some("Toko Obat".into()),
            author_url: Some("https://obat.example.id/beli".into()),
            post_title: Some("Sourdough starter from scratch".into()),
            ..Comment::from_text(
                "Call 0812-3344-5566 now: 𝐆𝐀𝐂𝐎𝐑 slot88 at https://gacor.example.com, starter tips!",
            )
        };
        let described = FeatureExtractor::new().described(&c);
        let seen: std::collections::HashSet<usize> =
            described.iter().map(|(id, _)| kind_index(*id)).collect();
        assert!(seen.len() >= 12, "{} kinds", seen.len());
        for (id, feature) in &described {
            assert_eq!(kind_index(*id), feature.kind as usize, "{feature:?}");
            assert!(kind_index(*id) > 0 && kind_index(*id) < KIND_SLOTS);
        }
        let f = kinds(&Comment::from_text("Great article, thanks a lot"));
        assert!(has(&f, FeatureKind::ThreeWords, "great article thanks"));
        assert!(has(&f, FeatureKind::ThreeWords, "thanks a lot"));
        assert!(!has(&f, FeatureKind::ThreeWords, "article thanks"));
        assert_eq!(
            f.iter()
                .filter(|f| f.kind == FeatureKind::ThreeWords)
                .count(),
            3
        );
    }
}
