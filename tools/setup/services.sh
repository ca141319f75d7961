#!/usr/bin/env bash
# Starts the services berth's quick start, tests and benchmarks share on this machine, and fills them:
#  - a Distribution registry (Debian's docker-registry) on $BERTH_REGISTRY_ADDR (loopback), storage under
#    $BERTH_REGISTRY_ROOT; berthd uses it as the mirror for docker.io names;
#  - the project's base images built from Debian packages (tools/images) and pushed there:
#    library/busybox, library/hello-world, library/debian.
# Idempotent: a running registry is reused; images already in it are not rebuilt.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

step "registry mirror on $BERTH_REGISTRY_ADDR"
mkdir -p "$BERTH_REGISTRY_ROOT/data"
pidfile="$BERTH_REGISTRY_ROOT/registry.pid"
if curl -fs -o /dev/null "http://$BERTH_REGISTRY_ADDR/v2/"; then
  note "already running"
else
  cat > "$BERTH_REGISTRY_ROOT/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $BERTH_REGISTRY_ROOT/data
  delete:
    enabled: true
http:
  addr: $BERTH_REGISTRY_ADDR
YAML
  setsid nohup docker-registry serve "$BERTH_REGISTRY_ROOT/config.yml" \
    > "$BERTH_REGISTRY_ROOT/registry.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://$BERTH_REGISTRY_ADDR/v2/" && break
    sleep 0.1
  done
  curl -fsS -o /dev/null "http://$BERTH_REGISTRY_ADDR/v2/" \
    || die "the registry did not come up; see $BERTH_REGISTRY_ROOT/registry.log"
  note "started (pid $(cat "$pidfile"), log $BERTH_REGISTRY_ROOT/registry.log)"
fi

step "base images"
node "$BERTH_ROOT/tools/images/main.ts" --registry "$BERTH_REGISTRY_ADDR" --out "$BERTH_IMAGES_ROOT" ${BERTH_IMAGES:-}
