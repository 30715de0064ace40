//! The model file: a header that says what the file is, then the model.
//!
//! ```text
//! offset size
//! 0      8    magic "SARINGNB"
//! 8      2    format version (little-endian)
//! 10     2    oldest format version that can read this file
//! 12     4    CRC-32 of the payload
//! 16     8    payload length in bytes
//! 24     …    payload: the model (postcard encoding of ModelData)
//! ```
//!
//! Files are written to a temporary file in the same folder, flushed to disk and renamed over the
//! target, so a crash never leaves half a model. Loading says precisely why a file is refused.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::calibrate::SLOTS;
use super::model::{ModelData, SpamModel, FEATURE_VERSION};

pub const MAGIC: &[u8; 8] = b"SARINGNB";
/// The format this build writes.
pub const FORMAT_VERSION: u16 = 4;
/// The oldest format this build reads.
pub const OLDEST_READABLE: u16 = 4;
const HEADER_LEN: usize = 24;

#[derive(Debug, Error)]
pub enum ModelFileError {
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write model file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a saring model (wrong magic number)")]
    NotAModel { path: PathBuf },
    #[error("{path} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path} is corrupt: checksum mismatch")]
    Corrupt { path: PathBuf },
    /// A header that cannot be right, or bytes after the model's end.
    #[error("{path} is corrupt: {what}")]
    Damaged { path: PathBuf, what: String },
    #[error("{path} needs a newer saring: it is model format {version} (readable from {oldest}), this build reads {OLDEST_READABLE} to {FORMAT_VERSION}")]
    TooNew {
        path: PathBuf,
        version: u16,
        oldest: u16,
    },
    #[error("{path} is model format {version}, older than this build can read ({OLDEST_READABLE} to {FORMAT_VERSION}); retrain it")]
    TooOld { path: PathBuf, version: u16 },
    #[error("{path} was trained with feature version {found}, this build extracts version {FEATURE_VERSION}; retrain it")]
    FeatureVersion { path: PathBuf, found: u32 },
    #[error("{path} is corrupt: {reason}")]
    Decode { path: PathBuf, reason: String },
}

/// Reading and writing model files.
pub struct ModelFile;

impl ModelFile {
    /// The bytes of a model file.
    pub fn encode(data: &ModelData) -> Result<Vec<u8>, postcard::Error> {
        let payload = postcard::to_stdvec(data)?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&OLDEST_READABLE.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Writes atomically: temporary file in the same folder, fsync, rename, fsync of the folder.
    pub fn save(path: &Path, data: &ModelData) -> Result<(), ModelFileError> {
        let err = |source| ModelFileError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = folder_of(path);
        let mut tmp = tempfile::Builder::new()
            .prefix(".saring-model-")
            .tempfile_in(&dir)
            .map_err(err)?;
        let bytes = Self::encode(data).map_err(|e| err(std::io::Error::other(e)))?;
        tmp.write_all(&bytes).map_err(err)?;
        make_readable(tmp.as_file()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        sync_folder(&dir);
        Ok(())
    }

    /// Decodes a model from bytes; `path` only names the source in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<ModelData, ModelFileError> {
        let path_buf = || path.to_owned();
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelFileError::NotAModel { path: path_buf() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(ModelFileError::Truncated {
                path: path_buf(),
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let version = u16_at(8);
        let oldest = u16_at(10);
        let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[16..24]);
        let len = u64::from_le_bytes(len);
        let damaged = |what: String| ModelFileError::Damaged {
            path: path_buf(),
            what,
        };
        if version < OLDEST_READABLE {
            return Err(ModelFileError::TooOld {
                path: path_buf(),
                version,
            });
        }
        if oldest > version {
            return Err(damaged(format!(
                "its header says format {version}, readable from format {oldest}"
            )));
        }
        // A newer format that says this build can still read it (`oldest`) is read.
        if oldest > FORMAT_VERSION {
            return Err(ModelFileError::TooNew {
                path: path_buf(),
                version,
                oldest,
            });
        }
        let found = (bytes.len() - HEADER_LEN) as u64;
        if len > MAX_MODEL_BYTES {
            return Err(damaged(format!(
                "its header gives a length of {len} bytes, more than any model"
            )));
        }
        if found < len {
            return Err(ModelFileError::Truncated {
                path: path_buf(),
                expected: HEADER_LEN as u64 + len,
                found: bytes.len() as u64,
            });
        }
        if found > len {
            return Err(damaged(format!(
                "{} bytes follow the end of the model",
                found - len
            )));
        }
        let payload = &bytes[HEADER_LEN..];
        if crc32fast::hash(payload) != crc {
            return Err(ModelFileError::Corrupt { path: path_buf() });
        }
        let data: ModelData =
            postcard::from_bytes(payload).map_err(|e| ModelFileError::Decode {
                path: path_buf(),
                reason: e.to_string(),
            })?;
        if data.info.feature_version != FEATURE_VERSION {
            return Err(ModelFileError::FeatureVersion {
                path: path_buf(),
                found: data.info.feature_version,
            });
        }
        if data.ids.len() != data.weights.len() {
            return Err(ModelFileError::Decode {
                path: path_buf(),
                reason: "feature ids and weights differ in number".into(),
            });
        }
        if data.calibration.scales.len() != SLOTS {
            return Err(ModelFileError::Decode {
                path: path_buf(),
                reason: format!(
                    "its calibration has {} scales, not {SLOTS}",
                    data.calibration.scales.len()
                ),
            });
        }
        // Numbers a model of saring's making always has finite (and a checksum does not vouch for
        // who made the file): an infinite or NaN weight would score comments NaN or ±∞.
        let t = &data.thresholds;
        let finite = [data.bias, data.length_power, data.calibration.intercept]
            .into_iter()
            .chain(data.calibration.scales.iter().copied())
            .chain([t.unsure, t.spam, t.discard])
            .all(f64::is_finite)
            && data.weights.iter().all(|w| w.is_finite());
        if !finite {
            return Err(ModelFileError::Decode {
                path: path_buf(),
                reason: "it holds a number that is not finite".into(),
            });
        }
        Ok(data)
    }

    /// Loads and checks a model file.
    pub fn load(path: &Path) -> Result<SpamModel, ModelFileError> {
        // Opening a FIFO would wait for a writer; a device could be read forever.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(ModelFileError::Read {
                path: path.to_owned(),
                source: std::io::Error::other("not a regular file"),
            });
        }
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|f| f.take(MAX_MODEL_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|source| ModelFileError::Read {
                path: path.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(ModelFileError::Read {
                path: path.to_owned(),
                source: std::io::Error::other(format!(
                    "larger than {} MiB: no saring model is that big",
                    MAX_MODEL_BYTES >> 20
                )),
            });
        }
        Ok(SpamModel::from_data(Self::decode(&bytes, path)?))
    }
}

/// The largest model file read (a model of millions of comments' features is tens of MiB): a path
/// to something bigger, given to a reload, is refused before it fills the memory.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// The folder a file is in (`.` for a bare file name): where its temporary file goes, to be renamed
/// over it.
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename into `dir` durable; not every platform can sync a folder, so failing is not an error.
pub fn sync_folder(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Temporary files are created private (0600); a model or an output file is an ordinary file (0644).
pub fn make_readable(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::train::tests::tiny_corpus;
    use crate::engine::{featurize, train, TrainOptions};

    fn model_bytes() -> (ModelData, Vec<u8>) {
        let data = train(&featurize(&tiny_corpus()), TrainOptions::default(), 1).expect("trains");
        let bytes = ModelFile::encode(&data).expect("encodes");
        (data, bytes)
    }

    #[test]
    fn a_saved_model_loads_back_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("m.saring");
        let (data, _) = model_bytes();
        ModelFile::save(&path, &data).expect("saves");
        let loaded = ModelFile::load(&path).expect("loads");
        assert_eq!(loaded.data(), &data);
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(|d| d.count())
                .unwrap_or(0),
            1
        );
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let p = Path::new("m");
        let (_, bytes) = model_bytes();
        let err = |b: &[u8]| ModelFile::decode(b, p).expect_err("refused");
        assert!(matches!(
            err(b"PK\x03\x04 zip"),
            ModelFileError::NotAModel { .. }
        ));
        assert!(matches!(
            err(&bytes[..bytes.len() - 10]),
            ModelFileError::Truncated { .. }
        ));
        assert!(matches!(
            err(&bytes[..12]),
            ModelFileError::Truncated { .. }
        ));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(matches!(err(&flipped), ModelFileError::Corrupt { .. }));
        let mut newer = bytes.clone();
        newer[8..10].copy_from_slice(&9u16.to_le_bytes());
        newer[10..12].copy_from_slice(&9u16.to_le_bytes());
        let e = err(&newer);
        assert!(
            matches!(e, ModelFileError::TooNew { version: 9, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("newer saring"));
        let mut older = bytes.clone();
        older[8..10].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(err(&older), ModelFileError::TooOld { .. }));
        // A header that contradicts itself, a length no model has, bytes after the end: each said.
        let mut inconsistent = bytes.clone();
        inconsistent[10..12].copy_from_slice(&(FORMAT_VERSION + 5).to_le_bytes());
        let e = err(&inconsistent);
        assert!(e.to_string().contains("readable from format"), "{e}");
        let mut length = bytes.clone();
        length[16..24].copy_from_slice(&[0xff; 8]);
        let e = err(&length);
        assert!(e.to_string().contains("more than any model"), "{e}");
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"xx");
        let e = err(&longer);
        assert!(e.to_string().contains("2 bytes follow the end"), "{e}");
    }

    #[test]
    fn a_model_of_other_features_is_refused() {
        let (mut data, _) = model_bytes();
        data.info.feature_version += 1;
        let bytes = ModelFile::encode(&data).expect("encodes");
        assert!(matches!(
            ModelFile::decode(&bytes, Path::new("m")),
            Err(ModelFileError::FeatureVersion { .. })
        ));
    }

    #[test]
    fn a_model_with_a_number_that_is_not_finite_is_refused() {
        for spoil in [
            |d: &mut ModelData| d.weights[0] = f32::NAN,
            |d: &mut ModelData| d.weights[0] = f32::INFINITY,
            |d: &mut ModelData| d.calibration.scales[1] = f64::NAN,
            |d: &mut ModelData| d.thresholds.spam = f64::NEG_INFINITY,
            |d: &mut ModelData| d.bias = f64::NAN,
        ] {
            let (mut data, _) = model_bytes();
            assert!(
                ModelFile::decode(&ModelFile::encode(&data).expect("encodes"), Path::new("m"))
                    .is_ok()
            );
            spoil(&mut data);
            let bytes = ModelFile::encode(&data).expect("encodes");
            let err = ModelFile::decode(&bytes, Path::new("m")).expect_err("refused");
            assert!(err.to_string().contains("not finite"), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_a_regular_file_is_refused_without_reading_it() {
        // /dev/zero would be read forever; a FIFO would wait for a writer.
        let err = ModelFile::load(Path::new("/dev/zero")).expect_err("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    /// Every released format version either loads or is refused by name with "retrain it", never as
    /// corrupt: `models/compat/` keeps one file of each.
    #[test]
    fn released_format_versions_load_or_are_refused_by_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/compat");
        for version in 1..=FORMAT_VERSION {
            let path = dir.join(format!("format-{version}.saring"));
            match ModelFile::load(&path) {
                Ok(model) => assert!(model.vocabulary_size() > 100),
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            ModelFileError::FeatureVersion { .. } | ModelFileError::TooOld { .. }
                        ),
                        "{e}"
                    );
                    assert!(e.to_string().contains("retrain it"), "{e}");
                }
            }
        }
    }

    #[test]
    fn a_newer_file_that_this_build_can_still_read_loads() {
        let (data, mut bytes) = model_bytes();
        bytes[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let decoded =
            ModelFile::decode(&bytes, Path::new("m")).expect("readable by its oldest reader");
        assert_eq!(decoded, data);
    }
}
