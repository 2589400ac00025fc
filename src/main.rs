use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = amity::cli::Cli::parse();
    amity::cli::init_tracing(&cli);
    match amity::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
