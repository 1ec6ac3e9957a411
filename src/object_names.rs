//! The final names of the objects an environment renders, checked against what the API server accepts
//! for their kind: every name plat derives with a suffix (`-blue`, `-hpa`, `-pdb`, a volume's config
//! map, a job's hash, a fleet instance's id) and every name an operator derives from plat's custom
//! resources (`src/operator_pods.rs`). The spec's own names are checked where they are read; only the
//! final name shows whether the suffix still fits.

use crate::diag::{Diagnostic, Diagnostics};
use crate::rules::{Broken, names};
use crate::source::Origin;

/// The longest name of a StatefulSet or CronJob whose pods or Jobs still get valid names and labels:
/// a StatefulSet's pods carry `controller-revision-hash: <name>-<10 characters>`, a label value of at
/// most 63 characters; a CronJob's Jobs are `<name>-<11 digits>` (the API server enforces 52).
const SUFFIXED_MAX: usize = 52;

const STATEFUL_RULE: &str = "at most 52 characters, and a DNS-1123 label: the controller adds an 11-character suffix to the names and labels of what it creates, which must stay within 63";

/// The rule of a kind's name: DNS-1035 labels for Services, DNS-1123 labels for what becomes a label
/// value or host name (Namespaces, Jobs, whose name is their pods' `job-name` label, and pods), 52
/// characters for StatefulSets and CronJobs, DNS-1123 subdomains for everything else.
pub fn name_rule(kind: &str, name: &str) -> Result<(), Broken> {
    match kind {
        "Service" => names::dns1035_label(name),
        "Namespace" | "Job" | "Pod" => names::dns1123_label(name),
        "StatefulSet" | "CronJob" => {
            names::dns1123_label(name).map_err(|b| Broken::new(b.problem, STATEFUL_RULE))?;
            if name.len() > SUFFIXED_MAX {
                return Err(Broken::new(
                    format!(
                        "is {} characters long, more than {SUFFIXED_MAX}",
                        name.len()
                    ),
                    STATEFUL_RULE,
                ));
            }
            Ok(())
        }
        _ => names::dns1123_subdomain(name),
    }
}

/// Reports a final name its kind does not accept, at the spec entry that produces it. `by` says who
/// derives it when that is an operator.
pub fn check(kind: &str, name: &str, by: Option<&str>, origin: Origin, diags: &mut Diagnostics) {
    let Err(broken) = name_rule(kind, name) else {
        return;
    };
    let who = by.unwrap_or("plat");
    diags.push(
        Diagnostic::error(
            "P0110",
            format!(
                "the {kind} name `{name}` that {who} derives from this entry {}",
                broken.problem
            ),
        )
        .at(origin, "the entry whose name it is built from")
        .help(format!(
            "it must be {}: shorten the entry's name",
            broken.rule
        )),
    );
}
