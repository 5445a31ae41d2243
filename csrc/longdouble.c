/* Redis computes INCRBYFLOAT in C `long double` (x87 80-bit on x86_64) and prints it with
 * "%.17Lf" before trimming zeros (util.c: string2ld / ld2string LD_STR_HUMAN). Rust has no
 * 80-bit float, so the same libc calls are made here to match Redis byte for byte. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

static int parse_ld(const char *s, size_t slen, long double *dp) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *eptr;
    long double value;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        ((errno == ERANGE) && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *dp = value;
    return 1;
}

/* Returns: >0 length written to out, -1 current value not a float, -2 increment not a float,
 * -3 result is NaN or infinite. `out` must hold at least 5200 bytes. */
long shardis_ld_incr(const char *cur, size_t curlen, int has_cur, const char *incr, size_t incrlen,
                     char *out, size_t outlen) {
    long double value = 0, delta;
    if (has_cur && !parse_ld(cur, curlen, &value)) return -1;
    if (!parse_ld(incr, incrlen, &delta)) return -2;
    value += delta;
    if (isnan(value) || isinf(value)) return -3;
    int l = snprintf(out, outlen, "%.17Lf", value);
    if (l < 0 || (size_t)l + 1 > outlen) return -3;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}
