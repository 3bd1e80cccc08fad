//! The `pesto` command line: parses arguments, calls the libraries, prints results.

mod cluster;
mod commands;
mod signals;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.is::<commands::FailedElsewhere>() {
                commands::print_error(&err);
            }
            ExitCode::from(commands::exit_code(&err))
        }
    }
}

/// Lets a closed pipe end the process quietly, as for other Unix tools (`pesto tasks | head`),
/// instead of turning the failed write into a panic.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
