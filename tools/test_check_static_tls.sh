#!/usr/bin/env bash
# tools/test_check_static_tls.sh: `make STATIC_BORINGSSL=1 check-static-tls`.
# Shows that tools/check_static_tls.sh (run after every link of the static
# variant) tells the right BoringSSL from the wrong libraries. A probe that
# calls SSL_new is linked four ways and checked:
#   static BoringSSL (build/boringssl, full paths)   must pass
#   Debian's shared BoringSSL                        must fail (shared libssl)
#   OpenSSL 3 through -lssl -lcrypto                 must fail (shared libssl)
#   OpenSSL 3's own libssl.a / libcrypto.a           must fail (not BoringSSL)
# and libaxon.a's TLS objects (compiled against BoringSSL) must not link
# against OpenSSL 3 at all (they call BoringSSL-only functions).
# Usage: test_check_static_tls.sh BSSL_DIR BUILD   Prints "N passed, N failed".
set -uo pipefail
bssl=$1
build=$2
dir=$build/check-static-tls
mkdir -p "$dir"
cat >"$dir/probe.c" <<'C'
#include <openssl/ssl.h>
int main(void) {
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    SSL *s = SSL_new(c);
    SSL_free(s);
    SSL_CTX_free(c);
    return 0;
}
C
pass=0
fail=0
expect() { # WANT(pass|fail) NAME BINARY
    local got=fail
    [ -f "$3" ] && bash tools/check_static_tls.sh "$3" 2>"$dir/$2.err" && got=pass
    if [ "$got" = "$1" ]; then
        pass=$((pass + 1))
        echo "ok: $2: check says $got$([ "$got" = fail ] && echo ": $(cat "$dir/$2.err")")"
    else
        fail=$((fail + 1))
        echo "FAILED: $2: check says $got, expected $1"
    fi
}
cc=${CC:-gcc}
$cc -I"$bssl/include" -o "$dir/static-bssl" "$dir/probe.c" "$bssl/lib/libssl.a" "$bssl/lib/libcrypto.a" \
    -lstdc++ -pthread
expect pass static-bssl "$dir/static-bssl"
$cc -I/usr/include/android -o "$dir/shared-bssl" "$dir/probe.c" /usr/lib/x86_64-linux-gnu/android/libssl.so \
    /usr/lib/x86_64-linux-gnu/android/libcrypto.so
expect fail shared-bssl "$dir/shared-bssl"
$cc -o "$dir/openssl-shared" "$dir/probe.c" -lssl -lcrypto
expect fail openssl-shared "$dir/openssl-shared"
$cc -o "$dir/openssl-static" "$dir/probe.c" -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -pthread -ldl
expect fail openssl-static "$dir/openssl-static"
if $cc -std=c11 -D_GNU_SOURCE -Iinclude -I. -DAX_HAVE_TLS=1 -o "$dir/axon-openssl" examples/tls_client.c \
    "$build/libaxon.a" -lssl -lcrypto -pthread 2>"$dir/axon-openssl.err"; then
    fail=$((fail + 1))
    echo "FAILED: libaxon.a's TLS code linked against OpenSSL 3"
elif ! grep -q "undefined reference to .SSL_CTX_set_strict_cipher_list" "$dir/axon-openssl.err"; then
    fail=$((fail + 1))
    echo "FAILED: the link against OpenSSL 3 failed for another reason: $(head -n 3 "$dir/axon-openssl.err")"
else
    pass=$((pass + 1))
    echo "ok: libaxon.a's TLS code does not link against OpenSSL 3 ($(grep -c 'undefined reference' "$dir/axon-openssl.err") undefined references)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
