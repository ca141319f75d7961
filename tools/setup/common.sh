# Shared by the setup scripts: paths, logging, and the Node 24 environment.
set -euo pipefail

BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_OPT=/opt/berth
BERTH_NODE_DIR="$BERTH_OPT/node"
BERTH_REGISTRY_ADDR="${BERTH_REGISTRY_ADDR:-127.0.0.1:5000}"
BERTH_REGISTRY_ROOT="${BERTH_REGISTRY_ROOT:-/var/lib/berth-registry}"
BERTH_IMAGES_ROOT="${BERTH_IMAGES_ROOT:-/var/lib/berth-images}"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run this as root (it installs packages and manages namespaces, cgroups and mounts)"

# Native addons build against the Node 24 headers in $BERTH_NODE_DIR, whatever the user's npmrc says.
export npm_config_nodedir="$BERTH_NODE_DIR"
export NX_DAEMON=false NX_TUI=false NX_NO_CLOUD=true
if [ -x "$BERTH_NODE_DIR/bin/node" ] && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 24 ]; then
  export PATH="$BERTH_NODE_DIR/bin:$PATH"
fi
