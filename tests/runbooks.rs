//! Every alert of every environment has a runbook under `generated/<env>/runbooks/`, written from the
//! spec: its meaning, its exact PromQL, its dashboards and first steps (src/observe/runbooks.rs).

use std::path::Path;

use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const ENVIRONMENTS: [&str; 5] = ["dev", "test", "staging", "prod", "dr"];

fn alerting_rules(env: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(
        repo()
            .join("generated")
            .join(env)
            .join("prometheus/rules.yaml"),
    )
    .unwrap();
    let rules = plat::yaml::parse_yaml_stream(&text).unwrap().remove(0);
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

#[test]
fn every_alert_has_a_runbook_with_its_meaning_promql_dashboards_and_first_steps() {
    for env in ENVIRONMENTS {
        let rules = alerting_rules(env);
        assert!(!rules.is_empty(), "{env} has alerts");
        for rule in &rules {
            let name = rule["alert"].as_str().unwrap();
            let path = repo()
                .join("generated")
                .join(env)
                .join(format!("runbooks/{name}.md"));
            let page = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!("{env}: alert {name} has no runbook at {}", path.display())
            });
            assert!(page.starts_with(&format!("# {name}\n")), "{env}/{name}");
            let expr = rule["expr"].as_str().unwrap();
            assert!(
                page.contains(&format!("```promql\n{expr}\n```")),
                "{env}/{name}: the runbook shows the alert's PromQL"
            );
            let summary = rule["annotations"]["summary"].as_str().unwrap();
            assert!(page.contains(summary), "{env}/{name}: summary");
            let url = rule["annotations"]["runbook_url"].as_str().unwrap();
            assert!(page.contains(url), "{env}/{name}: where it is published");
            let dashboards = section(&page, "## Dashboards");
            assert!(
                dashboards
                    .lines()
                    .any(|l| l.starts_with("- ") && l.contains("grafana/")),
                "{env}/{name}: no dashboard in {dashboards:?}"
            );
            let steps = section(&page, "## First steps");
            assert!(
                steps
                    .lines()
                    .filter(|l| l.starts_with(char::is_numeric))
                    .count()
                    >= 2,
                "{env}/{name}: first steps {steps:?}"
            );
        }
        // No runbook for an alert that does not exist.
        let pages = std::fs::read_dir(repo().join("generated").join(env).join("runbooks"))
            .unwrap()
            .count();
        assert_eq!(pages, rules.len(), "{env}: one runbook per alert");
    }
}

/// A service's alert lists that service's dashboard, not only the overview.
#[test]
fn a_services_alert_links_its_own_dashboard() {
    let page =
        std::fs::read_to_string(repo().join("generated/prod/runbooks/AstrBotInstanceDown.md"))
            .unwrap();
    assert!(
        page.contains("grafana/saas-platform-astrbot-instance.json"),
        "{page}"
    );
    let page =
        std::fs::read_to_string(repo().join("generated/prod/runbooks/SLOErrorBudgetBurnFast.md"))
            .unwrap();
    assert!(
        page.contains("grafana/saas-platform-api-gateway.json"),
        "{page}"
    );
}

fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in {page}"))
        + heading.len();
    let rest = &page[start..];
    rest.find("\n## ").map_or(rest, |end| &rest[..end])
}
