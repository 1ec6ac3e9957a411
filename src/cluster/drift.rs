//! `plat drift --env ENV`: what differs between the spec and the cluster, and who changed it. Made
//! for a scheduled CI job: exit 0 without drift, 1 with drift, 2 on error.

use super::connect::Connection;
use super::live::{self, ObserveOptions, Resolver};
use super::report::{self, Drift};
use super::{Environment, Result};

pub async fn run(conn: &Connection, env: &Environment, concurrency: usize) -> Result<Drift> {
    let resolver = Resolver::default();
    let opts = ObserveOptions {
        dry_run: true,
        get_unlisted: true,
        concurrency,
        owners: true,
    };
    let obs = live::observe(&conn.client, &resolver, &env.set, opts).await?;
    let drift = report::drift(&obs, &env.name, &conn.context, &env.namespace);
    super::drop_in_background(obs);
    Ok(drift)
}
