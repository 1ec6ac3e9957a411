//! All file-system input goes through [`World`], so the compiler itself does no I/O and tests can
//! compile specs held in memory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub trait World {
    /// Reads a file given by its path relative to the project root (`platform.toml`,
    /// `environments/prod.toml`).
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Names of the files in a directory relative to the project root, sorted.
    fn list(&self, dir: &str) -> io::Result<Vec<String>>;
}

/// A project on disk.
pub struct FsWorld {
    pub root: PathBuf,
}

impl FsWorld {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsWorld { root: root.into() }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(Path::new(relative))
    }
}

impl World for FsWorld {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(path))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.path(dir))? {
            let entry = entry?;
            // Follows symbolic links: an overlay may be a link to a shared file.
            if entry.path().is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// A project in memory, for tests and for rendering a spec taken from a git revision.
#[derive(Default, Clone)]
pub struct MemoryWorld {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemoryWorld {
    pub fn with(mut self, path: &str, text: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_string(), text.into());
        self
    }
}

impl World for MemoryWorld {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{path}: not found")))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{dir}: no such directory"),
            ));
        }
        Ok(names)
    }
}
