//! The comment: what blog software sends for scoring and what a labeled corpus holds.
//!
//! Field names follow Akismet's without the `comment_` prefix. Unknown fields are ignored, so a
//! richer export can be fed in as it is.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// What a moderator decided about a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Ham,
    Spam,
}

/// A label is the string `"spam"` or `"ham"`. Written by hand because serde_json reads a derived enum
/// from a string or an object only, and anything else (`"label": 5`) was a syntax error, as if the JSON
/// were broken, where it is a wrong value.
impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelVisitor;
        impl Visitor<'_> for LabelVisitor {
            type Value = Label;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"spam\" or \"ham\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Label, E> {
                match v {
                    "spam" => Ok(Label::Spam),
                    "ham" => Ok(Label::Ham),
                    _ => Err(E::unknown_variant(v, &["spam", "ham"])),
                }
            }
        }
        deserializer.deserialize_str(LabelVisitor)
    }
}

impl Label {
    /// `true` for spam: the positive class of every metric.
    pub fn is_spam(self) -> bool {
        self == Label::Spam
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Ham => "ham",
            Label::Spam => "spam",
        }
    }
}

impl std::str::FromStr for Label {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spam" => Ok(Label::Spam),
            "ham" => Ok(Label::Ham),
            other => Err(format!("label must be \"spam\" or \"ham\", not {other:?}")),
        }
    }
}

/// One comment, pingback or trackback: a JSON object (see [`object`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Comment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The text of the comment (required; may hold HTML).
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_url: Option<String>,
    /// comment, pingback, trackback, reply, forum-post, contact-form, or any other string.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// Title of the article the comment was posted under: tells an off-topic ad from a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// When it was posted, as the source wrote it (ISO 8601 or `YYYY-MM-DD hh:mm:ss`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The id of the comment it replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Training data only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

impl Serialize for Comment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The derived code (`remote = "Self"` makes it an inherent function).
        Comment::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Comment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object(deserializer)
    }
}

impl<'de> FromFields<'de> for Comment {
    fn from_fields<D: Deserializer<'de>>(fields: D) -> Result<Self, D::Error> {
        Comment::deserialize(fields)
    }
}

/// A type read from the fields of a JSON object by serde's derived code.
trait FromFields<'de>: Sized {
    fn from_fields<D: Deserializer<'de>>(fields: D) -> Result<Self, D::Error>;
}

/// Reads a comment from a JSON object only. serde's derived code also takes an array of the fields in
/// their order, so `["1", "text"]` was read as a comment with id `1`: a shape no client sends, more
/// likely a mistake than a comment.
fn object<'de, D: Deserializer<'de>, T: FromFields<'de>>(deserializer: D) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);
    impl<'de, T: FromFields<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a comment (a JSON object)")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_fields(MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

/// The comment types that get features of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    Comment,
    Pingback,
    Trackback,
    Other,
}

impl Comment {
    /// A comment with only its text, as `saring score --text` builds it.
    pub fn from_text(text: impl Into<String>) -> Self {
        Comment {
            content: text.into(),
            ..Comment::default()
        }
    }

    /// The type, normalised: an empty or missing type is an ordinary comment.
    pub fn kind(&self) -> CommentKind {
        CommentRef::from(self).kind()
    }

    /// Pingbacks and trackbacks are notifications from another site, not a reader's words.
    pub fn is_linkback(&self) -> bool {
        CommentRef::from(self).is_linkback()
    }
}

/// The fields of a comment that features, scores and outputs read, borrowed from wherever the comment
/// is held: a [`Comment`], or a [`BorrowedComment`] parsed from a line without copying its strings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommentRef<'a> {
    pub id: Option<&'a str>,
    pub content: &'a str,
    pub author: Option<&'a str>,
    pub author_email: Option<&'a str>,
    pub author_url: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub permalink: Option<&'a str>,
    pub post_title: Option<&'a str>,
    pub label: Option<Label>,
}

impl<'a> From<&'a Comment> for CommentRef<'a> {
    fn from(c: &'a Comment) -> Self {
        CommentRef {
            id: c.id.as_deref(),
            content: &c.content,
            author: c.author.as_deref(),
            author_email: c.author_email.as_deref(),
            author_url: c.author_url.as_deref(),
            kind: c.kind.as_deref(),
            permalink: c.permalink.as_deref(),
            post_title: c.post_title.as_deref(),
            label: c.label,
        }
    }
}

impl<'a> From<&'a BorrowedComment<'_>> for CommentRef<'a> {
    fn from(c: &'a BorrowedComment<'_>) -> Self {
        let text = |t: &'a Option<borrowed::Text<'_>>| t.as_ref().map(|t| &*t.0);
        CommentRef {
            id: text(&c.id),
            content: &c.content.0,
            author: text(&c.author),
            author_email: text(&c.author_email),
            author_url: text(&c.author_url),
            kind: text(&c.kind),
            permalink: text(&c.permalink),
            post_title: text(&c.post_title),
            label: c.label,
        }
    }
}

impl CommentRef<'_> {
    /// The type, normalised: an empty or missing type is an ordinary comment.
    pub fn kind(&self) -> CommentKind {
        match self.kind.map(str::trim) {
            None | Some("") => CommentKind::Comment,
            Some(t) if t.eq_ignore_ascii_case("comment") => CommentKind::Comment,
            Some(t) if t.eq_ignore_ascii_case("pingback") => CommentKind::Pingback,
            Some(t) if t.eq_ignore_ascii_case("trackback") => CommentKind::Trackback,
            Some(_) => CommentKind::Other,
        }
    }

    /// Pingbacks and trackbacks are notifications from another site, not a reader's words.
    pub fn is_linkback(&self) -> bool {
        matches!(self.kind(), CommentKind::Pingback | CommentKind::Trackback)
    }
}

/// A [`Comment`] read from JSON text that outlives it: the strings without escapes stay in the text
/// instead of being copied (scoring or training from JSONL spent a sixth of its time on copying and
/// freeing them). The same fields, the same rules and the same errors as [`Comment`]'s.
pub use borrowed::Comment as BorrowedComment;

mod borrowed {
    use super::*;

    /// Named `Comment` for serde's messages, which name the type: errors read as a `Comment`'s. The
    /// fields nothing reads (`_user_ip` ...) are there to be checked as a `Comment` checks them.
    #[derive(Debug, Deserialize)]
    #[serde(remote = "Self")]
    pub struct Comment<'a> {
        #[serde(borrow)]
        pub(super) id: Option<Text<'a>>,
        #[serde(borrow)]
        pub(super) content: Text<'a>,
        #[serde(borrow)]
        pub(super) author: Option<Text<'a>>,
        #[serde(borrow)]
        pub(super) author_email: Option<Text<'a>>,
        #[serde(borrow)]
        pub(super) author_url: Option<Text<'a>>,
        #[serde(borrow, rename = "type")]
        pub(super) kind: Option<Text<'a>>,
        #[serde(rename = "user_ip")]
        _user_ip: Option<Checked>,
        #[serde(rename = "user_agent")]
        _user_agent: Option<Checked>,
        #[serde(rename = "referrer")]
        _referrer: Option<Checked>,
        #[serde(borrow)]
        pub(super) permalink: Option<Text<'a>>,
        #[serde(borrow)]
        pub(super) post_title: Option<Text<'a>>,
        #[serde(rename = "lang")]
        _lang: Option<Checked>,
        #[serde(rename = "date")]
        _date: Option<Checked>,
        #[serde(rename = "parent")]
        _parent: Option<Checked>,
        pub(super) label: Option<Label>,
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Comment<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            object(deserializer)
        }
    }

    impl<'de: 'a, 'a> FromFields<'de> for Comment<'a> {
        fn from_fields<D: Deserializer<'de>>(fields: D) -> Result<Self, D::Error> {
            Comment::deserialize(fields)
        }
    }

    /// A string nothing reads, checked as a `Comment` checks it (a string) and not kept: the comment
    /// stays small to move around.
    #[derive(Debug)]
    pub(super) struct Checked;

    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct CheckedVisitor;
            impl Visitor<'_> for CheckedVisitor {
                type Value = Checked;

                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string")
                }

                fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                    Ok(Checked)
                }
            }
            deserializer.deserialize_str(CheckedVisitor)
        }
    }

    /// A string of JSON text: borrowed from it, or decoded when it held escapes.
    #[derive(Debug)]
    pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct TextVisitor;
            impl<'de> Visitor<'de> for TextVisitor {
                type Value = Cow<'de, str>;

                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    // As serde says it for a `String`, so errors read the same as a `Comment`'s.
                    f.write_str("a string")
                }

                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Cow::Borrowed(v))
                }

                fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Cow::Owned(v.to_owned()))
                }

                fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Cow::Owned(v))
                }
            }
            deserializer.deserialize_str(TextVisitor).map(Text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_type_is_read() {
        let c: Comment = serde_json::from_str(
            r#"{"content":"hi","type":"Pingback","label":"spam","whatever":[1,2]}"#,
        )
        .expect("valid comment");
        assert_eq!(c.kind(), CommentKind::Pingback);
        assert_eq!(c.label, Some(Label::Spam));
        assert!(c.is_linkback());
    }

    #[test]
    fn content_is_required() {
        let err = serde_json::from_str::<Comment>(r#"{"author":"x"}"#).expect_err("no content");
        assert!(err.to_string().contains("content"), "{err}");
    }

    #[test]
    fn a_borrowed_comment_reads_like_an_owned_one() {
        let lines = [
            r#"{"id":"c1","content":"plain \"quoted\" caf\u00e9 text","author":"Rina","type":"Pingback","label":"spam","post_title":"On rice","whatever":[1,{"a":2}],"user_ip":"10.0.0.1"}"#,
            r#"{"content":"","author_url":"https://x.example","author_email":null,"permalink":"https://blog.example/p","label":"ham"}"#,
            r#"{"content":"line\nbreak","author":"\u0041nna","parent":"7","date":"2024-01-02","lang":"id","referrer":"r","user_agent":"ua"}"#,
        ];
        for line in lines {
            let owned: Comment = serde_json::from_str(line).expect("a comment");
            let borrowed: BorrowedComment = serde_json::from_str(line).expect("a comment");
            let view = CommentRef::from(&borrowed);
            assert_eq!(view, CommentRef::from(&owned), "{line}");
            assert_eq!(view.kind(), owned.kind());
        }
        // Strings without escapes are not copied; those with escapes are decoded.
        let line = lines[0];
        let borrowed: BorrowedComment = serde_json::from_str(line).expect("a comment");
        assert!(matches!(
            borrowed.author,
            Some(borrowed::Text(Cow::Borrowed("Rina")))
        ));
        assert!(matches!(&borrowed.content.0, Cow::Owned(t) if t == "plain \"quoted\" café text"));
    }

    #[test]
    fn a_borrowed_comment_is_refused_where_an_owned_one_is() {
        for line in [
            r#"{"author":"x"}"#,
            r#"{"content":"x","label":"maybe"}"#,
            r#"{"content":5}"#,
            r#"{"content":"x","user_ip":6}"#,
            r#"{"content":"x","lang":{}}"#,
            r#"{"content":"x","parent":true}"#,
            r#"{"content":"x","date":[1]}"#,
            r#"{"content":"x","referrer":"a","referrer":"b"}"#,
            r#"{"content":"x","user_agent":"\x"}"#,
            r#"{"content":"x","content":"y"}"#,
            r#"{"content":"x","author":["a"]}"#,
            r#"["x"]"#,
            r#"{"content":"x""#,
        ] {
            let owned = serde_json::from_str::<Comment>(line).expect_err(line);
            let borrowed = serde_json::from_str::<BorrowedComment>(line).expect_err(line);
            assert_eq!(owned.to_string(), borrowed.to_string(), "{line}");
        }
    }

    #[test]
    fn a_comment_is_an_object_not_an_array_of_its_fields() {
        for text in [r#"["1","text"]"#, r#"["x"]"#, r#""text""#, "5", "null"] {
            let owned = serde_json::from_str::<Comment>(text).expect_err(text);
            assert!(
                owned
                    .to_string()
                    .contains("expected a comment (a JSON object)"),
                "{text}: {owned}"
            );
            let borrowed = serde_json::from_str::<BorrowedComment>(text).expect_err(text);
            assert_eq!(owned.to_string(), borrowed.to_string(), "{text}");
        }
        // In an array of comments too, and an object still reads.
        assert!(serde_json::from_str::<Vec<Comment>>(r#"[{"content":"a"},["1","b"]]"#).is_err());
        let c: Comment = serde_json::from_str(r#"{"id":"1","content":"text"}"#).expect("object");
        assert_eq!((c.id.as_deref(), c.content.as_str()), (Some("1"), "text"));
        // And a comment writes as it did.
        let json = serde_json::to_string(&c).expect("serializes");
        assert_eq!(json, r#"{"id":"1","content":"text"}"#);
    }

    #[test]
    fn label_must_be_spam_or_ham() {
        assert!(serde_json::from_str::<Comment>(r#"{"content":"x","label":"maybe"}"#).is_err());
        // A label of the wrong type is a wrong value (a 422 from the API), not broken JSON (a 400).
        for label in ["5", "true", "[\"spam\"]", "{\"spam\":null}", "\"Spam\""] {
            let text = format!(r#"{{"content":"x","label":{label}}}"#);
            let err = serde_json::from_str::<Comment>(&text).expect_err(&text);
            assert_eq!(
                err.classify(),
                serde_json::error::Category::Data,
                "{text}: {err}"
            );
        }
        let c: Comment = serde_json::from_str(r#"{"content":"x","label":"ham"}"#).expect("ham");
        assert_eq!(c.label, Some(Label::Ham));
        assert_eq!("SPAM".parse::<Label>(), Ok(Label::Spam));
    }
}
