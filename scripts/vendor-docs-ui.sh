#!/usr/bin/env bash
# Reproduces src/http/docs_ui/vendor/ (the Swagger UI files `GET /docs`
# serves, compiled into the binary) from the npm registry: the pinned
# version, its tarball checked against the registry's sha512 integrity
# recorded here, then each copied file against SHA256SUMS.
#   scripts/vendor-docs-ui.sh          fetch, check, copy
#   scripts/vendor-docs-ui.sh --check  only check the committed files
# To upgrade: change VERSION and INTEGRITY (`npm view swagger-ui-dist@X
# dist.integrity`), run with UPDATE=1 to rewrite SHA256SUMS, review the
# diff, and change VERSION in src/http/docs_ui/mod.rs.
set -euo pipefail
cd "$(dirname "$0")/../src/http/docs_ui/vendor"

PACKAGE=swagger-ui-dist
VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
# The standalone bundle (React and the spec parser included), its CSS, the
# favicon the page links to (no 404 for /favicon.ico), and the licence.
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE)
GZIPPED=(swagger-ui-bundle.js swagger-ui.css)

if [ "${1:-}" != --check ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  tgz="$tmp/$PACKAGE-$VERSION.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$INTEGRITY" ]; then
    echo "vendor-docs-ui: $PACKAGE@$VERSION integrity mismatch: $got" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  for f in "${FILES[@]}"; do cp "$tmp/package/$f" "$f"; done
  # Precompressed copies, served to clients that accept gzip (-n: no name
  # or time in the header). Checked by decompressing below, not by hash:
  # another gzip may pick other bytes for the same content.
  for f in "${GZIPPED[@]}"; do gzip -9nc "$f" > "$f.gz"; done
  if [ "${UPDATE:-0}" = 1 ]; then sha256sum "${FILES[@]}" > SHA256SUMS; fi
fi
sha256sum --quiet -c SHA256SUMS
for f in "${GZIPPED[@]}"; do
  gzip -dc "$f.gz" | cmp -s - "$f" || { echo "vendor-docs-ui: $f.gz is not $f" >&2; exit 1; }
done
echo "vendor-docs-ui: $PACKAGE@$VERSION, ${#FILES[@]} files match SHA256SUMS"
