//! Disqus' native XML export: `<thread dsq:id>`s (link, title) and `<post dsq:id>`s (message in CDATA,
//! `isSpam`, `isDeleted`, author, IP, the thread it belongs to and the post it replies to). Posts refer
//! to threads by id; a thread seen later than its posts, or never, leaves those posts without a title.
//! (Disqus' WXR-like import format is read by the WXR reader.)

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::xml::{non_empty, trimmed, truthy, Ns, XmlEvent, XmlStream};
use super::{Position, ReadError, Record};
use crate::engine::{Comment, Label};

#[derive(Default)]
struct Post {
    comment: Comment,
    thread: Option<String>,
    spam: bool,
    deleted: bool,
}

pub struct DisqusReader<R> {
    xml: XmlStream<R>,
    /// Thread id → (title, link).
    threads: HashMap<String, (Option<String>, Option<String>)>,
    thread: Option<(String, Option<String>, Option<String>)>,
    post: Option<(Post, Position)>,
    /// Nesting inside the current post: `author` and `thread` children have names of their own.
    in_author: bool,
    done: bool,
}

impl<R: Read> DisqusReader<R> {
    pub fn new(reader: R, file: &Path) -> Self {
        DisqusReader {
            xml: XmlStream::new(reader, file),
            threads: HashMap::new(),
            thread: None,
            post: None,
            in_author: false,
            done: false,
        }
    }
}

impl<R: Read> Iterator for DisqusReader<R> {
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
                    if self.post.is_some() {
                        return Some(Err(ReadError::malformed(
                            self.xml.file(),
                            self.xml.position(),
                            "the file ends inside a <post>",
                        )));
                    }
                }
                XmlEvent::Start { ns: _, name, id } => match (name.as_str(), self.post.as_mut()) {
                    ("post", None) => {
                        let mut post = Post::default();
                        post.comment.id = id;
                        self.post = Some((post, self.xml.position()));
                        self.xml.take_truncated();
                    }
                    ("thread", None) if self.thread.is_none() => {
                        self.thread = Some((id.unwrap_or_default(), None, None));
                    }
                    ("thread", Some((post, _))) => post.thread = id,
                    ("parent", Some((post, _))) => post.comment.parent = id,
                    ("author", Some(_)) => self.in_author = true,
                    _ => {}
                },
                XmlEvent::End { ns, name, text } => {
                    // Each field takes the text (trimmed, moved), and only a field that is kept.
                    if let Some((post, _)) = self.post.as_mut() {
                        let c = &mut post.comment;
                        match (name.as_str(), self.in_author) {
                            ("name", true) => c.author = non_empty(text),
                            ("email", true) => c.author_email = non_empty(text),
                            ("username", true) if c.author.is_none() => c.author = non_empty(text),
                            ("author", true) => self.in_author = false,
                            ("message", false) => c.content = trimmed(text),
                            ("ipAddress", false) => c.user_ip = non_empty(text),
                            ("createdAt", false) => c.date = non_empty(text),
                            ("isSpam", false) => post.spam = truthy(&text),
                            ("isDeleted", false) => post.deleted = truthy(&text),
                            ("post", false) if ns != Ns::DisqusInternals => {
                                let (mut post, position) = self.post.take()?;
                                if self.xml.take_truncated() {
                                    return Some(Err(self.xml.too_long(position, "post")));
                                }
                                if let Some((title, link)) =
                                    post.thread.as_ref().and_then(|t| self.threads.get(t))
                                {
                                    post.comment.post_title = title.clone();
                                    post.comment.permalink = link.clone();
                                }
                                let status = if post.spam {
                                    "spam"
                                } else if post.deleted {
                                    "deleted"
                                } else {
                                    "approved"
                                };
                                post.comment.label = match status {
                                    "spam" => Some(Label::Spam),
                                    "approved" => Some(Label::Ham),
                                    _ => None,
                                };
                                return Some(Ok(Record {
                                    comment: post.comment,
                                    position,
                                    status: Some(status),
                                }));
                            }
                            _ => {}
                        }
                    } else if let Some((_, title, link)) = self.thread.as_mut() {
                        match name.as_str() {
                            "title" => *title = non_empty(super::xml::title(&text)),
                            "link" => *link = non_empty(text),
                            "thread" => {
                                if let Some((id, title, link)) = self.thread.take() {
                                    self.threads.insert(id, (title, link));
                                }
                            }
                            _ => {}
                        }
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

    const EXPORT: &str = r#"<?xml version="1.0"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <thread dsq:id="2"><id>x</id><link>https://blog.example/a</link><title>Cyber diplomacy</title>
    <author><name>Owner</name></author></thread>
  <post dsq:id="4"><message><![CDATA[<p>Main di ZEUS138</p>]]></message><isDeleted>false</isDeleted>
    <isSpam>true</isSpam><author><name>Slot</name><email>s@x.example</email></author>
    <ipAddress>203.0.113.1</ipAddress><thread dsq:id="2"/></post>
  <post dsq:id="5"><message>Thanks!</message><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><username>rina</username></author><thread dsq:id="9"/><parent dsq:id="4"/></post>
  <post dsq:id="6"><message>gone</message><isDeleted>true</isDeleted><isSpam>false</isSpam><thread dsq:id="2"/></post>
</disqus>"#;

    #[test]
    fn reads_posts_with_their_thread_spam_and_deleted_flags() {
        let rows: Vec<Record> = DisqusReader::new(EXPORT.as_bytes(), Path::new("d.xml"))
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].comment.id.as_deref(), Some("4"));
        assert_eq!(rows[0].comment.content, "<p>Main di ZEUS138</p>");
        assert_eq!(
            rows[0].comment.post_title.as_deref(),
            Some("Cyber diplomacy")
        );
        assert_eq!(rows[0].comment.author.as_deref(), Some("Slot"));
        assert_eq!(rows[0].comment.user_ip.as_deref(), Some("203.0.113.1"));
        assert_eq!(rows[0].comment.label, Some(Label::Spam));
        // A thread that never appears leaves the post without a title.
        assert_eq!(rows[1].comment.post_title, None);
        assert_eq!(rows[1].comment.author.as_deref(), Some("rina"));
        assert_eq!(rows[1].comment.label, Some(Label::Ham));
        assert_eq!(rows[1].comment.parent.as_deref(), Some("4"));
        assert_eq!(rows[2].status, Some("deleted"));
        assert_eq!(rows[2].comment.label, None);
    }
}
