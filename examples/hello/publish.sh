#!/usr/bin/env bash
# Run plume's main job on this example: four platforms' binaries into one multi-platform image, written as
# a static registry to examples/hello/plume-static. No registry, credentials or network needed once the
# Python packages are installed.
set -euo pipefail

example_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$example_dir/../.." && pwd)"
cd "$repo_dir"

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "publish.sh: python3-venv is missing; install it with: sudo apt-get install python3-venv" >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e .

cd "$example_dir"
PLUGIN_REPO=hello \
PLUGIN_TAGS=latest \
PLUGIN_PLATFORMS=linux/amd64,linux/arm64,linux/arm/v7,linux/386 \
PLUGIN_ARTIFACT='dist/hello-{os}-{arch}{variant}' \
    "$repo_dir/.venv/bin/plume"

echo
echo "Serve it:  .venv/bin/plume serve examples/hello/plume-static --port 8080"
echo "Pull it:   skopeo copy --all --src-tls-verify=false docker://127.0.0.1:8080/hello:latest oci:/tmp/hello:latest"
