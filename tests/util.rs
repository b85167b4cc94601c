//! Helpers shared by the integration tests: a temporary working directory with fixture files,
//! and the `capsim` binary run inside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary directory holding fixtures; the binary runs with it as the current directory.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new empty working directory.
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating directories).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write fixture");
        p
    }

    /// Reads a file as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// The `capsim` command, run in this directory.
    pub fn capsim(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin!("capsim"));
        c.current_dir(self.dir.path());
        c
    }
}

/// The repository root (for the shipped scenarios).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped scenario's path.
pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}
