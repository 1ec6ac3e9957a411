//! What the tests that run outside tools share.

use std::path::{Path, PathBuf};

/// Finds an oracle tool on PATH or in the virtualenv `.ci/install-oracles.sh` creates. A missing tool
/// fails the test with the command that installs it; it never skips.
pub fn tool(name: &str) -> PathBuf {
    let venv = std::env::var("PLAT_ORACLE_VENV").unwrap_or_else(|_| "/opt/plat-oracles".into());
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(Path::new(&venv).join("bin"));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: run `bash .ci/install-oracles.sh` (or scripts/test.sh)"
            )
        })
}
