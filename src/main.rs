use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the cluster stage builds and frees millions of small
/// JSON values (a no-op diff of a 10,000-tenant environment parses 60,000 live objects), where
/// glibc's malloc spent a fifth of the time (see docs/benchmark.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match plat::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // clap's help and version are not errors.
            return if err.use_stderr() {
                ExitCode::from(plat::cli::EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    plat::cli::run(cli)
}
