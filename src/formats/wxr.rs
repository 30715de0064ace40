//! WordPress WXR exports (1.0, 1.1, 1.2; the `wp` namespace matched by version whatever its scheme), and
//! Disqus' WXR-like import format. Every `<wp:comment>` becomes a comment with its post's title and link,
//! its type (empty means an ordinary comment), author fields, IP, date, parent and moderation status
//! (`1` approved, `0` pending, `spam`, `trash`). Streams: one comment in memory at a time.

use std::io::Read;
use std::path::Path;

use super::xml::{non_empty, trimmed, Ns, XmlEvent, XmlStream};
use super::{Position, ReadError, Record};
use crate::engine::{Comment, Label};

pub struct WxrReader<R> {
    xml: XmlStream<R>,
    post_title: Option<String>,
    post_link: Option<String>,
    /// The comment being read, and where it started.
    comment: Option<(Comment, Option<&'static str>, Position)>,
    done: bool,
}

impl<R: Read> WxrReader<R> {
    pub fn new(reader: R, file: &Path) -> Self {
        WxrReader {
            xml: XmlStream::new(reader, file),
            post_title: None,
            post_link: None,
            comment: None,
            done: false,
        }
    }
}

/// The moderation status as exports write it: `1` approved, `0` pending, `spam`, `trash`.
pub fn status_name(approved: &str) -> &'static str {
    match approved.trim() {
        "1" | "approve" | "approved" => "approved",
        "0" | "hold" | "pending" => "pending",
        "spam" => "spam",
        "trash" => "trash",
        _ => "other",
    }
}

/// The label a moderation status teaches by default: spam is spam, approved is ham, the rest neither.
pub fn label_of(status: &str) -> Option<Label> {
    match status {
        "spam" => Some(Label::Spam),
        "approved" => Some(Label::Ham),
        _ => None,
    }
}

impl<R: Read> Iterator for WxrReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let event = match self.xml.next_event() {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match event {
                XmlEvent::Eof => {
                    self.done = true;
                    if self.comment.is_some() {
                        let at = self.xml.position();
                        return Some(Err(ReadError::malformed(
                            self.xml.file(),
                            at,
                            "the file ends inside a <wp:comment>",
                        )));
                    }
                }
                XmlEvent::Start { ns, name, .. } => match (ns, name.as_str()) {
                    (Ns::Other, "item") => {
                        self.post_title = None;
                        self.post_link = None;
                    }
                    (Ns::WordPress, "comment") => {
                        let c = Comment {
                            post_title: self.post_title.clone(),
                            permalink: self.post_link.clone(),
                            ..Comment::default()
                        };
                        self.comment = Some((c, None, self.xml.position()));
                        self.xml.take_truncated();
                    }
                    _ => {}
                },
                XmlEvent::End { ns, name, text } => {
                    let Some((c, status, _)) = self.comment.as_mut() else {
                        if ns == Ns::Other {
                            match name.as_str() {
                                "title" => self.post_title = Some(super::xml::title(&text)),
                                "link" => self.post_link = Some(text.trim().to_owned()),
                                _ => {}
                            }
                        }
                        continue;
                    };
                    if ns != Ns::WordPress {
                        continue;
                    }
                    // Each field takes the text (trimmed, moved), and only a field that is kept.
                    match name.as_str() {
                        "comment_id" => c.id = non_empty(text),
                        "comment_author" => c.author = non_empty(text),
                        "comment_author_email" => c.author_email = non_empty(text),
                        "comment_author_url" => c.author_url = non_empty(text),
                        "comment_author_IP" => c.user_ip = non_empty(text),
                        "comment_content" => c.content = trimmed(text),
                        "comment_type" => c.kind = non_empty(text),
                        "comment_date_gmt" => c.date = non_empty(text).or(c.date.take()),
                        "comment_date" if c.date.is_none() => c.date = non_empty(text),
                        "comment_parent" => c.parent = non_empty(text).filter(|p| p != "0"),
                        "comment_approved" => *status = Some(status_name(&text)),
                        "comment" => {
                            let (mut comment, status, position) = self.comment.take()?;
                            if self.xml.take_truncated() {
                                return Some(Err(self.xml.too_long(position, "comment")));
                            }
                            // WordPress always writes one; a comment without it (a hand-made
                            // export) was not moderated as far as the file says, so it teaches nothing.
                            let status = status.unwrap_or("unknown");
                            comment.label = label_of(status);
                            return Some(Ok(Record {
                                comment,
                                position,
                                status: Some(status),
                            }));
                        }
                        _ => {}
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Vec<Result<Record, ReadError>> {
        WxrReader::new(xml.as_bytes(), Path::new("t.xml")).collect()
    }

    const WXR: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.0/">
<channel><item><title>Japan &amp; cyber diplomacy</title><link>https://blog.example/jp</link>
<wp:comment><wp:comment_id>7</wp:comment_id><wp:comment_author>elojob</wp:comment_author>
<wp:comment_author_url>https://elojob.example</wp:comment_author_url>
<wp:comment_content><![CDATA[[&hellip;] joki rank murah [&hellip;]]]></wp:comment_content>
<wp:comment_approved>spam</wp:comment_approved><wp:comment_type>pingback</wp:comment_type></wp:comment>
<wp:comment><wp:comment_id>8</wp:comment_id><wp:comment_content>Nice &laquo;post&raquo; &#8217;</wp:comment_content>
<wp:comment_approved><![CDATA[1]]></wp:comment_approved><wp:comment_type></wp:comment_type></wp:comment>
<wp:comment><wp:comment_id>9</wp:comment_id><wp:comment_content>in the bin</wp:comment_content>
<wp:comment_date>2024-05-02 10:00:00</wp:comment_date><wp:comment_parent>8</wp:comment_parent>
<wp:comment_approved>trash</wp:comment_approved></wp:comment>
</item></channel></rss>"#;

    #[test]
    fn reads_comments_with_their_post_status_and_type() {
        let rows: Vec<Record> = read(WXR)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(rows.len(), 3);
        let pingback = &rows[0];
        assert_eq!(
            pingback.comment.post_title.as_deref(),
            Some("Japan & cyber diplomacy")
        );
        assert_eq!(pingback.comment.kind.as_deref(), Some("pingback"));
        assert_eq!(pingback.comment.label, Some(Label::Spam));
        assert_eq!(pingback.status, Some("spam"));
        assert_eq!(
            pingback.comment.content,
            "[&hellip;] joki rank murah [&hellip;]"
        );
        assert_eq!(rows[1].comment.content, "Nice «post» \u{2019}");
        assert_eq!(rows[1].comment.kind, None);
        assert_eq!(rows[1].comment.label, Some(Label::Ham));
        assert_eq!(rows[2].status, Some("trash"));
        assert_eq!(rows[2].comment.parent.as_deref(), Some("8"));
        assert_eq!(rows[2].comment.date.as_deref(), Some("2024-05-02 10:00:00"));
        assert_eq!(rows[2].comment.label, None);
        // Each comment's place: the line its start tag is on, and the byte after it.
        let lines: Vec<String> = rows.iter().map(|r| r.position.to_string()).collect();
        for (at, line) in lines.iter().zip([4, 8, 10]) {
            assert!(at.starts_with(&format!("line {line} (byte ")), "{at}");
        }
        let byte = WXR.find("<wp:comment><wp:comment_id>8").expect("there") as u64 + 12;
        assert_eq!(
            rows[1].position,
            Position::Byte {
                byte,
                line: Some(8)
            }
        );
    }

    #[test]
    fn lines_are_counted_right_across_many_reads() {
        // Far more than the reader's 64 KiB buffer, with comments two and three lines long.
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<rss xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel><item>\n");
        let mut starts = Vec::new();
        let mut line = 4;
        for i in 0..5000 {
            starts.push(line);
            let extra = if i % 3 == 0 { "\n" } else { "" };
            line += 2 + extra.len();
            xml.push_str(&format!(
                "<wp:comment><wp:comment_id>{i}</wp:comment_id>\n<wp:comment_content>text {i}{extra}</wp:comment_content></wp:comment>\n"
            ));
        }
        xml.push_str("</item></channel></rss>\n");
        assert!(xml.len() > 4 * 65536);
        let rows: Vec<Record> = read(&xml)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(rows.len(), starts.len());
        for (row, line) in rows.iter().zip(&starts) {
            let Position::Byte { line: got, .. } = row.position else {
                panic!("{:?}", row.position);
            };
            assert_eq!(got, Some(*line as u64), "{:?}", row.comment.id);
        }
    }

    #[test]
    fn a_comment_without_a_status_has_no_label() {
        let xml = WXR.replace(
            "<wp:comment_approved><![CDATA[1]]></wp:comment_approved>",
            "",
        );
        let rows: Vec<Record> = read(&xml)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(rows[1].comment.content, "Nice «post» \u{2019}");
        assert_eq!(rows[1].status, Some("unknown"));
        assert_eq!(rows[1].comment.label, None);
        assert_eq!(rows[0].comment.label, Some(Label::Spam));
    }

    #[test]
    fn https_and_other_versions_of_the_namespace_match() {
        let xml = WXR.replace(
            "http://wordpress.org/export/1.0/",
            "https://wordpress.org/export/1.2/",
        );
        assert_eq!(read(&xml).len(), 3);
    }

    #[test]
    fn a_huge_post_is_no_error_and_a_huge_comment_is_a_bad_record() {
        let big = "x".repeat(super::super::xml::MAX_FIELD_BYTES + 1);
        let comment = |id: u32, text: &str| {
            format!("<wp:comment><wp:comment_id>{id}</wp:comment_id><wp:comment_content>{text}</wp:comment_content></wp:comment>")
        };
        let xml = format!(
            r#"<?xml version="1.0"?><rss xmlns:wp="http://wordpress.org/export/1.2/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><item><title>T</title><content:encoded>{big}</content:encoded>{}{}{}</item></channel></rss>"#,
            comment(1, "first"),
            comment(2, &big),
            comment(3, "last")
        );
        let out = read(&xml);
        assert_eq!(out.len(), 3);
        assert!(out[0].as_ref().is_ok_and(|r| r.comment.content == "first"));
        let err = out[1].as_ref().expect_err("too long");
        assert!(err.is_skippable());
        assert!(err.to_string().contains("longer than 4 MiB"), "{err}");
        assert!(out[2].as_ref().is_ok_and(|r| r.comment.content == "last"));
    }

    #[test]
    fn a_truncated_file_is_an_error_with_its_line_and_byte_offset() {
        let cut = &WXR[..WXR.find("in the bin").unwrap_or(WXR.len())];
        let rows = read(cut);
        let err = rows
            .last()
            .and_then(|r| r.as_ref().err())
            .expect("an error")
            .to_string();
        assert!(err.starts_with("t.xml:line 10 (byte "), "{err}");
    }

    #[test]
    fn entity_expansion_tricks_are_not_followed() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item><title>t</title>
<wp:comment><wp:comment_content>&lol2; &xxe;</wp:comment_content><wp:comment_approved>1</wp:comment_approved></wp:comment>
</item></channel></rss>"#;
        let rows: Vec<Record> = read(xml)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("reads");
        assert_eq!(rows[0].comment.content, "&lol2; &xxe;");
    }
}
