#!/usr/bin/env bash
# Regenerates the committed generated files (protobuf-es code and the GraphQL schema) and fails
# when they differ from what is committed: generated code must never drift from its sources.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent generate:proto
npm run --silent generate:schema

if ! git diff --exit-code -- packages/proto/src/gen graphql/schema.graphql; then
  echo "generated files drifted: run 'npm run generate' and commit the result" >&2
  exit 1
fi
untracked="$(git ls-files --others --exclude-standard -- packages/proto/src/gen graphql/schema.graphql)"
if [ -n "$untracked" ]; then
  echo "generated files not committed:" >&2
  echo "$untracked" >&2
  exit 1
fi
echo "no drift"
