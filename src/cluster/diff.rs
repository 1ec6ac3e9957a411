//! `plat diff --env ENV`: what an apply would change, object by object, from server-side dry runs.

use std::io::Write;

use super::connect::Connection;
use super::live::{self, ObserveOptions, Resolver};
use super::report::{self, Counts};
use super::{Environment, Result};

/// Prints the diff; returns the counts and the errors found on the way.
pub async fn run(
    conn: &Connection,
    env: &Environment,
    concurrency: usize,
    out: &mut dyn Write,
) -> Result<(Counts, Vec<String>)> {
    let resolver = Resolver::default();
    let opts = ObserveOptions {
        dry_run: true,
        get_unlisted: true,
        concurrency,
        owners: false,
    };
    let obs = live::observe(&conn.client, &resolver, &env.set, opts).await?;
    let _ = write!(out, "{}", report::diff_text(&obs));
    let answer = (Counts::of(&obs), report::errors(&obs));
    super::drop_in_background(obs);
    Ok(answer)
}
