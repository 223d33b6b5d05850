#!/usr/bin/env node
// Seeded generator of random Cedar cases for the differential test: an entity graph (user and
// group hierarchies, folders, actions, attributes of every type, tags), a policy set (every
// scope form, templates with links, clauses built from typed random expressions, a few of them
// deliberately ill-typed so that evaluation errors happen) and requests with contexts.
// The same seed always writes the same files. Nothing here decides anything: the expected
// answers come from the reference at test time.
//
//   node gen.mjs --seed S --cases N --requests R --out DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// mulberry32: small, fast, and identical on every platform.
function rng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const r = {
        f: next,
        int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
        pick: (arr) => arr[Math.floor(next() * arr.length)],
        chance: (p) => next() < p,
        some: (arr, k) => {
            const copy = [...arr];
            const out = [];
            while (out.length < k && copy.length) out.push(copy.splice(Math.floor(next() * copy.length), 1)[0]);
            return out;
        },
    };
    return r;
}

const STRINGS = ['', 'a', 'abc', 'Alice', 'bob', 'x*y', 'a\\b', 'say "hi"', 'café', '😀 ok',
    'ops', 'dev', 'US', 'SG', 'read', 'tab\there', 'line\nbreak', 'ABC', 'a.b.c'];
const CITIES = ['Austin', 'Dallas', 'Singapore', 'Dublin', ''];
const BAD_IPS = ['::ffff:10.0.0.1', '1.2.3', '10.0.0.1/33', '010.0.0.1', 'fe80::1%eth0', ''];
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.1.20', '127.0.0.1', '8.8.8.8', '224.0.0.5',
    '::1', '2001:db8::7', 'ff02::1', '10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32', '0.0.0.0/0',
    '10.1.0.0/16', '172.16.5.4/12'];
const DECIMALS = ['0.0', '1.5', '-1.5', '10.25', '99.9999', '-922337203685477.5808',
    '922337203685477.5807', '3.1', '100.0'];
const DATETIMES = ['2024-10-15', '2024-10-15T11:35:00Z', '2024-10-15T11:35:00.123Z',
    '2024-10-15T23:59:59+0200', '1970-01-01', '1969-12-31T23:00:00Z', '2025-01-01T00:00:00-0500',
    '2024-02-29T12:00:00Z'];
const DURATIONS = ['0ms', '1h', '-1h', '90m', '1d2h3m4s5ms', '15m', '-2d', '24h', '1s', '999ms'];
const LONGS = [0, 1, -1, 2, 3, 5, 7, 10, 42, 100, -100, 1000000];
const BIG_LONGS = ['9223372036854775807', '-9223372036854775808', '4611686018427387904',
    '3037000500'];
const TAG_KEYS = ['level', 'team', 'clearance', 'x y', ''];
const PATTERNS = ['*', 'a*', '*c', '*b*', 'A*', 'a\\*b', '*\\**', '', 'abc', '*é', 'x*y', '**',
    'say *', '*.*'];

// A case's world: entity uids, what attributes each kind carries, the actions.
function makeWorld(r) {
    // Small worlds: the reference re-reads every entity on every request, which is what
    // bounds the test's run time.
    const nGroups = r.int(2, 5);
    const nUsers = r.int(3, 7);
    const nFolders = r.int(2, 4);
    const nDocs = r.int(3, 7);
    const oddId = () => r.pick(['o"q', 'sp ace', 'ünï', '', 'a::b', '\\']);
    const ids = (p, n) => Array.from({ length: n }, (_, i) => (r.chance(0.05) ? oddId() + i : `${p}${i}`));
    const w = {
        groups: ids('g', nGroups).map((id) => ({ type: 'Group', id })),
        users: ids('u', nUsers).map((id) => ({ type: r.chance(0.15) ? 'Svc::Service' : 'User', id })),
        folders: ids('f', nFolders).map((id) => ({ type: 'Folder', id })),
        docs: ids('d', nDocs).map((id) => ({ type: 'Doc', id })),
        actions: ['read', 'write', 'delete', 'share', 'readGroup', 'all'].map((id) => ({ type: 'Action', id })),
    };
    w.ghosts = [{ type: 'User', id: 'ghost' }, { type: 'Doc', id: 'ghost' }, { type: 'Group', id: 'ghost' }];
    w.principals = [...w.users, ...w.groups];
    w.resources = [...w.docs, ...w.folders];
    w.all = [...w.principals, ...w.resources, ...w.actions];
    return w;
}

const uidText = (u) => `${u.type}::${JSON.stringify(u.id)}`;
const refJson = (u) => ({ __entity: { type: u.type, id: u.id } });

// Typed attribute values in entity JSON, with a small chance of the wrong type.
function attrValue(r, w, kind) {
    switch (kind) {
    case 'long': return r.pick(LONGS);
    case 'string': return r.pick(STRINGS);
    case 'bool': return r.chance(0.5);
    case 'set': return r.some(STRINGS, r.int(0, 3));
    case 'lset': return r.some(LONGS, r.int(0, 3));
    case 'record': {
        const rec = { city: r.pick(CITIES) };
        if (r.chance(0.6)) rec.zip = r.int(10000, 99999);
        if (r.chance(0.3)) rec.inner = { deep: r.chance(0.5) };
        return rec;
    }
    case 'entity': return refJson(r.pick(r.chance(0.1) ? w.ghosts : w.all));
    case 'ip': return { __extn: { fn: 'ip', arg: r.pick(IPS) } };
    case 'decimal': return { __extn: { fn: 'decimal', arg: r.pick(DECIMALS) } };
    case 'datetime': return { __extn: { fn: 'datetime', arg: r.pick(DATETIMES) } };
    case 'duration': return { __extn: { fn: 'duration', arg: r.pick(DURATIONS) } };
    case 'xset': return r.some(IPS, r.int(0, 3)).map((a) => ({ __extn: { fn: 'ip', arg: a } }));
    default: throw new Error(kind);
    }
}

// Attribute vocabulary: name -> kind. Entities carry a random subset, so `has` matters.
const ATTRS = { level: 'long', name: 'string', active: 'bool', roles: 'set', scores: 'lset',
    address: 'record', manager: 'entity', owner: 'entity', net: 'ip', limit: 'decimal',
    since: 'datetime', ttl: 'duration', nets: 'xset' };
const ATTR_NAMES = Object.keys(ATTRS);
const KINDS = ['long', 'string', 'bool', 'set', 'lset', 'record', 'entity', 'ip', 'decimal',
    'datetime', 'duration'];

function makeEntities(r, w) {
    const out = [];
    const attrsFor = () => {
        const a = {};
        for (const name of ATTR_NAMES) {
            if (!r.chance(0.45)) continue;
            const kind = r.chance(0.04) ? r.pick(KINDS) : ATTRS[name];
            a[name] = attrValue(r, w, kind);
        }
        return a;
    };
    const tagsFor = () => {
        if (!r.chance(0.5)) return undefined;
        const t = {};
        for (const k of r.some(TAG_KEYS, r.int(0, 3))) {
            t[k] = r.chance(0.6) ? r.pick(LONGS) : attrValue(r, w, r.pick(KINDS));
        }
        return t;
    };
    const push = (uid, parents) => {
        const e = { uid: r.chance(0.2) ? refJson(uid) : { type: uid.type, id: uid.id }, attrs: attrsFor(),
            parents: parents.map((p) => (r.chance(0.2) ? refJson(p) : { type: p.type, id: p.id })) };
        const tags = tagsFor();
        if (tags) e.tags = tags;
        out.push(e);
    };
    // Groups form a DAG (parents only among earlier groups) of depth up to about 3.
    w.groups.forEach((g, i) => push(g, i === 0 ? [] : r.some(w.groups.slice(Math.max(0, i - 3), i), r.int(0, 2))));
    w.users.forEach((u) => push(u, r.some(w.groups, r.int(0, 2))));
    w.folders.forEach((f, i) => push(f, i === 0 ? [] : r.some(w.folders.slice(0, i), r.int(0, 1))));
    w.docs.forEach((d) => push(d, r.some(w.folders, r.int(0, 2))));
    const [read, write, del, share, readGroup, all] = w.actions;
    push(read, [readGroup]);
    push(write, [all]);
    push(del, r.chance(0.5) ? [all] : []);
    push(share, []);
    push(readGroup, [all]);
    push(all, []);
    return out;
}

// Context fields and their kinds; a request includes a random subset.
const CTX = { n: 'long', flag: 'bool', s: 'string', src: 'ip', when: 'datetime', amount: 'decimal',
    list: 'lset', roles: 'set', ent: 'entity', rec: 'record', wait: 'duration' };

function makeContext(r, w) {
    const c = {};
    for (const [k, kind] of Object.entries(CTX)) {
        if (r.chance(0.8)) c[k] = attrValue(r, w, r.chance(0.03) ? r.pick(KINDS) : kind);
    }
    return c;
}

// ---- Expressions ----------------------------------------------------------------------------
// gen(type, depth) returns Cedar text of (mostly) that type. Compound sub-expressions are put in
// parentheses, except now and then where precedence should do the work.
class ExprGen {
    constructor(r, w, ill) {
        this.r = r;
        this.w = w;
        this.ill = ill;
    }

    // Parenthesizes a sub-expression unless it is a bare atom (no spaces): Cedar's grammar
    // does not let `if` or chained relations appear as operands without parentheses.
    p(s) {
        return /\s/.test(s) || this.r.chance(0.5) ? `(${s})` : s;
    }

    // An operand with no parentheses at all, for the expressions that test precedence.
    atom(type) {
        const a = this.r.chance(0.5) ? this.attr(type) : null;
        return a || this.lit(type);
    }

    lit(type) {
        const r = this.r;
        switch (type) {
        case 'bool': return r.pick(['true', 'false']);
        case 'long': return r.chance(0.08) ? r.pick(BIG_LONGS) : String(r.pick(LONGS));
        case 'string': return JSON.stringify(r.pick(STRINGS));
        case 'entity': return uidText(r.pick(r.chance(0.1) ? this.w.ghosts : this.w.all));
        case 'set': return `[${r.some(STRINGS, r.int(0, 3)).map((s) => JSON.stringify(s)).join(', ')}]`;
        case 'lset': return `[${r.some(LONGS, r.int(0, 3)).join(', ')}]`;
        case 'eset': return `[${r.some(this.w.all, r.int(0, 3)).map(uidText).join(', ')}]`;
        case 'record': return `{city: ${JSON.stringify(r.pick(CITIES))}, zip: ${r.int(10000, 99999)}}`;
        case 'ip': return `ip(${JSON.stringify(r.pick(r.chance(this.ill ? 0.1 : 0.02) ? BAD_IPS : IPS))})`;
        case 'decimal': return `decimal(${JSON.stringify(r.pick(DECIMALS))})`;
        case 'datetime': return `datetime(${JSON.stringify(r.pick(DATETIMES))})`;
        case 'duration': return `duration(${JSON.stringify(r.pick(DURATIONS))})`;
        default: throw new Error(type);
        }
    }

    // An attribute of the given kind read from an entity or the context, sometimes guarded.
    attr(kind) {
        const r = this.r;
        const ctxKeys = Object.keys(CTX).filter((k) => CTX[k] === kind);
        const attrKeys = ATTR_NAMES.filter((k) => ATTRS[k] === kind);
        if (ctxKeys.length && (attrKeys.length === 0 || r.chance(0.4))) {
            const k = r.pick(ctxKeys);
            return r.chance(0.2) ? `context["${k}"]` : `context.${k}`;
        }
        if (attrKeys.length === 0) return null;
        const k = r.pick(attrKeys);
        const base = r.pick(['principal', 'principal', 'resource', 'resource', 'context.ent',
            'principal.manager', 'resource.owner', 'action']);
        return r.chance(0.15) ? `${base}["${k}"]` : `${base}.${k}`;
    }

    gen(type, depth) {
        const r = this.r;
        if (this.ill && r.chance(0.03)) type = r.pick(['bool', 'long', 'string', 'entity', 'set', 'ip', 'datetime']);
        if (depth <= 0 || r.chance(0.2)) {
            const a = r.chance(0.5) ? this.attr(type === 'eset' ? 'entity' : type) : null;
            return a && type !== 'eset' ? a : this.lit(type);
        }
        const d = depth - 1;
        const g = (t) => this.gen(t, d);
        switch (type) {
        case 'bool': return this.genBool(d);
        case 'long': return r.pick([
            () => `${this.p(g('long'))} + ${this.p(g('long'))}`,
            () => `${this.p(g('long'))} - ${this.p(g('long'))}`,
            () => `${this.p(g('long'))} * ${this.p(g('long'))}`,
            () => `-${this.p(g('long'))}`,
            () => `if ${g('bool')} then ${g('long')} else ${g('long')}`,
            () => `${this.p(g('duration'))}.${r.pick(['toMilliseconds', 'toSeconds', 'toMinutes', 'toHours', 'toDays'])}()`,
            () => `${r.pick(['principal', 'resource'])}.getTag(${JSON.stringify(r.pick(TAG_KEYS))})`,
            () => this.attr('long'),
        ])();
        case 'string': return r.pick([
            () => this.attr('string'),
            () => `principal.address.city`,
            () => `if ${g('bool')} then ${g('string')} else ${g('string')}`,
            () => this.lit('string'),
        ])();
        case 'entity': return r.pick([
            () => r.pick(['principal', 'resource', 'action']),
            () => this.attr('entity'),
            () => `if ${g('bool')} then ${g('entity')} else ${g('entity')}`,
            () => this.lit('entity'),
        ])();
        case 'set': return r.pick([
            () => this.attr('set'),
            () => `[${g('string')}, ${g('string')}]`,
            () => this.lit('set'),
        ])();
        case 'lset': return r.pick([
            () => this.attr('lset'),
            () => `[${g('long')}, ${g('long')}]`,
            () => this.lit('lset'),
        ])();
        case 'eset': return r.pick([() => `[${g('entity')}, ${g('entity')}]`, () => this.lit('eset')])();
        case 'record': return r.pick([
            () => this.attr('record'),
            () => `{city: ${g('string')}, zip: ${g('long')}, "odd key": ${g('bool')}}`,
            () => this.lit('record'),
        ])();
        case 'ip': return r.pick([() => this.attr('ip'), () => this.lit('ip'),
            () => `ip(${g('string')})`])();
        case 'decimal': return r.pick([() => this.attr('decimal'), () => this.lit('decimal'),
            () => `decimal(${g('string')})`])();
        case 'datetime': return r.pick([
            () => this.attr('datetime'),
            () => this.lit('datetime'),
            () => `${this.p(g('datetime'))}.offset(${g('duration')})`,
            () => `${this.p(g('datetime'))}.toDate()`,
        ])();
        case 'duration': return r.pick([
            () => this.attr('duration'),
            () => this.lit('duration'),
            () => `${this.p(g('datetime'))}.toTime()`,
            () => `${this.p(g('datetime'))}.durationSince(${g('datetime')})`,
        ])();
        default: throw new Error(type);
        }
    }

    // `base has k && <use of base.k>`: the usual safe way to read an optional attribute.
    guarded() {
        const r = this.r;
        const base = r.pick(['principal', 'resource', 'context.ent', 'principal.manager']);
        const k = r.pick(ATTR_NAMES);
        const v = `${base}.${k}`;
        const use = {
            long: () => `${v} > ${this.lit('long')}`,
            string: () => `${v} like ${JSON.stringify(r.pick(PATTERNS))}`,
            bool: () => v,
            set: () => `${v}.contains(${this.lit('string')})`,
            lset: () => `${v}.containsAny(${this.lit('lset')})`,
            record: () => `${v} has city && ${v}.city == ${JSON.stringify(r.pick(CITIES))}`,
            entity: () => `${v} in ${uidText(r.pick(this.w.all))}`,
            ip: () => `${v}.isInRange(${this.lit('ip')})`,
            decimal: () => `${v}.greaterThan(${this.lit('decimal')})`,
            datetime: () => `${v} < ${this.lit('datetime')}`,
            duration: () => `${v} >= ${this.lit('duration')}`,
            xset: () => `${v}.contains(${this.lit('ip')})`,
        }[ATTRS[k]]();
        return `${base} has ${k} && ${use}`;
    }

    genBool(d) {
        const r = this.r;
        const g = (t) => this.gen(t, d);
        const anyType = () => r.pick(['long', 'string', 'entity', 'set', 'lset', 'record', 'ip',
            'decimal', 'datetime', 'duration', 'bool']);
        const hasTarget = () => r.pick(['principal', 'resource', 'context', 'principal.address',
            'context.rec', 'context.ent', 'resource.owner']);
        const hasAttr = () => r.pick([...ATTR_NAMES, 'city', 'zip', 'inner', 'n', 'flag', 'src',
            'nope', '"odd key"']);
        return r.pick([
            () => this.attr('bool'),
            () => `${this.p(g('long'))} ${r.pick(['<', '<=', '>', '>='])} ${this.p(g('long'))}`,
            () => `${this.p(g('long'))} ${r.pick(['<', '<=', '>', '>='])} ${this.p(g('long'))}`,
            () => { const t = anyType(); return `${this.p(g(t))} ${r.pick(['==', '!='])} ${this.p(g(r.chance(0.85) ? t : anyType()))}`; },
            () => `${this.p(g('bool'))} && ${this.p(g('bool'))}`,
            () => `${this.p(g('bool'))} || ${this.p(g('bool'))}`,
            () => `!${this.p(g('bool'))}`,
            () => `if ${g('bool')} then ${g('bool')} else ${g('bool')}`,
            () => `${hasTarget()} has ${hasAttr()}`,
            () => `${hasTarget()} has ${r.pick(['address.city', 'address.inner.deep', 'rec.zip', 'ent.level', 'owner.name'])}`,
            () => `${this.p(g('string'))} like ${JSON.stringify(r.pick(PATTERNS)).replace(/\\\\\*/g, '\\*')}`,
            () => `${this.p(g('entity'))} in ${this.p(g('entity'))}`,
            () => `${this.p(g('entity'))} in ${g('eset')}`,
            () => `principal in ${uidText(r.pick(this.w.groups))}`,
            () => `resource in ${uidText(r.pick(this.w.folders))}`,
            () => `${this.p(g('entity'))} is ${r.pick(['User', 'Group', 'Doc', 'Folder', 'Svc::Service', 'Action'])}`,
            () => `${this.p(g('entity'))} is ${r.pick(['User', 'Doc', 'Svc::Service'])} in ${this.p(g('entity'))}`,
            () => `${this.p(g('set'))}.contains(${g('string')})`,
            () => `${this.p(g('lset'))}.contains(${g('long')})`,
            () => `${this.p(g('eset'))}.contains(${g('entity')})`,
            () => `${this.p(g('set'))}.${r.pick(['containsAll', 'containsAny'])}(${g('set')})`,
            () => `${this.p(g('lset'))}.${r.pick(['containsAll', 'containsAny'])}(${g('lset')})`,
            () => `${this.p(g(r.pick(['set', 'lset', 'eset'])))}.isEmpty()`,
            () => `${this.p(g('entity'))}.hasTag(${r.chance(0.8) ? JSON.stringify(r.pick(TAG_KEYS)) : g('string')})`,
            () => { const t = anyType(); return `${this.p(g('entity'))}.getTag(${JSON.stringify(r.pick(TAG_KEYS))}) ${r.pick(['==', '!='])} ${this.p(g(t))}`; },
            () => `${this.p(this.attr('xset') || '[ip("10.0.0.1")]')}.contains(${g('ip')})`,
            () => `${this.p(g('record'))} == ${this.p(g('record'))}`,
            () => `principal.hasTag("level") && principal.getTag("level") ${r.pick(['<', '>=', '=='])} ${this.p(g('long'))}`,
            () => `${this.atom('long')} + ${this.atom('long')} * ${this.atom('long')} - ${this.atom('long')} ${r.pick(["<", "==", ">="])} - ${this.atom('long')} * ${this.atom('long')}`,
            () => `${this.atom('bool')} || ${this.atom('bool')} && !${this.atom('bool')} || !!${this.atom('bool')}`,
            () => `${this.atom('entity')} in ${this.atom('entity')} && ${this.atom('string')} like "*a*" || ${this.atom('long')} - -${this.atom('long')} != 3`,
            () => `${this.p(g('ip'))}.${r.pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}()`,
            () => `${this.p(g('ip'))}.isInRange(${g('ip')})`,
            () => `${this.p(g('decimal'))}.${r.pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'])}(${g('decimal')})`,
            () => `${this.p(g('datetime'))} ${r.pick(['<', '<=', '>', '>=', '==', '!='])} ${this.p(g('datetime'))}`,
            () => `${this.p(g('duration'))} ${r.pick(['<', '<=', '>', '>='])} ${this.p(g('duration'))}`,
            () => `${this.p(g('decimal'))} ${r.pick(['<', '>='])} ${this.p(g('decimal'))}`,
            () => this.guarded(),
        ])();
    }
}

// ---- Policies --------------------------------------------------------------------------------
function scope(r, w, slot, var_, pool, groupPool) {
    const forms = [
        () => var_,
        () => var_,
        () => `${var_} == ${uidText(r.pick(pool))}`,
        () => `${var_} in ${uidText(r.pick(groupPool))}`,
        () => `${var_} is ${r.pick(pool).type}`,
        () => `${var_} is ${r.pick(pool).type} in ${uidText(r.pick(groupPool))}`,
    ];
    if (slot) {
        forms.push(() => `${var_} == ?${var_}`, () => `${var_} in ?${var_}`,
            () => `${var_} is ${r.pick(pool).type} in ?${var_}`);
    }
    return r.pick(forms)();
}

function actionScope(r, w) {
    return r.pick([
        () => 'action',
        () => `action == ${uidText(r.pick(w.actions))}`,
        () => `action in ${uidText(r.pick(w.actions))}`,
        () => `action in [${r.some(w.actions, r.int(1, 3)).map(uidText).join(', ')}]`,
    ])();
}

function makePolicies(r, w) {
    const n = r.int(3, 12);
    const ill = r.chance(0.5);
    const eg = new ExprGen(r, w, ill);
    const texts = [];
    const links = [];
    for (let i = 0; i < n; i++) {
        const template = r.chance(0.15);
        const effect = r.chance(0.3) ? 'forbid' : 'permit';
        let ann = '';
        if (r.chance(0.2)) ann += `@id("p${i}")\n`;
        if (r.chance(0.1)) ann += `@reason("generated; policy ${i}")\n`;
        if (r.chance(0.05)) ann += '@flag\n';
        let p = scope(r, w, template, 'principal', w.principals, w.groups);
        let res = scope(r, w, template, 'resource', w.resources, w.folders);
        if (template && !p.includes('?') && !res.includes('?')) p = 'principal == ?principal';
        let body = '';
        const clauses = r.int(0, 2) + (effect === 'forbid' ? 1 : 0);
        for (let c = 0; c < clauses; c++) {
            body += `\n  ${r.chance(0.75) ? 'when' : 'unless'} { ${eg.gen('bool', r.int(1, 4))} }`;
        }
        if (r.chance(0.1)) texts.push(`// policy ${i} follows; a comment with ; and "quotes"`);
        texts.push(`${ann}${effect}(${p}, ${actionScope(r, w)}, ${res})${body};`);
        if (template) {
            const nl = r.int(0, 3);
            for (let k = 0; k < nl; k++) {
                const values = {};
                const slotUid = (v) => (v === 'principal' ? r.pick([...w.principals, ...w.groups]) : r.pick([...w.resources, ...w.folders]));
                for (const v of ['principal', 'resource']) {
                    if ((v === 'principal' ? p : res).includes('?')) {
                        const u = slotUid(v);
                        values[`?${v}`] = { type: u.type, id: u.id };
                    }
                }
                links.push({ templateId: `policy${i}`, newId: `link${i}_${k}`, values });
            }
        }
    }
    return { text: texts.join('\n') + '\n', links };
}

function makeRequests(r, w, count) {
    const lines = [];
    const ent = (pool) => {
        const u = r.chance(0.05) ? r.pick(w.ghosts) : r.pick(pool);
        return r.chance(0.3) ? uidText(u) : { type: u.type, id: u.id };
    };
    // About 1% of requests are malformed in one way, to exercise per-line rejection.
    const spoil = [
        (q) => { q.context.n = null; },
        (q) => { q.context.src = { __extn: { fn: 'ip', arg: r.pick(BAD_IPS) } }; },
        (q) => { q.context.when = { __extn: { fn: 'datetime', arg: '2024-13-45' } }; },
        (q) => { q.principal = 'User::unquoted'; },
        (q) => { q.resource = { type: 'Doc' }; },
        (q) => { q.context = [1, 2]; },
        (q) => { delete q.action; },
    ];
    for (let i = 0; i < count; i++) {
        const q = { principal: ent(w.principals), action: ent(w.actions), resource: ent(w.resources),
            context: makeContext(r, w) };
        if (r.chance(0.01)) r.pick(spoil)(q);
        lines.push(JSON.stringify(q));
    }
    return lines.join('\n') + '\n';
}

export function writeCases(seed, cases, requests, outDir) {
    const dirs = [];
    for (let c = 0; c < cases; c++) {
        const r = rng((seed * 1000003 + c) >>> 0);
        const w = makeWorld(r);
        const entities = makeEntities(r, w);
        const { text, links } = makePolicies(r, w);
        const dir = join(outDir, `s${seed}_c${c}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'policies.cedar'), text);
        writeFileSync(join(dir, 'entities.json'), JSON.stringify(entities, null, 1) + '\n');
        writeFileSync(join(dir, 'requests.jsonl'), makeRequests(r, w, requests));
        if (links.length) writeFileSync(join(dir, 'links.json'), JSON.stringify(links, null, 1) + '\n');
        dirs.push(dir);
    }
    return dirs;
}

function main() {
    const a = { seed: '1', cases: '10', requests: '50', out: 'gen-out' };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
    const dirs = writeCases(Number(a.seed) >>> 0, Number(a.cases), Number(a.requests), a.out);
    for (const d of dirs) console.log(d);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
