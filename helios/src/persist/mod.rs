//! Durability for Atlas: the append-only file and snapshots.
//!
//! # Files
//!
//! Everything lives in `data_dir`, named by *generation*:
//!
//! * `snapshot-<gen>.hsnap`: the whole keyspace as it was when AOF
//!   generation `<gen>` began (see [`snapshot`] for the byte format).
//! * `appendonly-<gen>.aof`: every write after that point, as RESP commands
//!   (see [`aof`]).
//!
//! Start-up loads the newest snapshot `S` (if any) and replays
//! `appendonly-S.aof`, `appendonly-(S+1).aof`, ... in order; generations
//! must be contiguous. Taking a snapshot cuts the AOF stream: writes after
//! the cut go to generation `S+1`, the snapshot of the state at the cut is
//! written as `snapshot-(S+1)` (temp file, fsync, rename, fsync directory),
//! and only then are older files deleted. A crash at any step therefore
//! leaves a complete chain, without needing a manifest.
//!
//! This module does not decide *when* to snapshot (the server's cron does)
//! and does not interpret commands (replay hands them to `cmd::execute`).

pub mod aof;
pub mod snapshot;

use std::path::{Path, PathBuf};

pub use aof::{AofStream, AofWriter};

/// Errors from reading or writing persistence files. Each names the file
/// and, for corruption, the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt at byte offset {offset}: {what}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("{dir}: {what}")]
    Chain { dir: PathBuf, what: String },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn snapshot_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("snapshot-{gen:08}.hsnap"))
}

pub fn aof_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("appendonly-{gen:08}.aof"))
}

/// What start-up found in the data directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DataFiles {
    /// Newest snapshot generation.
    pub snapshot: Option<u64>,
    /// AOF generations to replay, in order (contiguous, starting at the
    /// snapshot's generation).
    pub aofs: Vec<u64>,
    /// Files superseded by the snapshot, or left over from an interrupted
    /// snapshot, safe to delete.
    pub stale: Vec<PathBuf>,
}

fn gen_of(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// Inventories `dir` and checks that the files form a complete chain.
pub fn scan_dir(dir: &Path) -> Result<DataFiles, PersistError> {
    let mut snaps = Vec::new();
    let mut aofs = Vec::new();
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(g) = gen_of(&name, "snapshot-", ".hsnap") {
            snaps.push(g);
        } else if let Some(g) = gen_of(&name, "appendonly-", ".aof") {
            aofs.push(g);
        } else if name.ends_with(".tmp")
            && (name.starts_with("snapshot-") || name.starts_with("appendonly-"))
        {
            stale.push(entry.path());
        }
    }
    snaps.sort_unstable();
    aofs.sort_unstable();
    let snapshot = snaps.last().copied();
    let base = snapshot.unwrap_or(0);
    for &g in &snaps[..snaps.len().saturating_sub(1)] {
        stale.push(snapshot_path(dir, g));
    }
    let (old, live): (Vec<u64>, Vec<u64>) = aofs.into_iter().partition(|&g| g < base);
    stale.extend(old.into_iter().map(|g| aof_path(dir, g)));
    if let Some(&first) = live.first() {
        if snapshot.is_some() && first != base {
            return Err(PersistError::Chain {
                dir: dir.to_path_buf(),
                what: format!(
                    "snapshot generation {base} needs appendonly-{base:08}.aof or none, found generation {first} first"
                ),
            });
        }
        for w in live.windows(2) {
            if w[1] != w[0] + 1 {
                return Err(PersistError::Chain {
                    dir: dir.to_path_buf(),
                    what: format!(
                        "append-only files are not contiguous: generation {} is followed by {}",
                        w[0], w[1]
                    ),
                });
            }
        }
    }
    Ok(DataFiles {
        snapshot,
        aofs: live,
        stale,
    })
}

/// fsyncs a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_rules() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(scan_dir(d).unwrap(), DataFiles::default());
        std::fs::write(aof_path(d, 1), b"").unwrap();
        std::fs::write(aof_path(d, 2), b"").unwrap();
        std::fs::write(snapshot_path(d, 2), b"").unwrap();
        std::fs::write(d.join("snapshot-00000003.hsnap.tmp"), b"").unwrap();
        let f = scan_dir(d).unwrap();
        assert_eq!(f.snapshot, Some(2));
        assert_eq!(f.aofs, vec![2]);
        assert_eq!(f.stale.len(), 2);
        std::fs::write(aof_path(d, 4), b"").unwrap();
        let err = scan_dir(d).unwrap_err().to_string();
        assert!(err.contains("not contiguous"), "{err}");
        std::fs::remove_file(aof_path(d, 2)).unwrap();
        let err = scan_dir(d).unwrap_err().to_string();
        assert!(err.contains("needs appendonly-00000002.aof"), "{err}");
    }
}
