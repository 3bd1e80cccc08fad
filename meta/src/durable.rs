//! Replacing a file durably: the new contents go to a temporary file beside it, which is synced
//! and renamed into place, then the directory is synced. A crash or a full disk leaves the old
//! file or the new one, never a mixture, and no temporary file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary file `replace` writes before renaming it to `path`.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or("file".into(), |n| n.to_string_lossy());
    path.with_file_name(format!(".{name}.tmp"))
}

/// Replaces the contents of `path` by `bytes`; on failure the temporary file is removed.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = temporary_path(path);
    let written = File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(error) = written {
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("pesto-durable-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        fs::write(&path, "old contents, longer than the new").unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let failed = replace(&dir.join("missing/b.txt"), b"x").unwrap_err();
        assert_eq!(failed.kind(), io::ErrorKind::NotFound);
        fs::remove_dir_all(&dir).unwrap();
    }
}
