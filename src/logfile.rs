//! The log file, bounded: `lanchat.log` grows to [`MAX_LOG_BYTES`], then becomes
//! `lanchat.log.1` (replacing the one before) and a fresh `lanchat.log` starts, so the logs
//! of a data directory never take much more than twice that. A file an earlier run left at
//! the limit or past it is moved aside at start the same way.
//!
//! Only one lanchat writes a data directory's log (the data-dir lock), so nothing else
//! renames the file under it.

use crate::config::{self, Tightened};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How large `lanchat.log` may grow before it is rotated: days of `info` logging, and
/// still small enough to attach to a bug report.
pub const MAX_LOG_BYTES: u64 = 5 * 1024 * 1024;

/// An appending, private (0600) log file that rotates itself at a size limit.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    len: u64,
    limit: u64,
    /// False when `path` is not a regular file (say a link to `/dev/null`): it is then
    /// written as it is and never renamed.
    rotates: bool,
}

/// Where the previous log goes: `lanchat.log.1` beside `lanchat.log`.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

impl LogFile {
    /// Opens the log at `path` for appending, made private if it was not (what was done
    /// comes back, to be logged), and rotated first if it has reached `limit` bytes.
    pub fn open(path: &Path, limit: u64) -> Result<(LogFile, Tightened), config::ConfigError> {
        let (file, tightened) = config::open_private_file(path, true)?;
        let meta = file.metadata().map_err(|source| config::ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut log = LogFile {
            path: path.to_owned(),
            file,
            len: meta.len(),
            limit,
            rotates: meta.is_file(),
        };
        if log.rotates && log.len >= limit {
            log.rotate().map_err(|source| config::ConfigError::Io {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok((log, tightened))
    }

    /// Moves the current file to [`rotated_path`] and starts an empty one.
    fn rotate(&mut self) -> io::Result<()> {
        std::fs::rename(&self.path, rotated_path(&self.path))?;
        let (file, _) = config::open_private_file(&self.path, true).map_err(io::Error::other)?;
        self.file = file;
        self.len = 0;
        Ok(())
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let full = self.rotates && self.len > 0 && self.len + buf.len() as u64 > self.limit;
        // A file that cannot be moved aside (the directory went read-only, say) gets nothing
        // more: what would take it past its bound is dropped rather than grow it without end.
        if full && self.rotate().is_err() {
            return Ok(buf.len());
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn line(i: usize) -> String {
        format!("line {i:04} of the log, some words\n")
    }

    #[test]
    fn the_log_rotates_at_its_limit_and_keeps_the_newest_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanchat.log");
        let (mut log, _) = LogFile::open(&path, 200).unwrap();
        for i in 0..100 {
            log.write_all(line(i).as_bytes()).unwrap();
        }
        log.flush().unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        let previous = std::fs::read_to_string(rotated_path(&path)).unwrap();
        assert!(current.len() <= 200 && previous.len() <= 200);
        // Whole lines, the newest in the current file and the ones just before in `.1`.
        assert!(current.ends_with(&line(99)), "{current}");
        let both = format!("{previous}{current}");
        let n = both.lines().count();
        let expected: String = (100 - n..100).map(line).collect();
        assert_eq!(both, expected);
        assert!(n < 20, "only two files' worth is kept: {n} lines");
        for p in [&path, &rotated_path(&path)] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn a_large_log_from_an_earlier_run_is_moved_aside_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanchat.log");
        std::fs::write(rotated_path(&path), "the oldest run\n").unwrap();
        std::fs::write(&path, "x".repeat(300)).unwrap();
        let (mut log, _) = LogFile::open(&path, 300).unwrap();
        log.write_all(b"this run\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "this run\n");
        // The previous run's log replaced the one before it.
        assert_eq!(
            std::fs::read_to_string(rotated_path(&path)).unwrap(),
            "x".repeat(300)
        );
    }

    #[test]
    fn a_small_log_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanchat.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let (mut log, _) = LogFile::open(&path, 300).unwrap();
        log.write_all(b"now\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nnow\n");
        assert!(!rotated_path(&path).exists());
    }

    #[test]
    fn what_is_not_a_regular_file_is_never_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanchat.log");
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        let (mut log, _) = LogFile::open(&path, 10).unwrap();
        for i in 0..5 {
            log.write_all(line(i).as_bytes()).unwrap();
        }
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert!(!rotated_path(&path).exists());
    }
}
