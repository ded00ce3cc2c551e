#!/usr/bin/env bash
# Regenerates every generated file (deepcopy, apply configurations, CRDs,
# RBAC, OLM bundle, the Helm chart's generated files) and fails if that changed anything in the working tree:
# generated files must be regenerated and committed with the change that
# needs them. It compares against the working tree, not git, so it works with
# uncommitted edits too.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(api config bundle deploy)
snapshot() {
  local existing=()
  for p in "${paths[@]}"; do [[ -e "$p" ]] && existing+=("$p"); done
  find "${existing[@]}" -type f | LC_ALL=C sort | xargs -r sha256sum
}
before=$(snapshot)
make --no-print-directory generate manifests bundle >/dev/null
after=$(snapshot)
if [[ "$before" != "$after" ]]; then
  echo "generated files were out of date and have been regenerated; review and commit:" >&2
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
  exit 1
fi
if [[ -n "$(gofmt -l $(git ls-files '*.go'))" ]]; then
  echo "gofmt needed on:" >&2
  gofmt -l $(git ls-files '*.go') >&2
  exit 1
fi
echo "generated files are up to date"
