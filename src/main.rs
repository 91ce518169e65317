use clap::Parser;
use std::process::ExitCode;

casebook::jemalloc!();

fn main() -> ExitCode {
    let cli = casebook::cli::Cli::parse();
    casebook::telemetry::init(cli.globals.log_format);
    casebook::cli::run(cli)
}
