#!/usr/bin/env bash
# `npm run check:git-install [-- <commit>]`: installs ringcdn into a fresh app
# the way `npm install git+https://…/ringcdn.git` or `npm install github:owner/ringcdn`
# would, from a bare clone of this repository on disk (`git+file://…#<commit>`,
# the committed state only, as a git host serves it), checks that the installed
# package works, and prints the time and the sizes.
#
# For a git dependency npm clones the repository, installs all its
# dependencies and devDependencies in the clone (the whole dev toolchain:
# aegir, TypeScript, esbuild, …), runs its `prepare` script there (our build)
# and packs the result as `npm pack` would; the app gets only the packed files.
# That costs minutes and about a gigabyte of temporary disk, which is why this
# is a script and not part of `npm test`.
#
# Not a test of the network: the bare clone is local and npm installs from its
# cache where it can (--prefer-offline). KEEP=1 keeps the work directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COMMIT=$(git -C "$ROOT" rev-parse "${1:-HEAD}")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringcdn-git-install-XXXXXX")
if [ -z "${KEEP:-}" ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
CACHE_TMP="$(npm config get cache)/_cacache/tmp"

fail () {
  echo "check-git-install: FAILED: $*" >&2
  exit 1
}

if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
  echo "check-git-install: note: uncommitted changes are not installed (a git install takes commit ${COMMIT:0:12})" >&2
fi

git clone --quiet --bare "$ROOT" "$WORK/ringcdn.git"
mkdir "$WORK/app"
cd "$WORK/app"
printf '{ "name": "git-install-app", "private": true, "type": "module" }\n' > package.json

# the largest size the temporary clone (with its devDependencies) reaches, sampled every 2 s
(
  max=0
  while sleep 2; do
    now=$(du -sm "$CACHE_TMP"/git-clone* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    if [ "$now" -gt "$max" ]; then max=$now; echo "$max" > "$WORK/clone-peak-mb"; fi
  done
) &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

echo "check-git-install: npm install git+file://$WORK/ringcdn.git#${COMMIT:0:12} (node $(node --version), npm $(npm --version))" >&2
START=$(date +%s)
if ! npm install --prefer-offline --no-audit --no-fund --foreground-scripts "git+file://$WORK/ringcdn.git#$COMMIT" > "$WORK/install.log" 2>&1; then
  tail -40 "$WORK/install.log" >&2
  fail "npm install of the git URL failed (log above)"
fi
SECS=$(( $(date +%s) - START ))
kill "$SAMPLER" 2>/dev/null || true

PKG=node_modules/ringcdn
[ -f "$PKG/dist/src/index.js" ] || fail "the installed package has no dist/src/index.js: nothing built it (npm runs only 'prepare' for a git dependency)"
[ -f "$PKG/dist/browser/ringcdn.js" ] || fail "the installed package has no browser bundle (dist/browser/ringcdn.js)"
[ ! -d "$PKG/node_modules/aegir" ] && [ ! -d node_modules/aegir ] || fail "the dev toolchain (aegir) ended up in the app"
VERSION=$(npx --no-install ringcdn --version) || fail "npx ringcdn --version failed"
RELAY_VERSION=$(npx --no-install ringcdn-relay --version) || fail "npx ringcdn-relay --version failed"
node --input-type=module -e "const m = await import('ringcdn'); if (typeof m.ringCdn !== 'function') throw new Error('no ringCdn export')" || fail "import('ringcdn') failed"

echo "ringcdn --version: $VERSION; ringcdn-relay --version: $RELAY_VERSION; import('ringcdn') ok"
echo "install time: ${SECS} s"
echo "app: $(grep -o 'added [0-9]* packages' "$WORK/install.log" || echo '? packages'), node_modules $(du -sm node_modules | cut -f1) MB; ringcdn itself $(du -sm "$PKG" | cut -f1) MB, $(find "$PKG" -type f | wc -l) files"
echo "temporary clone with its devDependencies, peak: $(cat "$WORK/clone-peak-mb" 2>/dev/null || echo '?') MB (sampled every 2 s)"
