#!/usr/bin/env bash
# Install, upgrade or roll back Stepstone from this release bundle, with no internet.
# Run it as root from the unpacked bundle (docs/admin-guide.md, sections 2 and 9):
#
#   ./install.sh install     first install: user, program, data folder, units, nginx site
#   ./install.sh upgrade     back up, install this version beside the running one, migrate,
#                            check, switch; goes back by itself when the check fails
#   ./install.sh rollback    back to the version and data from before the last upgrade
#   ./install.sh status      which versions are installed and which one runs
#
# Each version lives in /opt/stepstone/releases/<version>/venv; /opt/stepstone/venv (what
# the systemd units start) points at the current one. pip installs only the wheels in this
# bundle (--no-index), each checked against the SHA-256 in requirements.lock.
#
# STEPSTONE_PREFIX=DIR puts every path under DIR and skips what needs the whole machine
# (the system user, file owners, systemctl): for trying a bundle out, and for its tests.
set -euo pipefail

BUNDLE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${STEPSTONE_PREFIX:-}"
OPT="$PREFIX/opt/stepstone"
RELEASES="$OPT/releases"
DATA="$PREFIX/var/lib/stepstone"
BACKUPS="$PREFIX/var/backups/stepstone"
ETC="$PREFIX/etc/stepstone"
UNITS="$PREFIX/etc/systemd/system"
NGINX="$PREFIX/etc/nginx"
STATE="$OPT/last-upgrade"
USER_NAME=stepstone
PY="${PYTHON:-python3}"

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
system() { [ -z "$PREFIX" ]; }
systemd_running() { system && [ -d /run/systemd/system ]; }

VERSION="$(cat "$BUNDLE/VERSION" 2>/dev/null)" || fail "no VERSION file: run me from an unpacked bundle"

verify_bundle() {
  # Every file of the bundle as it was built; a changed or missing file stops everything.
  (cd "$BUNDLE" && sha256sum --check --quiet --strict SHA256SUMS) \
    || fail "the bundle does not match its SHA256SUMS: copy it again from the release"
}

preflight() {
  if system && [ "$(id -u)" != 0 ]; then
    fail "run me as root (or set STEPSTONE_PREFIX to try the bundle in a folder)"
  fi
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || fail "Stepstone needs Python 3.11 or newer as $PY (Debian 12: apt-get install python3)"
  "$PY" -c 'import ensurepip, venv' 2>/dev/null \
    || fail "Python cannot make virtual environments (Debian: apt-get install python3-venv)"
}

# As the server's user, with the server's settings (the units' environment file).
as_server() {
  local env=(STEPSTONE_DATA_DIR="$DATA")
  if [ -f "$ETC/stepstone.env" ]; then
    while IFS= read -r line; do
      case "$line" in ''|'#'*) ;; *=*) env+=("$line") ;; esac
    done < "$ETC/stepstone.env"
  fi
  if system; then
    runuser -u "$USER_NAME" -- env "${env[@]}" "$@"
  else
    env "${env[@]}" "$@"
  fi
}

install_release() {
  # The program of this bundle in releases/<version>, from its wheels only. A venv records
  # its own path, so it is made where it stays; it runs only once switch_to points at it,
  # so a half-made one (power cut, full disk) is never started and is made again next time.
  local release="$RELEASES/$VERSION"
  rm -rf "$release"
  mkdir -p "$RELEASES"
  say "== Installing Stepstone $VERSION into $release (no network: only this bundle's wheels)"
  "$PY" -m venv "$release/venv"
  local pip=("$release/venv/bin/pip" --disable-pip-version-check --no-cache-dir --no-input
    --isolated)
  "${pip[@]}" install --quiet --no-index --find-links "$BUNDLE/wheels" --require-hashes \
    -r "$BUNDLE/requirements.lock"
  "${pip[@]}" install --quiet --no-index --no-deps \
    "$BUNDLE/wheels/stepstone-$VERSION-py3-none-any.whl"
  "${pip[@]}" check >/dev/null || fail "pip check found broken requirements in $release"
  cp -r "$BUNDLE/deploy" "$BUNDLE/CHANGELOG.md" "$BUNDLE/requirements.lock" \
    "$BUNDLE/VERSION" "$release/"
}

switch_to() {
  # /opt/stepstone/current -> releases/<version>, replaced in one rename.
  ln -sfn "releases/$1" "$OPT/current.new"
  mv -T "$OPT/current.new" "$OPT/current"
  [ -L "$OPT/venv" ] || ln -s current/venv "$OPT/venv"
}

current_version() {
  [ -L "$OPT/current" ] && basename "$(readlink "$OPT/current")"
}

setup_machine() {
  if system; then
    id "$USER_NAME" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/stepstone \
      --shell /usr/sbin/nologin "$USER_NAME"
  fi
  install -d -m 0750 "$ETC"
  if [ ! -f "$ETC/stepstone.env" ]; then
    install -m 0640 "$BUNDLE/deploy/stepstone.env" "$ETC/stepstone.env"
    say "Settings: $ETC/stepstone.env (set STEPSTONE_FACILITY_NAME there)"
  elif ! cmp -s "$BUNDLE/deploy/stepstone.env" "$ETC/stepstone.env"; then
    install -m 0640 "$BUNDLE/deploy/stepstone.env" "$ETC/stepstone.env.new"
    say "Kept your $ETC/stepstone.env; this release's example is beside it as stepstone.env.new"
  fi
  install -d -m 0700 "$DATA" "$DATA/store" "$BACKUPS"
  if system; then
    chown root:"$USER_NAME" "$ETC" "$ETC/stepstone.env"
    chown "$USER_NAME:$USER_NAME" "$DATA" "$DATA/store" "$BACKUPS"
  fi
}

install_units() {
  install -d -m 0755 "$UNITS" "$NGINX/sites-available" "$NGINX/sites-enabled"
  install -m 0644 "$BUNDLE"/deploy/*.service "$BUNDLE"/deploy/*.timer "$UNITS/"
  install -m 0644 "$BUNDLE/deploy/nginx/stepstone.conf" "$NGINX/sites-available/stepstone.conf"
  ln -sfn ../sites-available/stepstone.conf "$NGINX/sites-enabled/stepstone.conf"
  rm -f "$NGINX/sites-enabled/default"
  if [ ! -f "$ETC/tls/server.crt" ]; then
    say "No certificate yet: make one with deploy/make-certs.sh and put server.crt and"
    say "server.key in $ETC/tls/ (docs/deploy.md, section 3) before starting nginx."
  fi
}

services() {
  # start | stop: the server and its timers, where systemd runs them.
  if systemd_running; then
    if [ "$1" = start ]; then
      systemctl daemon-reload
      systemctl enable --now stepstone.service stepstone-sync.timer stepstone-backup.timer
      if [ -f "$ETC/tls/server.crt" ]; then nginx -t && systemctl reload-or-restart nginx; fi
    else
      systemctl stop stepstone.service stepstone-sync.timer stepstone-backup.timer
    fi
  elif system; then
    say "systemd is not running here: $1 stepstone.service and its timers yourself."
  fi
}

healthy() {
  # `stepstone check` with no failing line. Warnings (no backup yet, no sync yet) are
  # printed for the admin but do not stop an install or an upgrade.
  local report
  report="$(as_server "$OPT/venv/bin/stepstone" check --json --quick)" || true
  printf '%s\n' "$report" | "$PY" -c '
import json, sys
report = json.load(sys.stdin)
bad = False
for key, check in report["checks"].items():
    print("  %-5s %s: %s" % (check["status"], key, check["message"]))
    bad = bad or check["status"] == "fail"
sys.exit(1 if bad else 0)'
}

cmd_install() {
  verify_bundle
  preflight
  if [ -n "$(current_version || true)" ]; then
    fail "Stepstone $(current_version) is already installed here: use ./install.sh upgrade"
  fi
  if [ -e "$OPT/venv" ] && [ ! -L "$OPT/venv" ]; then
    fail "$OPT/venv was installed by hand. Back up, stop the services, move it aside
  (mv $OPT/venv $OPT/venv.by-hand) and run me again: the data folder and settings are kept."
  fi
  setup_machine
  install_release
  switch_to "$VERSION"
  install_units
  say "== stepstone init"
  as_server "$OPT/venv/bin/stepstone" init
  say "== stepstone check"
  healthy || fail "stepstone check failed (above); fix it, then start the services"
  services start
  say "Installed Stepstone $VERSION."
}

cmd_upgrade() {
  verify_bundle
  preflight
  local old
  old="$(current_version || true)"
  [ -n "$old" ] || fail "no Stepstone installed here yet: use ./install.sh install"
  if [ "$old" = "$VERSION" ]; then
    say "Stepstone $VERSION is already the running version; nothing to do."
    return 0
  fi
  install_release
  services stop
  say "== Backing up the data folder before the upgrade (Stepstone $old)"
  local made backup
  made="$(as_server "$OPT/venv/bin/stepstone" backup "$BACKUPS")" \
    || { services start; fail "the backup failed, so nothing was changed: $made"; }
  printf '%s\n' "$made"
  backup="$(printf '%s\n' "$made" | sed -n 's/^Backed up to \(.*\): [0-9,]* files.*/\1/p')"
  [ -d "$backup" ] || { services start; fail "could not find the backup just made"; }
  printf 'previous=%s\nbackup=%s\nversion=%s\n' "$old" "$backup" "$VERSION" > "$STATE.new"
  mv -f "$STATE.new" "$STATE"
  switch_to "$VERSION"
  install_units
  say "== Migrating and checking with Stepstone $VERSION"
  if as_server "$OPT/venv/bin/stepstone" init && healthy; then
    services start
    say "Upgraded from $old to $VERSION. Back: ./install.sh rollback (restores $backup)."
  else
    say "The check failed with $VERSION: going back to $old and the backup."
    cmd_rollback
    exit 1
  fi
}

cmd_rollback() {
  [ -f "$STATE" ] || fail "no upgrade to roll back (no $STATE)"
  local previous backup upgraded
  previous="$(sed -n 's/^previous=//p' "$STATE")"
  backup="$(sed -n 's/^backup=//p' "$STATE")"
  upgraded="$(sed -n 's/^version=//p' "$STATE")"
  [ -d "$RELEASES/$previous/venv" ] || fail "Stepstone $previous is no longer in $RELEASES"
  [ -d "$backup" ] || fail "the pre-upgrade backup $backup is gone"
  services stop
  say "== Back to Stepstone $previous, with the data from before the upgrade to $upgraded"
  switch_to "$previous"
  # What learners did after the upgrade is kept aside, not deleted.
  local restored="$DATA.restored" aside
  aside="$DATA.after-$upgraded-$(date -u +%Y%m%dT%H%M%SZ)"
  rm -rf "$restored"
  install -d -m 0700 "$restored"
  system && chown "$USER_NAME:$USER_NAME" "$restored"
  as_server "$OPT/venv/bin/stepstone" restore "$backup" --data-dir "$restored"
  mv -T "$DATA" "$aside"
  mv -T "$restored" "$DATA"
  rm -f "$STATE"
  healthy || fail "stepstone check still fails after the rollback (above)"
  services start
  say "Rolled back to $previous. The data folder as $upgraded left it is in $aside."
}

cmd_status() {
  say "This bundle: Stepstone $VERSION"
  say "Running:     $(current_version || echo none)"
  if [ -d "$RELEASES" ]; then
    say "Installed:   $(ls "$RELEASES" | grep -v '\.partial$' | tr '\n' ' ')"
  fi
  if [ -f "$STATE" ]; then
    say "Last upgrade: from $(sed -n 's/^previous=//p' "$STATE"); backup $(sed -n 's/^backup=//p' "$STATE")"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  upgrade) cmd_upgrade ;;
  rollback) cmd_rollback ;;
  status) cmd_status ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
