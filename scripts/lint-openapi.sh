#!/usr/bin/env bash
# `make lint-openapi` (part of `make lint`): the OpenAPI document as the
# server serves it (src/http/openapi.json with the request schemas of
# src/snippets/schemas/ put in, as `http::openapi()` does) linted by
# Spectral's `spectral:oas` ruleset; any warning fails. Spectral is pinned
# in tools/spectral/package-lock.json (npm ci on first use).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/tools/spectral
if [ ! -x "$tools/node_modules/.bin/spectral" ]; then
  (cd "$tools" && npm ci --no-audit --no-fund --silent)
fi
doc=$(mktemp --suffix=.json)
trap 'rm -f "$doc"' EXIT
python3 - "$root" "$doc" <<'PY'
import json, sys
root, out = sys.argv[1], sys.argv[2]
doc = json.load(open(f"{root}/src/http/openapi.json"))
schemas = doc["components"]["schemas"]
schemas["SnippetInput"] = json.load(open(f"{root}/src/snippets/schemas/snippet-input.json"))
schemas["SnippetPatch"] = json.load(open(f"{root}/src/snippets/schemas/snippet-patch.json"))
json.dump(doc, open(out, "w"), indent=2)
PY
"$tools/node_modules/.bin/spectral" lint --quiet --fail-severity=warn \
  --ruleset "$tools/.spectral.yaml" "$doc"
echo "lint-openapi: spectral:oas, 0 warnings"
