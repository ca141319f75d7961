#!/usr/bin/env bash
# `npm run quickstart` (as root, on a fresh Debian 12 machine): install and build everything, start the local
# registry mirror with the project's base images, start berthd (which starts berth-runtimed and its Redis),
# then run `berth run --rm hello-world`. A second run finds everything in place and only runs hello-world.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "$BERTH_ROOT/tools/setup/install.sh"
source "$BERTH_ROOT/tools/setup/common.sh"   # picks up Node 24 if install.sh just brought it
bash "$BERTH_ROOT/tools/setup/services.sh"

SOCK=/run/berth/berthd.sock
step "berthd on unix://$SOCK"
if ! command -v berthd >/dev/null || ! command -v berth >/dev/null; then
  note "berthd or berth is not built in this checkout yet; the quick start stops here."
  exit 3
fi
mkdir -p /etc/berth /var/log/berth
if [ ! -f /etc/berth/daemon.json ]; then
  cat > /etc/berth/daemon.json <<JSON
{
  "registry-mirrors": ["http://$BERTH_REGISTRY_ADDR"],
  "insecure-registries": ["$BERTH_REGISTRY_ADDR"]
}
JSON
  note "wrote /etc/berth/daemon.json (the loopback registry mirrors docker.io)"
fi
if curl -fs --unix-socket "$SOCK" -o /dev/null http://localhost/_ping; then
  note "already running"
else
  setsid nohup berthd --config-file /etc/berth/daemon.json > /var/log/berth/berthd.log 2>&1 < /dev/null &
  echo $! > /run/berth-quickstart-berthd.pid
  for _ in $(seq 1 200); do
    curl -fs --unix-socket "$SOCK" -o /dev/null http://localhost/_ping && break
    sleep 0.05
  done
  curl -fs --unix-socket "$SOCK" -o /dev/null http://localhost/_ping \
    || die "berthd did not come up; see /var/log/berth/berthd.log"
  note "started (pid $(cat /run/berth-quickstart-berthd.pid), log /var/log/berth/berthd.log)"
fi

step "berth run --rm hello-world"
exec berth run --rm hello-world
