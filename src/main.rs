//! The `saring` binary: parse the command line, run the subcommand, turn an error into an exit code.

fn main() -> std::process::ExitCode {
    saring::cli::main()
}
