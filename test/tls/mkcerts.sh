#!/usr/bin/env bash
# test/tls/mkcerts.sh DIR - makes the certificates the TLS tests use, with
# the openssl command, into DIR (which must exist):
#   ca.pem / ca.key            a test CA
#   server.pem / server.key    signed by the CA, SAN DNS:localhost, IP:127.0.0.1
#   alt.pem / alt.key          signed by the CA, SAN DNS:alt.test (an SNI name)
#   client.pem / client.key    signed by the CA, a client certificate (mTLS)
#   expired.pem / expired.key  signed by the CA for localhost, expired in 2020
#   self.pem / self.key        self-signed for localhost
#   wronghost.pem / .key       signed by the CA for other.test only
#   other-ca.pem, rogue.pem/.key  a second CA and a localhost certificate it
#                              signed (untrusted by the tests' CA)
# EC P-256 keys: fast to make.
set -euo pipefail
d=$1
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
mkca() { # name cn
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca cn san eku
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$4" "$5" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
mkca ca "Axon Test CA"
mkca other-ca "Axon Other CA"
leaf server ca localhost "DNS:localhost,IP:127.0.0.1" serverAuth
leaf alt ca alt.test "DNS:alt.test" serverAuth
leaf client ca "axon client" "DNS:client.test" clientAuth
leaf wronghost ca other.test "DNS:other.test" serverAuth
leaf rogue other-ca localhost "DNS:localhost,IP:127.0.0.1" serverAuth
key self.key
openssl req -x509 -new -key self.key -out self.pem -days 825 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
# Expired: `openssl ca` is the one command that takes explicit dates.
key expired.key
openssl req -new -key expired.key -subj /CN=localhost -out expired.csr 2>/dev/null
mkdir -p cadb && : > cadb/index.txt && echo 01 > cadb/serial
cat > cadb/ca.cnf <<CNF
[ca]
default_ca = x
[x]
database = cadb/index.txt
serial = cadb/serial
new_certs_dir = cadb
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
x509_extensions = e
[p]
commonName = supplied
[e]
subjectAltName = DNS:localhost,IP:127.0.0.1
basicConstraints = CA:FALSE
CNF
openssl ca -batch -config cadb/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null
rm -rf cadb expired.csr
