#!/usr/bin/env bash
# umoci + skopeo doing plume's job: one image per platform in an OCI layout, an index over them, then
# `skopeo copy --all` of that index to a registry.
# Usage: umoci-skopeo.sh WORK_DIR DESTINATION PLATFORM=FILE...
#   WORK_DIR     a fresh folder for the layout; DESTINATION as HOST:PORT/NAME:TAG on a plain-HTTP registry
#   PLATFORM     as os/arch[/variant]; FILE is that platform's executable, installed at /app
# PYTHON names the interpreter that writes the index, because umoci cannot make a multi-platform index.
set -euo pipefail

work_dir="$1"
destination="$2"
shift 2
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layout="$work_dir/layout"

# skopeo gets its own trust policy and an empty auth file, so the machine's configuration does not
# affect the job.
printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' > "$work_dir/policy.json"
printf '{}\n' > "$work_dir/auth.json"

umoci_flags=()
if [[ "$(id -u)" -ne 0 ]]; then
    umoci_flags=(--rootless)
fi

umoci init --layout "$layout"
index_entries=()
for pair in "$@"; do
    platform="${pair%%=*}"
    file="${pair#*=}"
    IFS=/ read -r os arch _variant <<< "$platform"
    tag="${platform//\//-}"
    umoci new --image "$layout:$tag"
    umoci insert "${umoci_flags[@]}" --image "$layout:$tag" "$file" /app
    umoci config --image "$layout:$tag" --os "$os" --architecture "$arch" --config.entrypoint /app
    index_entries+=("$tag=$platform")
done

"${PYTHON:-python3}" -I "$script_dir/../oci_index.py" "$layout" latest "${index_entries[@]}"

skopeo --policy "$work_dir/policy.json" copy --all \
    --dest-tls-verify=false --dest-authfile "$work_dir/auth.json" \
    "oci:$layout:latest" "docker://$destination"
