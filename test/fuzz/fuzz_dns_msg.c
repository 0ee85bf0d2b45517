/* libFuzzer target for the DNS answer parser (net/dns_msg.c), the resolver
 * code that reads what the network sends. The first input byte picks the
 * question type, the next bytes until a zero (at most 40) form the name's
 * first label, and the rest is the answer. The id is taken from the answer
 * itself, so the fuzzer reaches past the id check. Build and run with
 * `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/dns_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ax__dns_answer ans;
    if (size < 1) return 0;
    uint16_t qtype = (data[0] & 1) ? AX__DNS_T_AAAA : AX__DNS_T_A;
    data++, size--;
    /* The question: "<label>.test", the label from the input (letters
     * only, so it is a name the resolver could ask). */
    char text[64];
    size_t n = 0;
    while (n < size && n < 40 && data[n]) {
        text[n] = (char)('a' + data[n] % 26);
        n++;
    }
    if (n == 0) text[n++] = 'a';
    memcpy(text + n, ".test", 6);
    if (n < size) n++; /* skip the terminator */
    data += n < size ? n : size;
    size -= n < size ? n : size;
    uint8_t wire[AX__DNS_WIRE_MAX];
    int wl = ax__dns_name_to_wire(text, wire);
    if (wl < 0) return 0;
    uint16_t id = size >= 2 ? ax__dns_msg_id(data) : 0;
    int r = ax__dns_parse_answer(data, size, id, wire, (size_t)wl, qtype, &ans);
    if (r == 0 && ans.n > AX__DNS_MAX_ADDRS) __builtin_trap();
    return 0;
}
