/* http/date.c - the Date header, formatted once a second (RFC 9110
 * IMF-fixdate) and read by every response under a sequence lock. */
#include <string.h>
#include <time.h>

#include "http/internal.h"

void ax__http_date_refresh(ax__http_date *d) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
#ifdef _WIN32
    gmtime_s(&tm, &now);
#else
    gmtime_r(&now, &tm);
#endif
    char text[32] = {0};
    /* Fixed width: 29 characters. */
    memcpy(text, days[tm.tm_wday], 3);
    text[3] = ',';
    text[4] = ' ';
    text[5] = (char)('0' + tm.tm_mday / 10);
    text[6] = (char)('0' + tm.tm_mday % 10);
    text[7] = ' ';
    memcpy(text + 8, months[tm.tm_mon], 3);
    text[11] = ' ';
    int y = tm.tm_year + 1900;
    text[12] = (char)('0' + (y / 1000) % 10);
    text[13] = (char)('0' + (y / 100) % 10);
    text[14] = (char)('0' + (y / 10) % 10);
    text[15] = (char)('0' + y % 10);
    text[16] = ' ';
    text[17] = (char)('0' + tm.tm_hour / 10);
    text[18] = (char)('0' + tm.tm_hour % 10);
    text[19] = ':';
    text[20] = (char)('0' + tm.tm_min / 10);
    text[21] = (char)('0' + tm.tm_min % 10);
    text[22] = ':';
    text[23] = (char)('0' + tm.tm_sec / 10);
    text[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(text + 25, " GMT", 4);
    uint64_t w[4];
    memcpy(w, text, sizeof w);
    /* One writer (the clock task, or the server before it starts). */
    uint32_t s = atomic_load_explicit(&d->seq, memory_order_relaxed);
    atomic_store_explicit(&d->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int i = 0; i < 4; i++) atomic_store_explicit(&d->words[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&d->seq, s + 2, memory_order_release);
}

void ax__http_date_read(ax__http_date *d, char out[32]) {
    uint64_t w[4];
    for (;;) {
        uint32_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
        for (int i = 0; i < 4; i++) w[i] = atomic_load_explicit(&d->words[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint32_t s2 = atomic_load_explicit(&d->seq, memory_order_relaxed);
        if (s1 == s2 && !(s1 & 1)) break;
    }
    memcpy(out, w, 32);
}
