//! Input files shared by the subcommands: which files, their format, CSV column mapping, and what to
//! do with records that cannot be read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::engine::Comment;
use crate::formats::csv::{CsvOptions, CsvReader, Field};
use crate::formats::jsonl::JsonlReader;
use crate::formats::{Format, ReadError, Record};

#[derive(Debug, Clone, Args)]
pub struct FormatArgs {
    /// Input format [default: detected from the content]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV: map a comment field to a column (header name or 0-based index), e.g. content=CONTENT
    #[arg(long = "map", value_name = "FIELD=COLUMN", value_parser = parse_map)]
    pub map: Vec<(Field, String)>,
    /// CSV: label value meaning spam (repeatable); other non-empty labels are ham [default: spam, 1, true]
    #[arg(long = "spam-value", value_name = "VALUE")]
    pub spam_values: Vec<String>,
    /// CSV: field delimiter, one character or "tab"
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// CSV: the file has no header row (map columns by index)
    #[arg(long)]
    pub no_header: bool,
    /// CSV: treat quotes as ordinary characters
    #[arg(long)]
    pub no_quoting: bool,
    /// Skip records that cannot be read (and count them) instead of failing
    #[arg(long)]
    pub skip_invalid: bool,
}

fn parse_map(s: &str) -> Result<(Field, String), String> {
    let (field, column) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FIELD=COLUMN, got {s:?}"))?;
    let f = Field::parse(field.trim()).ok_or_else(|| {
        format!("unknown field {field:?}; fields: id, content, author, author_email, author_url, type, user_ip, user_agent, referrer, permalink, post_title, lang, label")
    })?;
    Ok((f, column.to_owned()))
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "the delimiter must be one ASCII character or \"tab\", not {s:?}"
        )),
    }
}

impl FormatArgs {
    pub fn csv_options(&self) -> CsvOptions {
        let mut o = CsvOptions {
            delimiter: self.delimiter,
            has_header: !self.no_header,
            quoting: !self.no_quoting,
            map: self.map.clone(),
            ..CsvOptions::default()
        };
        if !self.spam_values.is_empty() {
            o.spam_values = self.spam_values.clone();
        }
        o
    }

    /// The format of `path`: as given, or detected from its first bytes.
    pub fn format_of(&self, path: &Path) -> anyhow::Result<Format> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        let mut head = [0u8; 512];
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let n = file
            .read(&mut head)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Format::detect(&head[..n]))
    }

    /// A streaming reader of `path`.
    pub fn open(
        &self,
        path: &Path,
    ) -> anyhow::Result<Box<dyn Iterator<Item = Result<Record, ReadError>>>> {
        let format = self.format_of(path)?;
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader = BufReader::with_capacity(1 << 16, file);
        Ok(match format {
            Format::Jsonl => Box::new(JsonlReader::new(reader, path)),
            Format::Csv => Box::new(CsvReader::new(reader, path, &self.csv_options())?),
        })
    }

    /// Reads every comment of every file, failing on the first bad record unless --skip-invalid.
    /// Returns the comments and how many records were skipped.
    pub fn read_all(&self, paths: &[PathBuf]) -> anyhow::Result<(Vec<Comment>, u64)> {
        let mut comments = Vec::new();
        let mut skipped = 0;
        for path in paths {
            for record in self.open(path)? {
                match record {
                    Ok(r) => comments.push(r.comment),
                    Err(e) if self.skip_invalid && e.is_skippable() => skipped += 1,
                    Err(e) => bail!("{e}{}", hint(&e)),
                }
            }
        }
        Ok((comments, skipped))
    }
}

/// How to get past a bad record.
pub fn hint(e: &ReadError) -> &'static str {
    if e.is_skippable() {
        " (use --skip-invalid to skip such records)"
    } else {
        ""
    }
}
