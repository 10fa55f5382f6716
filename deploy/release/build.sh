#!/usr/bin/env bash
# Build the offline release bundle of this source tree: one .tar.gz that installs a facility
# server with no internet (docs/admin-guide.md, section 2; docs/releasing.md).
#
#   deploy/release/build.sh [--out DIR] [--wheels DIR]
#
# The bundle holds the Stepstone wheel (with the pdf.js viewer built in), every dependency
# as a wheel checked against the SHA-256 in requirements.lock, deploy/ (systemd units, nginx
# site, certificate script, settings), the release notes, install.sh and SHA256SUMS.
# Run it on a connected machine with the server's Debian, CPU and Python (Linux x86_64,
# Python 3.11 on Debian 12): pip fetches wheels for the Python that runs it. --wheels takes
# the dependencies from a folder instead of PyPI (a previous bundle's wheels/, say); they
# are checked against the lock all the same. Prints the bundle's path last.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/dist"
WHEELS_FROM=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --wheels) WHEELS_FROM="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "build.sh: $PY is older than Python 3.11" >&2; exit 1; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/server/__init__.py")"
[ -n "$VERSION" ] || { echo "build.sh: no __version__ in server/__init__.py" >&2; exit 1; }
NAME="stepstone-$VERSION"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
STAGE="$(mktemp -d "$OUT/.$NAME.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
BUNDLE="$STAGE/$NAME"
mkdir -p "$BUNDLE/wheels" "$BUNDLE/deploy/nginx"

# The front-end players go inside the wheel: tablets load them from the server only, and
# the server never runs npm. Same staleness rule as .ci/check.
VENDOR="$ROOT/server/web/static/vendor/pdfjs/VERSION"
if [ ! -f "$VENDOR" ] || [ "$ROOT/frontend/package-lock.json" -nt "$VENDOR" ]; then
  command -v npm >/dev/null 2>&1 \
    || { echo "build.sh: npm is needed to put pdf.js in the release (apt-get install npm)" >&2; exit 1; }
  echo "== npm ci (pdf.js, pinned by frontend/package-lock.json)"
  npm ci --prefix "$ROOT/frontend" --silent
fi

echo "== the Stepstone wheel"
# Built from a copy, so the source tree gets no build/ or egg-info of this build.
SRC="$STAGE/src"
mkdir -p "$SRC"
(cd "$ROOT" && tar -cf - --exclude=./.venv --exclude=./.git --exclude='*/node_modules' \
  --exclude=./dist --exclude=./build --exclude='*.egg-info' --exclude='__pycache__' \
  --exclude=./var --exclude='./.*_cache' .) | tar -xf - -C "$SRC"
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$BUNDLE/wheels" "$SRC"
WHEEL="$BUNDLE/wheels/$NAME-py3-none-any.whl"
[ -f "$WHEEL" ] || { echo "build.sh: pip made no $NAME-py3-none-any.whl" >&2; exit 1; }
"$PY" - "$WHEEL" <<'CHECK'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
if "server/web/static/vendor/pdfjs/pdf.min.mjs" not in names:
    sys.exit("build.sh: the wheel has no pdf.js viewer (server/web/static/vendor/pdfjs/)")
CHECK

echo "== the dependencies, as wheels, each checked against requirements.lock"
# --no-deps: the lock already lists every package; --only-binary: nothing is compiled on
# the server. A file whose SHA-256 is not in the lock is refused.
FROM=()
if [ -n "$WHEELS_FROM" ]; then
  FROM=(--no-index --find-links "$WHEELS_FROM")
fi
"$PY" -m pip download --quiet --require-hashes --only-binary=:all: --no-deps \
  "${FROM[@]}" -r "$ROOT/requirements.lock" -d "$BUNDLE/wheels"

echo "== deploy files, release notes, installer"
cp "$ROOT"/deploy/*.service "$ROOT"/deploy/*.timer "$ROOT/deploy/stepstone.env" \
  "$ROOT/deploy/make-certs.sh" "$BUNDLE/deploy/"
cp "$ROOT/deploy/nginx/stepstone.conf" "$BUNDLE/deploy/nginx/"
cp "$ROOT/requirements.lock" "$ROOT/CHANGELOG.md" "$BUNDLE/"
install -m 0755 "$ROOT/deploy/release/install.sh" "$BUNDLE/install.sh"
printf '%s\n' "$VERSION" > "$BUNDLE/VERSION"
(cd "$BUNDLE" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort \
  | xargs -d '\n' sha256sum > SHA256SUMS)

TARBALL="$OUT/$NAME.tar.gz"
tar -czf "$TARBALL.part" -C "$STAGE" --owner=0 --group=0 "$NAME"
mv -f "$TARBALL.part" "$TARBALL"
echo "Built $TARBALL ($(du -h "$TARBALL" | cut -f1), $(ls "$BUNDLE/wheels" | wc -l) wheels)"
