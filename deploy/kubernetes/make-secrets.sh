#!/bin/sh
# Turns `bulwark init`'s output directory into the Kubernetes Secrets the manifests in
# deploy/kubernetes/base mount: one `<node>-keys` Secret per node directory (replica-<id>,
# client-<id>: node.json, network.json, tls.crt and the key files) and, with --passphrase-file, the
# `bulwark-passphrase` Secret (its first line, under the key `passphrase`). The operator directory
# is never included: it signs operator commands and stays offline.
#
#   deploy/kubernetes/make-secrets.sh [--namespace bulwark] [--passphrase-file FILE] INIT_OUT_DIR > secrets.yaml
#   kubectl apply -f secrets.yaml
#
# The output holds private keys (sealed under the passphrase if `bulwark init` was given one, and
# then the passphrase Secret is the one to guard): write it to a 0600 file or pipe it to kubectl.
set -eu

namespace=bulwark
passphrase_file=
usage() {
  echo "usage: $0 [--namespace NS] [--passphrase-file FILE] INIT_OUT_DIR" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) [ $# -ge 2 ] || usage; namespace=$2; shift 2 ;;
    --passphrase-file) [ $# -ge 2 ] || usage; passphrase_file=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "$0: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
out=$1
[ -f "$out/network.json" ] || { echo "$0: $out/network.json not found: give the directory bulwark init wrote" >&2; exit 1; }

b64() { base64 < "$1" | tr -d '\n'; }

found=0
for dir in "$out"/replica-* "$out"/client-*; do
  [ -d "$dir" ] || continue
  name=$(basename "$dir")
  case "$name" in
    replica-[0-9]*|client-[0-9]*) ;;
    *) continue ;;
  esac
  # A node that has run keeps its ledger and the keys it generated in this directory: those belong
  # on its volume, not in a Secret.
  if [ -e "$dir/data" ] || [ -e "$dir/keys" ] || [ -e "$dir/state" ]; then
    echo "$0: $dir has been used by a running node (data/, keys/ or state/): give a fresh bulwark init output" >&2
    exit 1
  fi
  [ -f "$dir/node.json" ] || { echo "$0: $dir/node.json not found" >&2; exit 1; }
  found=$((found + 1))
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-keys\n  namespace: %s\n' "$name" "$namespace"
  printf '  labels:\n    app.kubernetes.io/name: bulwark\n    app.kubernetes.io/instance: %s\ntype: Opaque\ndata:\n' "$name"
  for file in "$dir"/*; do
    [ -f "$file" ] || { echo "$0: unexpected entry $file" >&2; exit 1; }
    printf '  %s: %s\n' "$(basename "$file")" "$(b64 "$file")"
  done
done
[ "$found" -gt 0 ] || { echo "$0: no replica-<id> or client-<id> directory in $out" >&2; exit 1; }

if [ -n "$passphrase_file" ]; then
  passphrase=$(head -n 1 "$passphrase_file")
  [ -n "$passphrase" ] || { echo "$0: the passphrase in $passphrase_file is empty" >&2; exit 1; }
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: bulwark-passphrase\n  namespace: %s\n' "$namespace"
  printf '  labels:\n    app.kubernetes.io/name: bulwark\ntype: Opaque\ndata:\n'
  printf '  passphrase: %s\n' "$(printf '%s' "$passphrase" | base64 | tr -d '\n')"
fi
