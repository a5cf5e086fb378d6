#!/usr/bin/env bash
# Rewrites the --help block of README.md from the built binary (the cli test fails when they differ).
set -euo pipefail
cd "$(dirname "$0")/.."
help=$("${BPTRAIN:-build/bptrain}" --help)
python3 - "$help" <<'PY'
import re, sys
readme = open("README.md").read()
block = "<!-- help:start -->\n```\n" + sys.argv[1] + "\n```\n<!-- help:end -->"
readme = re.sub(r"<!-- help:start -->.*<!-- help:end -->", lambda m: block, readme, flags=re.S)
open("README.md", "w").write(readme)
PY
