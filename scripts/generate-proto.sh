#!/usr/bin/env bash
# Generates packages/proto/src/gen from proto/ with protoc (Debian's protobuf-compiler) and
# protoc-gen-es (pinned in package.json). Installs protoc when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: installing Debian's protobuf-compiler" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q protobuf-compiler >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q protobuf-compiler >/dev/null; }
fi
out=packages/proto/src/gen
rm -rf "$out"
mkdir -p "$out"
protoc -I proto \
  --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es \
  --es_out="$out" --es_opt=target=ts,import_extension=js \
  $(cd proto && find . -name '*.proto' | sed 's#^\./##' | sort)
