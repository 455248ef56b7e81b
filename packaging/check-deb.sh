#!/usr/bin/env bash
# Builds the Debian package (cargo deb), installs it, and checks what it installed:
# `hadns check` on the packaged config, `systemd-analyze verify` on the installed unit,
# the user and the zones directory. Then removes it. As root; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet
cargo deb --quiet
deb=$(ls -t target/debian/hadns_*.deb | head -n 1)
echo "built $deb"
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge hadns >/dev/null' EXIT
unit=$(dpkg -L hadns | grep -E '/systemd/system/hadns\.service$')
hadns check --config /etc/hadns/hadns.toml
systemd-analyze verify "$unit"
test -d /etc/hadns/zones
getent passwd hadns >/dev/null
dpkg -L hadns | grep -qx /usr/bin/hadns
echo "package ok: $(dpkg-query -W -f '${Package} ${Version}' hadns), unit $unit"
