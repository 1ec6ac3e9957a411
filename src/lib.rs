//! plat: a declarative infrastructure compiler. One typed platform spec plus one overlay per
//! environment compile into Kubernetes manifests under `generated/<env>/`.
//!
//! The stages, in order (see `docs/architecture.md`): [`load`] → [`merge`] → [`spec`] (read) →
//! [`validate`] → [`lower`] → [`render`] → [`emit`]. Everything up to `render` is pure; input comes
//! through a [`world::World`] and `emit` is the only stage that writes.

pub mod capacity;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod compile;
pub mod decode;
pub mod diag;
pub mod emit;
pub mod excerpt;
pub mod explain;
pub mod extra;
pub mod facts;
pub mod kit;
pub mod load;
pub mod lower;
pub mod merge;
pub mod node;
pub mod object_names;
pub mod observe;
pub mod operator_pods;
pub mod output;
pub mod patch;
pub mod policy;
pub mod preview;
pub mod recovery;
pub mod render;
pub mod report;
pub mod rules;
pub mod schemas;
pub mod source;
pub mod spec;
pub mod spec_schema;
pub mod validate;
pub mod validate_accounts;
pub mod validate_workload;
pub mod waivers;
pub mod world;
pub mod yaml;
