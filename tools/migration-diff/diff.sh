#!/usr/bin/env bash
# Prints the SQL that turns the schema at FROM (a git revision, or "empty") into the working tree's
# prisma/schema.prisma. Usage: tools/migration-diff/diff.sh [FROM] > prisma/migrations/<ts>_<name>/migration.sql
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
from=${1:-HEAD}
[ -d "$here/node_modules" ] || (cd "$here" && npm ci --silent)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Prisma 6 wants a datasource url and the classic generator; neither changes the SQL.
to_v6() { sed -e 's/provider     = "prisma-client"/provider = "prisma-client-js"/' -e '/moduleFormat\|runtime  \|output /d' \
  -e 's|provider = "postgresql"|provider = "postgresql"\n  url = "postgresql://localhost/unused"|'; }
to_v6 < "$root/prisma/schema.prisma" > "$tmp/to.prisma"
cd "$here"
export PRISMA_QUERY_ENGINE_LIBRARY="$here/package.json" PRISMA_SCHEMA_ENGINE_BINARY="$here/package.json"
if [ "$from" = empty ]; then
  npx prisma migrate diff --from-empty --to-schema-datamodel "$tmp/to.prisma" --script
else
  git -C "$root" show "$from:prisma/schema.prisma" | to_v6 > "$tmp/from.prisma"
  npx prisma migrate diff --from-schema-datamodel "$tmp/from.prisma" --to-schema-datamodel "$tmp/to.prisma" --script
fi
