//! The rules of the tools that read plat's output, as pure functions: each takes a value and returns
//! `Ok` or a [`Broken`] that says what is wrong and quotes the rule, for the finding's help. This is
//! the bottom layer: it knows nothing of plat's spec, so every reader (and every new key) can call the
//! same rule for the same kind of value.

pub mod cron;
pub mod duration;
pub mod image;
pub mod names;
pub mod network;
pub mod numbers;
pub mod paths;
pub mod time;

/// Why a value breaks a rule: the problem in a few words, and the rule itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub problem: String,
    pub rule: &'static str,
}

impl Broken {
    pub fn new(problem: impl Into<String>, rule: &'static str) -> Broken {
        Broken {
            problem: problem.into(),
            rule,
        }
    }
}

pub type Rule = Result<(), Broken>;
