//! The comment: what blog software sends for scoring and what a labeled corpus holds.
//!
//! Field names follow Akismet's without the `comment_` prefix. Unknown fields are ignored, so a
//! richer export can be fed in as it is.

use serde::{Deserialize, Serialize};

/// What a moderator decided about a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Ham,
    Spam,
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

/// One comment, pingback or trackback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
        match self.kind.as_deref().map(str::trim) {
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
    fn label_must_be_spam_or_ham() {
        assert!(serde_json::from_str::<Comment>(r#"{"content":"x","label":"maybe"}"#).is_err());
        assert_eq!("SPAM".parse::<Label>(), Ok(Label::Spam));
    }
}
