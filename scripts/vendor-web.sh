#!/usr/bin/env bash
# Reproduces src/web/assets/vendor/ (the highlight.js build the snippet
# pages load, compiled into the binary; docs/web.md, "Highlighter") from
# the npm registry: the pinned version, its tarball checked against the
# registry's sha512 integrity recorded here, then the files against
# SHA256SUMS.
#   scripts/vendor-web.sh          fetch, check, build hljs.js, copy
#   scripts/vendor-web.sh --check  only check the committed files
# hljs.js is the package's "common" build (36 grammars) followed by the
# grammars of LANGUAGES, concatenated in that order. To upgrade: change
# VERSION and INTEGRITY (`npm view @highlightjs/cdn-assets@X
# dist.integrity`), run with UPDATE=1 to rewrite SHA256SUMS, review the
# diff. The served name carries a hash of the bytes (src/web/assets.rs):
# nothing else to bump.
set -euo pipefail
cd "$(dirname "$0")/../src/web/assets/vendor"

PACKAGE=@highlightjs/cdn-assets
VERSION=11.12.0
INTEGRITY=sha512-KvOKXODaiFmId9xaq3xc5xCL66wVLUuOngDbO9B/kewbFTqdGbn2nJxNhN3H5R1cgDTVj6R8vH0zgiNDEGjpDw==
# Common languages the common build lacks.
LANGUAGES=(dart dockerfile elixir erlang haskell powershell scala)

if [ "${1:-}" != --check ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  tgz="$tmp/highlightjs-cdn-assets-$VERSION.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$INTEGRITY" ]; then
    echo "vendor-web: $PACKAGE@$VERSION integrity mismatch: $got" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  {
    cat "$tmp/package/highlight.min.js"
    for l in "${LANGUAGES[@]}"; do
      echo
      cat "$tmp/package/languages/$l.min.js"
    done
  } > hljs.js
  cp "$tmp/package/LICENSE" LICENSE
  if [ "${UPDATE:-0}" = 1 ]; then sha256sum hljs.js LICENSE > SHA256SUMS; fi
fi
sha256sum --quiet -c SHA256SUMS
echo "vendor-web: $PACKAGE@$VERSION + ${#LANGUAGES[@]} grammars, files match SHA256SUMS"
