//! Helpers shared by the tests that run the `saring` binary.

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// `../shared/data` (the public labeled sets), or `None` after saying on stderr that it is absent and
/// what is therefore not `measured`. The message is written to the stderr stream itself, which the test
/// harness does not capture (it captures `eprintln!`, showing it only for failing tests), so a passing
/// run says it too.
// Not every test binary that includes this module reads the shared data.
#[allow(dead_code)]
pub fn shared_data(measured: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.is_dir() {
        return Some(dir);
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {} is absent; {measured}",
        dir.display()
    );
    None
}
