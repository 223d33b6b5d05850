/* Tile arithmetic and the tlog-tiles path grammar (height 8). Pure functions: every other
 * tlog file asks here which tile holds what, so the layout is defined in one place. */
#include "warden/tlog.h"

#include <stdio.h>
#include <string.h>

unsigned warden_tlog_partial_width(int level, uint64_t tree_size)
{
    if (level < 0)
        level = 0;
    if ((unsigned)level * WARDEN_TLOG_TILE_HEIGHT >= 64)
        return 0;
    return (unsigned)((tree_size >> ((unsigned)level * WARDEN_TLOG_TILE_HEIGHT)) & 0xff);
}

int warden_tlog_tile_path(char *out, size_t cap, int level, uint64_t index, unsigned width)
{
    char num[40];
    char groups[8][4];
    size_t ng = 0;
    int n;
    if (level < WARDEN_TLOG_ENTRIES_LEVEL || level > 63 || width > WARDEN_TLOG_TILE_WIDTH ||
        cap == 0)
        return WARDEN_EINVAL;
    /* Split into 3-digit groups, most significant first: 1234067 -> 001 234 067. */
    do {
        snprintf(groups[ng++], sizeof groups[0], "%03u", (unsigned)(index % 1000));
        index /= 1000;
    } while (index > 0);
    size_t off = 0;
    for (size_t i = ng; i-- > 0;) {
        n = snprintf(num + off, sizeof num - off, "%s%s", i > 0 ? "x" : "", groups[i]);
        off += (size_t)n;
        if (i > 0)
            num[off++] = '/';
    }
    num[off] = '\0';
    char lvl[8];
    if (level == WARDEN_TLOG_ENTRIES_LEVEL)
        snprintf(lvl, sizeof lvl, "entries");
    else
        snprintf(lvl, sizeof lvl, "%d", level);
    if (width == 0 || width == WARDEN_TLOG_TILE_WIDTH)
        n = snprintf(out, cap, "tile/%s/%s", lvl, num);
    else
        n = snprintf(out, cap, "tile/%s/%s.p/%u", lvl, num, width);
    if (n < 0 || (size_t)n >= cap)
        return WARDEN_EINVAL;
    return 0;
}

/* Reads a decimal with no leading zeroes ("0" itself allowed when allow_zero) of at most
 * maxdigits digits, up to the next '/' or end. */
static int parse_small(unsigned *out, const char *p, size_t len, size_t *off, size_t maxdigits,
                       int allow_zero)
{
    size_t start = *off;
    unsigned v = 0;
    while (*off < len && p[*off] >= '0' && p[*off] <= '9' && *off - start < maxdigits) {
        v = v * 10 + (unsigned)(p[*off] - '0');
        (*off)++;
    }
    size_t nd = *off - start;
    if (nd == 0 || (nd > 1 && p[start] == '0') || (!allow_zero && v == 0))
        return WARDEN_EINVAL;
    *out = v;
    return 0;
}

int warden_tlog_tile_path_parse(int *level, uint64_t *index, unsigned *width, const char *path,
                                size_t len)
{
    size_t off = 0;
    unsigned lv = 0;
    if (len < 5 || memcmp(path, "tile/", 5) != 0)
        return WARDEN_EINVAL;
    off = 5;
    if (len - off >= 8 && memcmp(path + off, "entries/", 8) == 0) {
        *level = WARDEN_TLOG_ENTRIES_LEVEL;
        off += 8;
    } else {
        if (parse_small(&lv, path, len, &off, 2, 1) != 0 || lv > 63 || off >= len ||
            path[off] != '/')
            return WARDEN_EINVAL;
        *level = (int)lv;
        off++;
    }
    /* Groups: ("x" ddd "/")* ddd; the value must fit in 64 bits. */
    uint64_t v = 0;
    size_t groups = 0;
    for (;;) {
        int prefixed = off < len && path[off] == 'x';
        if (prefixed)
            off++;
        if (len - off < 3)
            return WARDEN_EINVAL;
        unsigned g = 0;
        for (int i = 0; i < 3; i++) {
            char c = path[off + (size_t)i];
            if (c < '0' || c > '9')
                return WARDEN_EINVAL;
            g = g * 10 + (unsigned)(c - '0');
        }
        off += 3;
        if (++groups > 7 || v > (UINT64_MAX - g) / 1000)
            return WARDEN_EINVAL;
        v = v * 1000 + g;
        if (prefixed) {
            if (off >= len || path[off] != '/')
                return WARDEN_EINVAL;
            off++;
            continue;
        }
        break;
    }
    unsigned w = WARDEN_TLOG_TILE_WIDTH;
    if (off < len) {
        if (len - off < 3 || memcmp(path + off, ".p/", 3) != 0)
            return WARDEN_EINVAL;
        off += 3;
        if (parse_small(&w, path, len, &off, 3, 0) != 0 || w > 255)
            return WARDEN_EINVAL;
    }
    if (off != len)
        return WARDEN_EINVAL;
    /* Only the canonical spelling names a tile ("x000/005" is not "005"): one name per file. */
    char canon[WARDEN_TLOG_PATH_MAX];
    if (warden_tlog_tile_path(canon, sizeof canon, *level, v, w) != 0 || strlen(canon) != len ||
        memcmp(canon, path, len) != 0)
        return WARDEN_EINVAL;
    *index = v;
    *width = w;
    return 0;
}
