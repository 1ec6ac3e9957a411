//! What a long apply shows while it runs. On a terminal: one status line, redrawn at most ten times a
//! second, with the current stage and the counts so far; every other line (failures, hooks, gates,
//! the summary) is written above it. Otherwise (a pipeline's log, a test): one plain line per object
//! written, as always. `Progress` is the apply's writer: whatever the apply prints goes through it.

use std::io::Write;
use std::time::{Duration, Instant};

use super::plan::{ObjKey, Stage};

const REDRAW: Duration = Duration::from_millis(100);
/// Return to the start of the line and clear it.
const CLEAR: &str = "\r\x1b[K";

pub struct Progress<'a> {
    out: &'a mut dyn Write,
    terminal: bool,
    total: usize,
    stage: String,
    created: usize,
    configured: usize,
    unchanged: usize,
    failed: usize,
    drawn: Option<Instant>,
}

impl<'a> Progress<'a> {
    pub fn new(out: &'a mut dyn Write, total: usize, terminal: bool) -> Progress<'a> {
        Progress {
            out,
            terminal,
            total,
            stage: String::new(),
            created: 0,
            configured: 0,
            unchanged: 0,
            failed: 0,
            drawn: None,
        }
    }

    /// A new stage starts.
    pub fn stage(&mut self, stage: Stage) {
        self.stage = format!("{stage:?}").to_lowercase();
        self.draw(true);
    }

    /// Objects of the stage that need no write.
    pub fn unchanged(&mut self, count: usize) {
        self.unchanged += count;
        self.draw(false);
    }

    /// One object was written (`verb` is "created", "configured" or "replaced"). A replacement
    /// (deleted and created again) gets a line of its own on a terminal too: it is rare, and what it
    /// did matters.
    pub fn written(&mut self, verb: &str, key: &ObjKey) {
        if verb == "created" {
            self.created += 1;
        } else {
            self.configured += 1;
        }
        if self.terminal && verb != "replaced" {
            self.draw(false);
        } else {
            let _ = writeln!(self, "{verb} {key}");
        }
    }

    /// One object failed; its line is written by the caller.
    pub fn failed(&mut self) {
        self.failed += 1;
    }

    /// Clears the status line for good (before the apply's summary).
    pub fn finish(&mut self) {
        self.stage.clear();
        if self.terminal && self.drawn.take().is_some() {
            let _ = write!(self.out, "{CLEAR}");
            let _ = self.out.flush();
        }
    }

    /// The status line: stage and counts.
    pub fn status(&self) -> String {
        let done = self.created + self.configured + self.unchanged + self.failed;
        format!(
            "apply: {} · {done}/{} objects · {} created, {} configured, {} unchanged, {} failed",
            self.stage, self.total, self.created, self.configured, self.unchanged, self.failed
        )
    }

    fn draw(&mut self, now: bool) {
        if !self.terminal {
            return;
        }
        let due = self.drawn.is_none_or(|t| t.elapsed() >= REDRAW);
        if now || due {
            let _ = write!(self.out, "{CLEAR}{}", self.status());
            let _ = self.out.flush();
            self.drawn = Some(Instant::now());
        }
    }
}

/// Lines written through the progress go above the status line, which is drawn again after them.
impl Write for Progress<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.terminal && self.drawn.take().is_some() {
            self.out.write_all(CLEAR.as_bytes())?;
        }
        self.out.write_all(buf)?;
        if self.terminal && buf.ends_with(b"\n") && !self.stage.is_empty() {
            self.draw(true);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::plan::GroupKind;

    fn key(name: &str) -> ObjKey {
        ObjKey {
            gk: GroupKind::new("", "ConfigMap"),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn plain_output_is_one_line_per_object_written() {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, 3, false);
        p.stage(Stage::Config);
        p.unchanged(1);
        p.written("created", &key("a"));
        p.written("configured", &key("b"));
        let _ = writeln!(p, "apply: done");
        p.finish();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "created ConfigMap ns/a\nconfigured ConfigMap ns/b\napply: done\n"
        );
    }

    #[test]
    fn a_terminal_gets_one_status_line_with_the_stage_and_counts() {
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, 4, true);
        p.stage(Stage::Workloads);
        p.unchanged(1);
        p.written("created", &key("a"));
        p.failed();
        let _ = writeln!(p, "failed ConfigMap ns/b: no");
        p.written("replaced", &key("c"));
        let status = p.status();
        p.finish();
        assert_eq!(
            status,
            "apply: workloads · 4/4 objects · 1 created, 1 configured, 1 unchanged, 1 failed"
        );
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("created ConfigMap"), "{text:?}");
        assert!(
            text.contains(&format!(
                "{CLEAR}replaced ConfigMap ns/c\n{CLEAR}apply: workloads"
            )),
            "{text:?}"
        );
        // The failure is a line of its own, with the status line drawn again below it.
        assert!(
            text.contains(&format!(
                "{CLEAR}failed ConfigMap ns/b: no\n{CLEAR}apply: workloads"
            )),
            "{text:?}"
        );
        assert!(text.ends_with(CLEAR), "{text:?}");
    }
}
