//! Stage 7, emit: the edge that writes `generated/` (all or nothing) and compares it with a fresh
//! render for `plat check`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::render::Files;

/// Replaces `out/<env>/` for each rendered environment. Everything is first written to a staging
/// folder next to the target; only when all of it is written are the folders swapped in, so a failure
/// leaves `generated/` as it was.
pub fn write_all(out: &Path, outputs: &[(String, Files)]) -> io::Result<()> {
    refuse_foreign(out)?;
    fs::create_dir_all(out)?;
    fs::write(out.join(MARKER), MARKER_TEXT)?;
    let staging = out.join(format!(".plat-staging-{}", std::process::id()));
    let result = stage_and_swap(out, &staging, outputs);
    let _ = remove_tree(&staging);
    result
}

/// Removes a folder and everything in it, the files by two threads: the staging folder holds the
/// previous output after the swap, and unlinking ten thousand files is system calls that overlap
/// well, as writing them does.
fn remove_tree(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(walkdir::DirEntry::into_path)
        .collect();
    let half = files.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        for chunk in files.chunks(half) {
            scope.spawn(move || chunk.iter().for_each(|f| drop(fs::remove_file(f))));
        }
    });
    fs::remove_dir_all(dir)
}

/// The file that marks a folder as plat's output. Its environment folders are replaced on every
/// render, so plat writes only into a folder that is new, empty, or marked.
pub const MARKER: &str = ".plat-output";
const MARKER_TEXT: &str =
    "This folder is written by `plat render`, which replaces its environment folders.\n";

/// Refuses a folder that holds files plat did not write: replacing its sub-folders that share an
/// environment's name would destroy them.
fn refuse_foreign(out: &Path) -> io::Result<()> {
    if !out.exists() || out.join(MARKER).is_file() {
        return Ok(());
    }
    if fs::read_dir(out)?.next().is_none() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "the folder is not empty and has no {MARKER} file, so plat did not write it; \
             point --out at a new or empty folder (if it is plat's output from a version without \
             the marker, delete it and render again)"
        ),
    ))
}

/// Folders of `out` that no rendered environment owns: output left behind by a removed or renamed
/// overlay, which `kubectl apply -k` or a GitOps tool would still deploy.
pub fn orphans(out: &Path, environments: &[String]) -> io::Result<Vec<String>> {
    if !out.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !name.starts_with('.') && !environments.contains(&name) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

fn stage_and_swap(out: &Path, staging: &Path, outputs: &[(String, Files)]) -> io::Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging)?;
    }
    for (env, files) in outputs {
        write_files(&staging.join(env), &files.files)?;
    }
    for (env, _) in outputs {
        let target = out.join(env);
        let old = staging.join(format!(".old-{env}"));
        if target.exists() {
            fs::rename(&target, &old)?;
        }
        if let Err(err) = fs::rename(staging.join(env), &target) {
            // Put the previous output back before reporting.
            if old.exists() {
                let _ = fs::rename(&old, &target);
            }
            return Err(err);
        }
    }
    Ok(())
}

/// Writes files below `dir`: each folder is made once, and the files are written by four threads
/// (creating ten thousand small files is dominated by system calls, which overlap well; four
/// measured faster than two on two cores).
fn write_files(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    let mut folders: Vec<PathBuf> = files
        .iter()
        .filter_map(|(p, _)| dir.join(p).parent().map(Path::to_path_buf))
        .collect();
    folders.sort();
    folders.dedup();
    for folder in &folders {
        fs::create_dir_all(folder)?;
    }
    let quarter = files.len().div_ceil(4);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(quarter.max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .try_for_each(|(path, text)| fs::write(dir.join(path), text))
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(io::Error::other("a writer thread panicked")))
        })
    })
}

/// How the files on disk differ from a fresh render.
#[derive(Debug, Default)]
pub struct Staleness {
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    /// Path and unified diff (on disk → rendered).
    pub changed: Vec<(String, String)>,
}

impl Staleness {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }
}

/// Compares `out/<env>/` with the rendered files.
pub fn compare(out: &Path, env: &str, files: &Files) -> io::Result<Staleness> {
    let dir = out.join(env);
    let mut report = Staleness::default();
    let on_disk = list_files(&dir)?;
    for (path, text) in &files.files {
        match fs::read(dir.join(path)) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            Ok(bytes) => {
                let old = String::from_utf8_lossy(&bytes);
                let diff = TextDiff::from_lines(old.as_ref(), text.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("generated/{env}/{path} (on disk)"),
                        &format!("generated/{env}/{path} (rendered)"),
                    )
                    .to_string();
                report.changed.push((path.clone(), diff));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => report.missing.push(path.clone()),
            Err(err) => return Err(err),
        }
    }
    for path in on_disk {
        if files.get(&path).is_none() {
            report.extra.push(path);
        }
    }
    Ok(report)
}

/// Files below `dir`, as `/`-separated relative paths, sorted. A missing folder has none.
fn list_files(dir: &Path) -> io::Result<Vec<String>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            let relative: PathBuf = entry
                .path()
                .strip_prefix(dir)
                .map_err(io::Error::other)?
                .to_path_buf();
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(out)
}
