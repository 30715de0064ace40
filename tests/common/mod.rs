//! Helpers shared by the tests that run the `saring` binary.

use std::process::Output;

use assert_cmd::Command;

/// The `saring` binary, with no `SARING_MODEL` from the environment of the test run.
pub fn saring() -> Command {
    let mut cmd = Command::cargo_bin("saring").expect("the saring binary is built");
    cmd.env_remove("SARING_MODEL");
    cmd
}

/// Fails the test with the command's stderr unless it succeeded.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
