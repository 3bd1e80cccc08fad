//! Reading a file the user named without trusting it: regular files only (a FIFO or device would
//! block or never end) and no larger than a cap, so a hostile path cannot hang or exhaust memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest config or suite file read, in bytes.
pub const TEXT_CAP: u64 = 1 << 20;
/// The largest checkpoint, optimizer file or log read, in bytes.
pub const DATA_CAP: u64 = 1 << 32;

/// The bytes of the regular file at `path`; an error if it is anything else or exceeds `cap`.
pub fn capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let too_large = || {
        let message = format!("larger than the limit of {cap} bytes");
        io::Error::new(io::ErrorKind::InvalidData, message)
    };
    if meta.len() > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    File::open(path)?.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The text of the regular file at `path`, at most `cap` bytes of UTF-8.
pub fn capped_text(path: &Path, cap: u64) -> io::Result<String> {
    String::from_utf8(capped(path, cap)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = std::env::temp_dir().join(format!("pesto-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(&file, "seed = 1").unwrap();
        assert_eq!(capped_text(&file, 8).unwrap(), "seed = 1");
        let err = |path: &Path, cap| capped(path, cap).unwrap_err().to_string();
        assert_eq!(err(&file, 7), "larger than the limit of 7 bytes");
        assert_eq!(err(&dir, 7), "not a regular file");
        assert_eq!(err(Path::new("/dev/zero"), 7), "not a regular file");
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(err(&fifo, 7), "not a regular file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
