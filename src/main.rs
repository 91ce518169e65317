use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = casebook::cli::Cli::parse();
    casebook::telemetry::init(cli.globals.log_format);
    casebook::cli::run(cli)
}
