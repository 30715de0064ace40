#!/usr/bin/env bash
# The README's test command: everything the tests need, then every test.
# Tests that measure accuracy on ../shared/data say SKIPPED when that folder is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Akismet integration test drives saring with the real PyPI client.
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
  "akismet==25.10.1" "httpx>=0.28,<1"
cargo test --release
