#!/usr/bin/env bash
# The README's test command: everything the tests need, then every test.
# Tests that measure accuracy on ../shared/data say SKIPPED when that folder is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
