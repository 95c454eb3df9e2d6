#!/bin/sh
# Makes the certificates of the gRPC policy channel with openssl: a private CA (kept if the
# directory already has one), the control plane's server certificate, and one client
# certificate per data-plane node (for mutual TLS). Keys are unencrypted PEM, readable only by
# the owner; keep ca.key off the servers.
#
#   scripts/make-grpc-certs.sh <dir> <server subjectAltName> [node-name ...]
#   scripts/make-grpc-certs.sh certs "DNS:control-plane,DNS:localhost,IP:127.0.0.1" data-plane-1 data-plane-2
#
# Control plane: TOLLGATE_GRPC_TLS_CERT=<dir>/control-plane.crt TOLLGATE_GRPC_TLS_KEY=<dir>/control-plane.key
#                TOLLGATE_GRPC_MTLS=true TOLLGATE_GRPC_TLS_CA=<dir>/ca.crt
# Node:          TOLLGATE_GRPC_TLS_CA=<dir>/ca.crt TOLLGATE_GRPC_TLS_CLIENT_CERT=<dir>/<node>.crt
#                TOLLGATE_GRPC_TLS_CLIENT_KEY=<dir>/<node>.key
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 <dir> <server subjectAltName, e.g. DNS:control-plane,IP:127.0.0.1> [node-name ...]" >&2
  exit 2
fi
dir=$1
san=$2
shift 2
mkdir -p "$dir"
cd "$dir"
umask 077
days=${CERT_DAYS:-825}

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days "$days" \
    -subj "/CN=tollgate-grpc-ca" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

leaf() {
  name=$1
  usage=$2
  alt=$3
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$usage" "$alt" > "$name.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

leaf control-plane serverAuth "$san"
for node in "$@"; do
  leaf "$node" clientAuth "DNS:$node"
done
chmod 644 ./*.crt
echo "certificates written to $dir: ca.crt, control-plane.crt/.key${1:+, one .crt/.key per node}"
