#!/usr/bin/env bash
# Rewrites the --help block of docs/cli.md from the built binary (the cli test fails when they differ).
set -euo pipefail
cd "$(dirname "$0")/.."
help=$("${BPTRAIN:-build/bptrain}" --help)
python3 - "$help" <<'PY'
import re, sys
doc = open("docs/cli.md").read()
block = "<!-- help:start -->\n```\n" + sys.argv[1] + "\n```\n<!-- help:end -->"
doc = re.sub(r"<!-- help:start -->.*<!-- help:end -->", lambda m: block, doc, flags=re.S)
open("docs/cli.md", "w").write(doc)
PY
