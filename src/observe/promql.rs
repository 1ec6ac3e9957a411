//! PromQL, parsed in process (promql-parser) so that expressions in the spec get located diagnostics
//! and cross-checks can see which metrics and jobs an expression selects.

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};

/// One series selector in an expression: the metric name and its label matchers.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub metric: Option<String>,
    /// `(label, value)` of equality matchers; regex matchers keep their pattern.
    pub matchers: Vec<(String, Match, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

pub fn parse(expr: &str) -> Result<Expr, String> {
    parser::parse(expr)
}

/// Every series selector of an expression, in the order they appear.
pub fn selectors(expr: &Expr) -> Vec<Selector> {
    let mut collector = Collector(Vec::new());
    let _ = walk_expr(&mut collector, expr);
    collector.0
}

struct Collector(Vec<Selector>);

impl ExprVisitor for Collector {
    type Error = ();

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
        let vs = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let matchers = vs
            .matchers
            .matchers
            .iter()
            .filter(|m| m.name != "__name__")
            .map(|m| {
                let op = match &m.op {
                    MatchOp::Equal => Match::Equal,
                    MatchOp::NotEqual => Match::NotEqual,
                    MatchOp::Re(_) => Match::Regex,
                    MatchOp::NotRe(_) => Match::NotRegex,
                };
                (m.name.clone(), op, m.value.clone())
            })
            .collect();
        let metric = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone())
        });
        self.0.push(Selector { metric, matchers });
        Ok(true)
    }
}

/// The jobs a selector names with `job="…"` or with a regex of plain alternatives `job=~"a|b"`.
pub fn named_jobs(selector: &Selector) -> Vec<String> {
    selector
        .matchers
        .iter()
        .filter(|(label, _, _)| label == "job")
        .flat_map(|(_, op, value)| match op {
            Match::Equal => vec![value.clone()],
            Match::Regex
                if value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_|".contains(c)) =>
            {
                value.split('|').map(str::to_string).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_selectors_and_jobs() {
        let expr = parse(r#"sum by (job) (rate(http_requests_total{job=~"a|b",status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))"#).unwrap();
        let found = selectors(&expr);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].metric.as_deref(), Some("http_requests_total"));
        assert_eq!(named_jobs(&found[0]), vec!["a", "b"]);
        assert!(named_jobs(&found[1]).is_empty());
    }

    #[test]
    fn reports_syntax_errors() {
        assert!(parse("sum by (job (rate(x[5m]))").is_err());
    }
}
