#!/usr/bin/env bash
# Make the facility's own certificate authority (once) and a TLS certificate for the
# Stepstone server signed by it. Tablets trust the CA (docs/deploy.md: "Tablets"), so
# they trust the server without any warning, with no public CA and no internet.
#
#   deploy/make-certs.sh OUT_DIR NAME [NAME ...]
#
# NAME: each host name or IP address that tablets use to reach the server, e.g.
#   deploy/make-certs.sh stepstone-ca learn.facility.internal 10.20.0.5
#
# OUT_DIR gets:
#   ca.key       the CA's private key: keep it offline (a USB stick in the safe), never
#                on the server; it is needed again only to renew server.crt
#   ca.crt       the CA certificate (PEM) to install on tablets; ca.der is the same in DER
#   server.key   the server's private key  -> /etc/stepstone/tls/server.key (mode 0640)
#   server.crt   the server certificate    -> /etc/stepstone/tls/server.crt
#
# Run again with the same OUT_DIR to renew server.crt: the CA is kept, so tablets need
# nothing new. The CA is limited (X.509 name constraints) to the names given when it was
# made, so even a stolen ca.key cannot impersonate any other web site to the tablets.
#
# Environment: CA_NAME (default "Stepstone facility CA"), CA_DAYS (default 3650),
# DAYS (default 397: the server certificate's life; renew it every year).
set -euo pipefail

usage() {
  echo "usage: $0 OUT_DIR NAME [NAME ...]  (host names or IP addresses of the server)" >&2
  exit 2
}
[ "$#" -ge 2 ] || usage
out=$1
shift
ca_name=${CA_NAME:-Stepstone facility CA}
ca_days=${CA_DAYS:-3650}
days=${DAYS:-397}

is_ip() {
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $1 == *:* ]]
}

san=()
permitted=()
for name in "$@"; do
  if is_ip "$name"; then
    san+=("IP:$name")
    if [[ $name == *:* ]]; then
      permitted+=("permitted;IP:$name/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    else
      permitted+=("permitted;IP:$name/255.255.255.255")
    fi
  elif [[ $name =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
    san+=("DNS:$name")
    permitted+=("permitted;DNS:$name")
  else
    echo "$0: not a host name or IP address: $name" >&2
    exit 2
  fi
done
join() {
  local IFS=,
  echo "$*"
}

umask 077
mkdir -p "$out"
cd "$out"

if [ ! -f ca.key ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
    -keyout ca.key -out ca.crt -days "$ca_days" -subj "/CN=$ca_name" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -addext "nameConstraints=critical,$(join "${permitted[@]}")" 2>/dev/null
  openssl x509 -in ca.crt -outform DER -out ca.der
  chmod 0644 ca.crt ca.der
  echo "New CA: $out/ca.crt (install it on every tablet)"
else
  echo "Using the CA already in $out (tablets that trust it need nothing new)"
fi

# Made under new names and moved into place only once they verify, so a failed renewal
# leaves the working certificate alone.
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
  -keyout server.key.new -out server.csr -subj "/CN=$1" 2>/dev/null
cat >server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$(join "${san[@]}")
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
  -days "$days" -extfile server.ext -out server.crt.new 2>/dev/null
rm -f server.csr server.ext

# A name outside the CA's constraints would be refused by every tablet: say so now.
if ! openssl verify -x509_strict -CAfile ca.crt server.crt.new >/dev/null; then
  rm -f server.key.new server.crt.new
  echo "$0: the new certificate does not verify against ca.crt; were these names given" >&2
  echo "when the CA was made? A new name needs a new CA (a new OUT_DIR)." >&2
  exit 1
fi
chmod 0644 server.crt.new
mv server.key.new server.key
mv server.crt.new server.crt
echo "Server certificate: $out/server.crt and server.key for: $*"
echo "CA fingerprint (check it on each tablet after installing ca.crt):"
openssl x509 -in ca.crt -noout -fingerprint -sha256
