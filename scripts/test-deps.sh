#!/usr/bin/env bash
# What the tests need besides Rust, installed if missing: the PyPI `akismet` client (and `httpx`) that
# the Akismet integration test drives, with pip itself from Debian if the machine has none (a
# Debian-managed Python needs PIP_BREAK_SYSTEM_PACKAGES, which older pips ignore). Part of the README's
# test command: `./scripts/test-deps.sh && cargo test --release`.
set -euo pipefail
python3 -m pip --version >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q python3-pip; }
PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet \
  --disable-pip-version-check "akismet==25.10.1" "httpx>=0.28,<1"
