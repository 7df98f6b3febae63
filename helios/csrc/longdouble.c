/* INCRBYFLOAT arithmetic in C long double, exactly as Redis does it.
 *
 * Redis adds in `long double` (80-bit extended precision on x86-64) and
 * prints the result with "%.17Lf" minus trailing zeros, so "0.1 + 0.2"
 * yields "0.3". Rust has no extended-precision float type, and doing the
 * sum in f64 gives "0.30000000000000004": clients would see different
 * values than Redis gives them. These few lines of C keep the arithmetic
 * and formatting identical. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* Redis's string2ld: the whole buffer must be a float, no leading space,
 * no NaN, no overflow. */
static int parse_ld(const char *s, size_t slen, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS + 1];
    char *end;
    long double v;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != slen ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Adds b to a and writes the result in Redis's human format to out.
 * Returns the length written, or -1 when a is not a float, -2 when b is
 * not, -3 when the sum is NaN or infinite, -4 when out is too small. */
int helios_incrbyfloat(const char *a, size_t alen, const char *b, size_t blen, char *out,
                       size_t outlen) {
    long double va, vb, sum;
    int l;
    if (!parse_ld(a, alen, &va)) return -1;
    if (!parse_ld(b, blen, &vb)) return -2;
    sum = va + vb;
    if (isnan(sum) || isinf(sum)) return -3;
    l = snprintf(out, outlen, "%.17Lf", sum);
    if (l < 0 || (size_t)l + 1 > outlen) return -4;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    return l;
}
