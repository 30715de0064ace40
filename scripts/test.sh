#!/usr/bin/env bash
# The README's test command: everything the tests need, then every test.
# Tests that measure accuracy on ../shared/data say SKIPPED when that folder is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Akismet integration test drives saring with the real PyPI client (pip itself from Debian if the
# machine has none; a Debian-managed Python needs PIP_BREAK_SYSTEM_PACKAGES, which older pips ignore).
python3 -m pip --version >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q python3-pip; }
PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet \
  --disable-pip-version-check "akismet==25.10.1" "httpx>=0.28,<1"
cargo test --release
