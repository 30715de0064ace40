//! Where a command writes its result file (`batch --output`, `train --model`).

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// An output path, checked.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// A regular file, or none yet: written to a temporary file beside it and renamed over it, so it
    /// is never left half-written. A symbolic link is followed (the file it names is replaced, the
    /// link kept).
    File(PathBuf),
    /// Something else that exists, such as a pipe, a FIFO or `/dev/stdout`: written in place, as the
    /// results come.
    Stream(PathBuf),
}

/// Checks `path` as the output of a command that reads `inputs`: a folder, or a file that is also
/// an input (it would be overwritten with the results), is an error.
pub fn target(path: &Path, inputs: &[PathBuf]) -> anyhow::Result<Target> {
    // `metadata` follows links, /proc's too (`/dev/stdout` names this process's standard output).
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(Target::File(link_target(path)));
    };
    if meta.is_dir() {
        bail!("the output {} is a folder", path.display());
    }
    if !meta.is_file() {
        return Ok(Target::Stream(path.to_owned()));
    }
    for input in inputs {
        if std::fs::metadata(input).is_ok_and(|i| same_file(&i, &meta)) {
            bail!(
                "the output {} is also an input ({}): writing it would destroy what is read",
                path.display(),
                input.display()
            );
        }
    }
    Ok(Target::File(std::fs::canonicalize(path)?))
}

/// Removes the temporary file at `path` when the process is stopped by Ctrl-C, `kill` or a closed
/// terminal (SIGINT, SIGTERM, SIGHUP) and exits as the signal would (128 + its number): a long batch
/// stopped by hand leaves no half-written file behind. Once the file has been renamed into place there
/// is nothing left to remove and the process just exits.
#[cfg(unix)]
pub fn remove_on_signal(path: PathBuf) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = std::fs::remove_file(&path);
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

#[cfg(not(unix))]
pub fn remove_on_signal(_: PathBuf) -> anyhow::Result<()> {
    Ok(())
}

/// The file a path names once links are followed, as far as they lead (a link may name a file not
/// yet made).
fn link_target(path: &Path) -> PathBuf {
    let mut path = path.to_owned();
    // A loop of links ends after a few steps; writing through it then fails with the system's error.
    for _ in 0..40 {
        let Ok(next) = std::fs::read_link(&path) else {
            break;
        };
        path = match path.parent() {
            Some(dir) => dir.join(next),
            None => next,
        };
    }
    path
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_checked_against_inputs_folders_and_links() {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{}\n").expect("writes");
        let new = dir.path().join("new.jsonl");
        assert_eq!(
            target(&new, std::slice::from_ref(&input)).ok(),
            Some(Target::File(new))
        );
        assert!(target(&input, std::slice::from_ref(&input)).is_err());
        assert!(target(dir.path(), &[]).is_err());
        #[cfg(unix)]
        {
            // A link to the input is the input; a link to another file is followed.
            let link = dir.path().join("link.jsonl");
            std::os::unix::fs::symlink(&input, &link).expect("links");
            assert!(target(&link, std::slice::from_ref(&input)).is_err());
            let real = std::fs::canonicalize(&input).expect("exists");
            assert_eq!(target(&link, &[]).ok(), Some(Target::File(real)));
            assert_eq!(
                target(Path::new("/dev/null"), &[input]).ok(),
                Some(Target::Stream("/dev/null".into()))
            );
            // A link to a file not yet made is followed too, not replaced.
            let dangling = dir.path().join("dangling.jsonl");
            std::os::unix::fs::symlink(dir.path().join("later.jsonl"), &dangling).expect("links");
            assert_eq!(
                target(&dangling, &[]).ok(),
                Some(Target::File(dir.path().join("later.jsonl")))
            );
        }
    }
}
