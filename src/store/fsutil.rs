//! File habits of the store: private permissions, atomic small files, an exclusive lock.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Creates `dir` and its missing parents with mode 0700 (transcripts hold code and secrets).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens a file for appending, creating it with mode 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// Opens a file the user named for writing (appending or from empty) as private: created 0600,
/// and an existing regular file that others could read is made 0600 too (a transcript or a log
/// holds code and secrets). Devices and pipes (`/dev/stdout`) are left as they are.
pub fn open_private(path: &Path, append: bool) -> io::Result<File> {
    use std::os::unix::fs::PermissionsExt;
    let mut options = OpenOptions::new();
    options.create(true).mode(0o600);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync the
/// directory. A crash leaves either the old content or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f =
            OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself must reach the disk too.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-21T08:53:00Z` (UTC) for a time in milliseconds since the epoch.
fn rfc3339_seconds(ms: u64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `20261121T085300Z` for a time in milliseconds since the epoch (UTC): safe in file names.
pub fn utc_stamp(ms: u64) -> String {
    rfc3339_seconds(ms).replace(['-', ':'], "")
}

/// `2026-11-21 08:53` (UTC) for listings.
pub fn utc_minute(ms: u64) -> String {
    let s = rfc3339_seconds(ms).replacen('T', " ", 1);
    s.get(..16).unwrap_or(&s).to_string()
}

/// Moves a file that cannot be read out of the way: `<name>.corrupt-<stamp>`, never deleted.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    rename_with_suffix(path, "corrupt")
}

/// Renames `path` to `<name>.<label>-<stamp>` (numbered if that exists) and returns the new path.
pub fn rename_with_suffix(path: &Path, label: &str) -> io::Result<PathBuf> {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{label}-{}", utc_stamp(now_ms())));
    let mut target = path.with_file_name(&name);
    let mut n = 1;
    while target.exists() {
        let mut numbered = name.clone();
        numbered.push(format!("-{n}"));
        target = path.with_file_name(numbered);
        n += 1;
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}

/// An exclusive `flock` on a workspace's lock file, held for the life of the value.
#[derive(Debug)]
pub struct LockFile {
    // Closing the file releases the lock.
    _file: File,
}

pub enum LockOutcome {
    Acquired(LockFile),
    /// Another process holds it; the pid it wrote, when readable.
    Held(Option<u32>),
}

impl LockFile {
    pub fn try_acquire(path: &Path) -> io::Result<LockOutcome> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(path)?;
        // SAFETY: flock on a file descriptor we own; no memory is shared with the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Ok(LockOutcome::Held(text.trim().parse().ok()));
            }
            return Err(err);
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(LockOutcome::Acquired(LockFile { _file: file }))
    }

    /// Whether some process holds the lock at `path` right now (without keeping it).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = File::open(path) else { return false };
        // SAFETY: as above; a shared lock taken and released at once.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc == 0 {
            // SAFETY: unlocking the lock just taken on our own descriptor.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
            false
        } else {
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        // 2024-02-29 12:34:56 UTC
        assert_eq!(utc_stamp(1_709_210_096_000), "20240229T123456Z");
        assert_eq!(utc_minute(1_709_210_096_000), "2024-02-29 12:34");
    }
}
