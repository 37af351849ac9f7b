#!/usr/bin/env bash
# Fetch the portal's pinned front-end assets from the npm registry (`npm pack NAME@VERSION`) and copy
# the built files plus their licence under static/vendor/<name>-<version>/. The results are committed,
# so running the lab needs neither Node nor the network; run this only to change a version.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name version file-in-package...
assets=(
  "htmx.org 2.0.11 dist/htmx.min.js LICENSE"
  "bootstrap 5.3.8 dist/css/bootstrap.min.css dist/js/bootstrap.bundle.min.js LICENSE"
  "chart.js 4.6.1 dist/chart.umd.min.js LICENSE.md"
  "chartjs-plugin-annotation 3.1.0 dist/chartjs-plugin-annotation.min.js LICENSE.md"
  "mermaid 11.17.2 dist/mermaid.min.js LICENSE"
)
for line in "${assets[@]}"; do
  read -r name version files <<<"$line"
  tarball=$(cd "$work" && npm pack --silent "$name@$version")
  mkdir -p "$work/$name" && tar -xzf "$work/$tarball" -C "$work/$name"
  out="$dest/$name-$version"
  rm -rf "$out" && mkdir -p "$out"
  for f in $files; do cp "$work/$name/package/$f" "$out/"; done
  echo "$name@$version from the npm registry ($(sha256sum "$work/$tarball" | cut -c1-16)…)" >"$out/VERSION"
  echo "vendored $out"
done
