use std::process::ExitCode;

use clap::Parser;

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
