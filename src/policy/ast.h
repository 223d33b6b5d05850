/* The Cedar abstract syntax tree, as the parser builds it and the evaluator reads it.
 *
 * Invariants the evaluator may rely on:
 * - Every node, string and array lives in its policy set's arena and stays valid
 *   until the set is freed; nodes are never mutated after parsing, except the
 *   evaluator-owned `aux` field (see cedar_expr).
 * - Every string is interned per set (cedar_str): equal bytes <=> same pointer
 *   within one set, and `hash` is warden_policy_hash() of the bytes, so the evaluator can
 *   look attribute names and entity ids up in its own tables without rehashing.
 * - Strings are length-counted and may contain NUL; p[len] is always '\0' as a
 *   convenience for printing, never as the length.
 * - Conditions never contain template slots (the parser rejects them, as the
 *   reference does), so a linked policy shares its template's conditions.
 * - The parser has already rejected what the reference rejects at parse time:
 *   unknown functions and methods, a method called as a function and vice versa,
 *   wrong arity of the builtin methods (contains, isEmpty, getTag, ...), duplicate
 *   record keys, chained relations, integer literals out of range, reserved names.
 *   The arity of extension calls is NOT checked at parse time (the reference checks
 *   it when evaluating), so the evaluator must check u.ext.n.
 * - Expression trees are at most CEDAR_MAX_HEIGHT nodes tall (parser.h), so the
 *   evaluator may recurse over them. */
#ifndef WARDEN_POLICY_AST_H
#define WARDEN_POLICY_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An interned, length-counted byte string (valid UTF-8 for everything the parser
 * produces). hash == warden_policy_hash(p, len). */
typedef struct cedar_str {
    const char *p;
    size_t len;
    uint64_t hash;
} cedar_str;

/* Source position: 1-based line and column (column counts bytes). */
typedef struct cedar_loc {
    uint32_t line;
    uint32_t col;
} cedar_loc;

/* An entity reference `Type::"id"`. type is the full path text with `::` separators
 * and no spaces ("Org::User"), exactly as Cedar's JSON formats spell an entity type. */
typedef struct cedar_euid {
    const cedar_str *type;
    const cedar_str *id;
} cedar_euid;

typedef enum cedar_var {
    CEDAR_VAR_PRINCIPAL,
    CEDAR_VAR_ACTION,
    CEDAR_VAR_RESOURCE,
    CEDAR_VAR_CONTEXT
} cedar_var;

/* Extension functions and methods the reference knows (Cedar 4.x, ipaddr, decimal,
 * datetime). Constructors are called as functions, the rest as methods; for a method
 * the receiver is args[0]. The parser checks function-vs-method style and arity. */
typedef enum cedar_ext {
    /* constructors: f(string) */
    CEDAR_EXT_IP, /* argument counts below are what the functions accept when evaluated */
    CEDAR_EXT_DECIMAL,
    CEDAR_EXT_DATETIME,
    CEDAR_EXT_DURATION,
    /* ipaddr methods */
    CEDAR_EXT_IS_IPV4,      /* 1 arg (receiver) */
    CEDAR_EXT_IS_IPV6,      /* 1 */
    CEDAR_EXT_IS_LOOPBACK,  /* 1 */
    CEDAR_EXT_IS_MULTICAST, /* 1 */
    CEDAR_EXT_IS_IN_RANGE,  /* 2 */
    /* decimal methods */
    CEDAR_EXT_LESS_THAN,             /* 2 */
    CEDAR_EXT_LESS_THAN_OR_EQUAL,    /* 2 */
    CEDAR_EXT_GREATER_THAN,          /* 2 */
    CEDAR_EXT_GREATER_THAN_OR_EQUAL, /* 2 */
    /* datetime / duration methods */
    CEDAR_EXT_OFFSET,          /* 2: datetime.offset(duration) */
    CEDAR_EXT_DURATION_SINCE,  /* 2: datetime.durationSince(datetime) */
    CEDAR_EXT_TO_DATE,         /* 1 */
    CEDAR_EXT_TO_TIME,         /* 1 */
    CEDAR_EXT_TO_DAYS,         /* 1 */
    CEDAR_EXT_TO_HOURS,        /* 1 */
    CEDAR_EXT_TO_MINUTES,      /* 1 */
    CEDAR_EXT_TO_SECONDS,      /* 1 */
    CEDAR_EXT_TO_MILLISECONDS, /* 1 */
    CEDAR_EXT_COUNT
} cedar_ext;

/* Methods follow the four constructors in cedar_ext. */
#define CEDAR_EXT_IS_METHOD(fn) ((fn) > CEDAR_EXT_DURATION)

typedef enum cedar_expr_kind {
    /* literals and leaves */
    CEDAR_E_BOOL,   /* u.b */
    CEDAR_E_LONG,   /* u.i (already negated for `-<literal>`, so INT64_MIN is reachable) */
    CEDAR_E_STRING, /* u.s */
    CEDAR_E_ENTITY, /* u.euid */
    CEDAR_E_VAR,    /* u.var */
    /* unary: u.op.a */
    CEDAR_E_NOT,
    CEDAR_E_NEG,
    /* short-circuit: u.op.a, u.op.b (c for IF) */
    CEDAR_E_AND,
    CEDAR_E_OR,
    CEDAR_E_IF, /* if a then b else c */
    /* binary: u.op.a <op> u.op.b */
    CEDAR_E_EQ,
    CEDAR_E_NE,
    CEDAR_E_LT,
    CEDAR_E_LE,
    CEDAR_E_GT,
    CEDAR_E_GE,
    CEDAR_E_IN,
    CEDAR_E_ADD,
    CEDAR_E_SUB,
    CEDAR_E_MUL,
    /* builtin methods, receiver a, argument b (if any): a.contains(b) ... */
    CEDAR_E_CONTAINS,
    CEDAR_E_CONTAINS_ALL,
    CEDAR_E_CONTAINS_ANY,
    CEDAR_E_IS_EMPTY, /* a.isEmpty(), b is NULL */
    CEDAR_E_HAS_TAG,
    CEDAR_E_GET_TAG,
    /* attributes */
    CEDAR_E_GET_ATTR, /* u.attr: e.attr and e["attr"] */
    CEDAR_E_HAS_ATTR, /* u.has: e has a.b.c; n == 1 for the plain form. Semantics of
                       * the reference's desugaring `e has a && e.a has b && e.a.b has c`:
                       * true iff every step exists; a type error at any step is an error. */
    CEDAR_E_LIKE,     /* u.like */
    CEDAR_E_IS,       /* u.is: e is T, or e is T in x when u.is.in != NULL (the reference
                       * evaluates it as `e is T && e in x`: x is not evaluated when false) */
    /* constructors */
    CEDAR_E_SET,    /* u.set */
    CEDAR_E_RECORD, /* u.rec */
    CEDAR_E_EXT     /* u.ext: extension function or method call */
} cedar_expr_kind;

typedef struct cedar_expr cedar_expr;

/* A `like` pattern, compiled: elements in order, each a wildcard or a literal run.
 * Adjacent wildcards are merged; literal runs are unescaped bytes. Matching byte-wise
 * is equivalent to the reference's char-wise matching because both sides are UTF-8. */
typedef struct cedar_pat_elem {
    bool wildcard;
    const char *p; /* literal bytes (NULL for a wildcard) */
    size_t len;
} cedar_pat_elem;

typedef struct cedar_pattern {
    cedar_pat_elem *elems;
    uint32_t n;
} cedar_pattern;

/* One record literal entry. Keys are unique within a record (the parser rejects
 * duplicates); entries keep source order. */
typedef struct cedar_rec_entry {
    const cedar_str *key;
    cedar_expr *value;
} cedar_rec_entry;

struct cedar_expr {
    cedar_expr_kind kind;
    cedar_loc loc;
    uint32_t height; /* of this subtree: 1 for a leaf, <= CEDAR_MAX_HEIGHT */
    /* Free for the evaluator (e.g. a pre-parsed extension literal or a compiled
     * constant), set once in a single-threaded prepare step before concurrent use;
     * the parser leaves it NULL. Memory for it may come from warden_policy_set_alloc(). */
    void *aux;
    union {
        bool b;
        int64_t i;
        const cedar_str *s;
        cedar_euid euid;
        cedar_var var;
        struct {
            cedar_expr *a, *b, *c;
        } op;
        struct {
            cedar_expr *e;
            const cedar_str *attr;
        } attr;
        struct {
            cedar_expr *e;
            const cedar_str **path; /* path[0..n): e has path[0].path[1]... */
            uint32_t n;
        } has;
        struct {
            cedar_expr *e;
            cedar_pattern pat;
        } like;
        struct {
            cedar_expr *e;
            const cedar_str *type; /* full entity type path, as cedar_euid.type */
            cedar_expr *in;        /* NULL for plain `is` */
        } is;
        struct {
            cedar_expr **items;
            uint32_t n;
        } set;
        struct {
            cedar_rec_entry *items;
            uint32_t n;
        } rec;
        struct {
            cedar_ext fn;
            const cedar_str *name; /* as written, for messages ("ip", "lessThan") */
            cedar_expr **args;     /* for a method, args[0] is the receiver */
            uint32_t n;
        } ext;
    } u;
};

/* ---- policies ---- */

typedef enum cedar_effect { CEDAR_PERMIT, CEDAR_FORBID } cedar_effect;

/* A scope constraint on principal, action or resource.
 * - principal/resource: ANY, EQ (== E), IN (in E), IS (is T), IS_IN (is T in E).
 * - action: ANY, EQ, IN (in E), IN_SET (in [E1, ...]).
 * When `slot` is true (templates only), the entity is ?principal / ?resource and
 * `entity` is unset; a linked policy has slot == false and the linked entity. */
typedef enum cedar_scope_op {
    CEDAR_SCOPE_ANY,
    CEDAR_SCOPE_EQ,
    CEDAR_SCOPE_IN,
    CEDAR_SCOPE_IS,
    CEDAR_SCOPE_IS_IN,
    CEDAR_SCOPE_IN_SET
} cedar_scope_op;

typedef struct cedar_scope {
    cedar_scope_op op;
    bool slot;
    const cedar_str *is_type; /* IS, IS_IN */
    cedar_euid entity;        /* EQ, IN, IS_IN (when !slot) */
    cedar_euid *set;          /* IN_SET: set[0..n_set), may be empty (`action in []`) */
    uint32_t n_set;
    cedar_loc loc;
} cedar_scope;

typedef struct cedar_cond {
    bool unless;      /* `unless { e }` (false: `when { e }`) */
    cedar_expr *expr; /* never NULL, never contains a slot */
    cedar_loc loc;
} cedar_cond;

/* `@key("value")`; `@key` alone has the empty string as value (Cedar 4), and
 * has_value tells the two apart. Keys are unique within a policy. */
typedef struct cedar_annotation {
    const cedar_str *key;
    const cedar_str *value;
    bool has_value;
} cedar_annotation;

/* A policy holds (reference semantics) iff its three scope constraints hold and
 * then every condition holds in source order (`when e`: e is true; `unless e`: e
 * is false), stopping at the first that does not; an error in an evaluated
 * condition makes the policy an erroring one (it takes no part in the decision).
 * Templates are never evaluated, only the policies linked from them. */
typedef struct cedar_policy {
    const cedar_str *id; /* "policy0", "policy1", ... in source order (templates
                          * included), or the id given at link time */
    cedar_effect effect;
    bool is_template;        /* has a ?principal or ?resource slot */
    bool has_principal_slot; /* templates: which slots must be linked */
    bool has_resource_slot;
    const cedar_str *template_id; /* linked policies: their template's id; else NULL */
    cedar_annotation *annos;
    uint32_t n_annos;
    cedar_scope principal, action, resource;
    cedar_cond *conds; /* in source order */
    uint32_t n_conds;
    const char *file; /* file name given to the parser (set-owned copy) */
    cedar_loc loc;    /* of the first annotation or the effect keyword */
    const char *text; /* the policy's source text, set-owned copy (not NUL-safe: use len) */
    size_t text_len;
} cedar_policy;

#endif
