#!/usr/bin/env bash
# buildah doing plume's job: an image from scratch per platform, a manifest list over them, then
# `buildah manifest push --all` to a registry. Runs as root with the vfs storage driver, which needs no
# kernel overlay support.
# Usage: buildah.sh WORK_DIR DESTINATION PLATFORM=FILE...
#   WORK_DIR     a fresh folder for buildah's storage; DESTINATION as HOST:PORT/NAME:TAG on a plain-HTTP registry
#   PLATFORM     as os/arch[/variant]; FILE is that platform's executable, installed at /app
set -euo pipefail

work_dir="$1"
destination="$2"
shift 2

# buildah gets its own trust policy and an empty auth file, so the machine's configuration does not
# affect the job.
policy="$work_dir/policy.json"
auth_file="$work_dir/auth.json"
printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' > "$policy"
printf '{}\n' > "$auth_file"

buildah_flags=(--root "$work_dir/storage" --runroot "$work_dir/run" --storage-driver vfs)
list="bench-list"

buildah "${buildah_flags[@]}" manifest create "$list" > /dev/null
for pair in "$@"; do
    platform="${pair%%=*}"
    file="${pair#*=}"
    IFS=/ read -r os arch variant <<< "$platform"
    image="bench-${platform//\//-}"
    container="$(buildah "${buildah_flags[@]}" from --signature-policy "$policy" scratch)"
    buildah "${buildah_flags[@]}" copy "$container" "$file" /app > /dev/null
    buildah "${buildah_flags[@]}" config --os "$os" --arch "$arch" --variant "${variant:-}" \
        --entrypoint '["/app"]' "$container"
    buildah "${buildah_flags[@]}" commit --quiet --signature-policy "$policy" "$container" "$image" > /dev/null
    buildah "${buildah_flags[@]}" manifest add "$list" "containers-storage:localhost/$image" > /dev/null
done

buildah "${buildah_flags[@]}" manifest push --all --signature-policy "$policy" \
    --tls-verify=false --authfile "$auth_file" "$list" "docker://$destination"
