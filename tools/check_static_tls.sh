#!/usr/bin/env bash
# tools/check_static_tls.sh BINARY: run by `make STATIC_BORINGSSL=1` after
# every link. Fails (and removes BINARY, so the next make relinks it) when
#   - BINARY needs a shared libssl or libcrypto (OpenSSL 3's or Debian's
#     BoringSSL): the static build must carry its TLS code inside;
#   - BINARY holds TLS code (SSL_new is defined) that is not BoringSSL's:
#     CRYPTO_BUFFER_new, which BoringSSL's libssl always pulls in and
#     OpenSSL has no such function, must be defined too;
#   - an OpenSSL-3-only symbol (OSSL_LIB_CTX_new, OSSL_PROVIDER_load,
#     SSL_CTX_new_ex) appears, defined or not.
# A program without TLS (examples/hello) passes when it needs neither
# shared library.
set -uo pipefail
bin=$1
fail() {
    echo "check_static_tls: $bin: $*" >&2
    rm -f "$bin"
    exit 1
}
[ -f "$bin" ] || fail "no such file"
needed=$(readelf -d "$bin" 2>/dev/null | awk '/NEEDED/ { print $NF }')
if grep -Eq 'lib(ssl|crypto)\.so' <<<"$needed"; then
    fail "needs a shared TLS library: $(grep -E 'lib(ssl|crypto)' <<<"$needed" | tr -d '[]' | tr '\n' ' ')"
fi
syms=$(nm "$bin" 2>/dev/null) || fail "nm failed"
defined() { awk -v s="$1" '$2 ~ /^[TtWw]$/ && $3 == s { f = 1 } END { exit !f }' <<<"$syms"; }
for s in OSSL_LIB_CTX_new OSSL_PROVIDER_load SSL_CTX_new_ex; do
    if awk -v s="$s" '$NF == s || $NF ~ "^" s "@" { f = 1 } END { exit !f }' <<<"$syms"; then
        fail "holds OpenSSL 3's $s: linked against the wrong library"
    fi
done
if defined SSL_new && ! defined CRYPTO_BUFFER_new; then
    fail "defines SSL_new but not BoringSSL's CRYPTO_BUFFER_new: not BoringSSL"
fi
exit 0
