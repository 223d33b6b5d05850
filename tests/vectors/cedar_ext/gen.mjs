// Generates the Cedar extension-type known-answer vectors in this directory from the
// reference implementation (cedar-wasm, i.e. cedar-policy-core compiled to wasm).
//
// Regenerate (needs node >= 18 and @cedar-policy/cedar-wasm; we used 4.13.0):
//   npm install --prefix /tmp/cw @cedar-policy/cedar-wasm@4.13.0
//   CEDAR_WASM_DIR=/tmp/cw/node_modules node tests/vectors/cedar_ext/gen.mjs
// It rewrites ip.jsonl, ip_pairs.jsonl, decimal.jsonl, datetime.jsonl, duration.jsonl and
// datetime_ops.jsonl (one JSON object per line). Inputs are fixed lists plus seeded random
// cases, so the output is deterministic for a given cedar-wasm version.
//
// Every answer comes from cedar-wasm: accept/reject and the error kind from isAuthorized,
// predicates (isLoopback ...) from isAuthorized, exact datetime/duration milliseconds from
// the residuals of isAuthorizedPartial (duration("<n>ms") literals, exact as strings). For
// values cedar-wasm cannot print (ip bytes, decimal value) this script proposes an answer
// and keeps it only after cedar-wasm confirms it with == (value equality); a wrong proposal
// aborts the run instead of being written.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const wasmDir = process.env.CEDAR_WASM_DIR || '/tmp/cw/node_modules';
const require = createRequire(join(wasmDir, 'x.js'));
const cedar = require('@cedar-policy/cedar-wasm/nodejs');
const outDir = dirname(fileURLToPath(import.meta.url));

const REQ = { principal: { type: 'U', id: 'p' }, action: { type: 'A', id: 'a' },
              resource: { type: 'R', id: 'r' } };
const I64_MIN = -(2n ** 63n), I64_MAX = 2n ** 63n - 1n;

// Evaluates a boolean condition; returns true/false, or {err: message}.
function cond(expr, ctx) {
    const r = cedar.isAuthorized({ ...REQ, context: ctx, entities: [],
        policies: { staticPolicies: `permit(principal,action,resource) when { ${expr} };` } });
    if (r.type !== 'success') throw new Error('cedar-wasm failed: ' + JSON.stringify(r.errors));
    const errs = r.response.diagnostics.errors;
    if (errs.length) return { err: errs[0].error.message };
    return r.response.decision === 'allow';
}

// Evaluates an expression to its residual JSON (principal unknown), or {err: true}.
function value(expr, ctx) {
    const r = cedar.isAuthorizedPartial({ principal: null, action: REQ.action,
        resource: REQ.resource, context: ctx, entities: [],
        policies: { staticPolicies: `permit(principal,action,resource) when { principal.x == (${expr}) };` } });
    if (r.type !== 'residuals') throw new Error('cedar-wasm failed: ' + JSON.stringify(r.errors));
    if (r.response.errored.length) return { err: true };
    let b = r.response.residuals.policy0.conditions[0].body;
    while (b['&&']) b = b['&&'].right;
    return b['=='].right;
}

// Exact milliseconds of a duration-valued expression, or null on error.
function durationMs(expr, ctx) {
    const v = value(expr, ctx);
    if (v.err) return null;
    const s = v.duration[0].Value;
    if (!/^-?[0-9]+ms$/.test(s)) throw new Error('unexpected duration ' + s);
    return BigInt(s.slice(0, -2));
}

// Exact value of a Long-valued expression, or null on error. Residual numbers pass
// through JS doubles, so large ones are read from an overflow message instead.
function longValue(expr, ctx) {
    const v = value(expr, ctx);
    if (v.err) return null;
    if (Number.isSafeInteger(v.Value)) return BigInt(v.Value);
    const r = cond(`(${expr}) * 9223372036854775807 == 0`, ctx);
    const m = /multiply the values `(-?[0-9]+)` and/.exec(r.err || '');
    if (!m) throw new Error('cannot read long from ' + JSON.stringify(r));
    return BigInt(m[1]);
}

function errKind(msg) {
    return /overflow/i.test(msg) ? 'overflow' : 'invalid';
}

// Deterministic PRNG (mulberry32) so vectors are stable.
let seed = 0x5eed1234;
function rnd() {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];
function mutate(s) {
    const chars = '0123456789abcdefABCDEF.:/-+ TZxg%\u0000\u0661';
    const i = ri(s.length + 1);
    switch (ri(4)) {
    case 0: return s.slice(0, i) + pick([...chars]) + s.slice(i);
    case 1: return s.slice(0, i) + s.slice(i + 1);
    case 2: return s.slice(0, i) + pick([...chars]) + s.slice(i + 1);
    default: return s.slice(0, i) + s.slice(i, i + 2) + s.slice(i);
    }
}
const uniq = (a) => [...new Set(a)];
const writeLines = (name, rows) => {
    writeFileSync(join(outDir, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    console.log(`${name}: ${rows.length} vectors`);
};

/* ---------------- ipaddr ---------------- */

// Proposed value of an accepted ip() string: {v6, bytes, prefix}. Only used for strings
// cedar-wasm accepted, and only kept after cedar-wasm confirms equality.
function ipModel(s) {
    const slash = s.indexOf('/');
    const a = slash < 0 ? s : s.slice(0, slash);
    if (a.includes('.')) {
        const bytes = a.split('.').map(Number);
        return { v6: false, bytes, prefix: slash < 0 ? 32 : Number(s.slice(slash + 1)) };
    }
    let groups;
    if (a.includes('::')) {
        const [h, t] = a.split('::');
        const hg = h ? h.split(':') : [], tg = t ? t.split(':') : [];
        groups = [...hg, ...Array(8 - hg.length - tg.length).fill('0'), ...tg];
    } else groups = a.split(':');
    const bytes = [];
    for (const g of groups) { const v = parseInt(g, 16); bytes.push(v >> 8, v & 255); }
    return { v6: true, bytes, prefix: slash < 0 ? 128 : Number(s.slice(slash + 1)) };
}
function ipExpanded(m) {
    if (!m.v6) return m.bytes.join('.') + '/' + m.prefix;
    const g = [];
    for (let i = 0; i < 16; i += 2) g.push(((m.bytes[i] << 8) | m.bytes[i + 1]).toString(16).padStart(4, '0'));
    return g.join(':') + '/' + m.prefix;
}
// RFC 5952 text (what cedar_ip_format must print).
function ipFormat(m) {
    if (!m.v6) return m.bytes.join('.') + '/' + m.prefix;
    const g = [];
    for (let i = 0; i < 16; i += 2) g.push((m.bytes[i] << 8) | m.bytes[i + 1]);
    let best = -1, bestLen = 1;
    for (let i = 0; i < 8;) {
        if (g[i] !== 0) { i++; continue; }
        let j = i;
        while (j < 8 && g[j] === 0) j++;
        if (j - i > bestLen) { best = i; bestLen = j - i; }
        i = j;
    }
    const hex = (x) => x.map((v) => v.toString(16)).join(':');
    const text = best < 0 ? hex(g) : hex(g.slice(0, best)) + '::' + hex(g.slice(best + bestLen));
    return text + '/' + m.prefix;
}
const toHex = (b) => b.map((x) => x.toString(16).padStart(2, '0')).join('');

function ipInputs() {
    const v4 = ['0.0.0.0', '255.255.255.255', '127.0.0.1', '127.0.0.0', '127.255.255.255',
        '126.255.255.255', '128.0.0.0', '224.0.0.0', '224.0.0.1', '239.255.255.255', '240.0.0.0',
        '223.255.255.255', '10.0.0.1', '192.168.1.1', '1.2.3.4', '100.64.0.0', '8.8.8.8'];
    const v6 = ['::', '::1', '::2', '0::1', '0:0:0:0:0:0:0:1', '0:0:0:0:0:0:0:0', '1::', '::ffff',
        '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::8', '1:0:0:2::3',
        '1:0:0:2:0:0:0:3', 'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789',
        'ff00::', 'ff02::1', 'FF02::1', 'feff::1', 'fe80::1', 'ff00::1', 'fff0::', '::ffff:7f00:1',
        '::ffff:ff00:1', '::7f00:1', '0000:0000:0000:0000:0000:0000:0000:0001', '2001:db8::',
        '2001:db8::1', '2001:0db8:0000:0000:0000:ff00:0042:8329', '1:0:1:0:1:0:1:0', '0:1:0:0:1:0:0:0',
        '1:0:0:1:0:0:0:0', '0:0:1:0:0:1:0:0', 'f:f:f:f:f:f:f:f', '0001:02:003::'];
    const fixed = [
        '', ' ', '/', '/8', '.', ':', '::/', '1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3',
        '256.0.0.0', '255.256.0.0', '1.2.3.256', '999.1.1.1', '1000.1.1.1', '01.2.3.4', '1.02.3.4',
        '1.2.3.04', '1.2.3.0004', '00.0.0.0', '0.0.0.00', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n',
        '\t1.2.3.4', '1.2.3.4\u0000', '1.2.3.-4', '+1.2.3.4', '-1.2.3.4', '1.2.3.+4', '1.2.3.4/',
        '1.2.3.4/33', '1.2.3.4/032', '1.2.3.4/ 8', '1.2.3.4/8 ', '1.2.3.4/+8', '1.2.3.4/-8',
        '1.2.3.4/8/8', '1.2.3.4//8', '1.2.3.4/0', '1.2.3.4/00', '1.2.3.4/01', '1.2.3.4/100',
        '1.2.3.4/255', '1.2.3.4/256', '1.2.3.4/32', '1.2.3.4/31', '1.2.3.4/8a', '1.2.3.4/0x8',
        '1.2.3.4/\u0661', '0x7f.0.0.1', '127.1', '127.0.1', '2130706433', '\u0661.2.3.4',
        '1.2.3.4%eth0', '1.2.3.4:80', '1.2.3.4/8:', 'a.b.c.d', '1,2,3,4', '1.2.3.4.', '1.2.3.4/8.',
        '::/0', '::/129', '::/128', '::/0128', '::/1280', '::1/128', '::1/127', '::1/00', '::1/+1',
        '::1/', '::1/1.2', '::1/1..2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::',
        '::1:2:3:4:5:6:7:8', '1::2::3', ':::', ':1::', '1:::2', '::1:', ':1', '1:', '12345::',
        '::12345', '00000::1', '::00001', 'g::1', '::g', '[::1]', '::ffff:1.2.3.4', '::1.2.3.4',
        '::ffff:127.0.0.1', '1:2:3:4:5:6:1.2.3.4', '1.2.3.4::', '::1.2', '::1.2.3', '::1/1.2.3',
        'fe80::1%eth0', 'fe80::1%1', '::1 ', ' ::1', '::1\u0000', ':: 1', '1 ::', '::-1', '::+1',
        '-::1', '0x1::', '::%', '::\u0661', '\u0661::', 'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128',
        'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/12', 'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/1280',
        'ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/ 128', '0000:0000:0000:0000:0000:0000:0000:0001/128',
        '0000:0000:0000:0000:0000:0000:0000:0001/1281', '000:0000:0000:0000:0000:0000:0000:0001/128',
        '1.2.3.4' + ' '.repeat(40), '1'.repeat(44), '::' + '0'.repeat(41) + '1',
        '0.0.0.0/0', '255.255.255.255/32', '255.255.255.255/0', '::/8', 'ff00::/8', 'ff00::/7',
        'ff00::/9', 'ff00::/128', 'ff00::/0', 'feff::/8', '224.0.0.0/4', '224.0.0.0/3',
        '239.255.255.255/4', '240.0.0.0/4', '127.0.0.1/8', '127.0.0.1/7', '127.0.0.1/0',
        '127.255.255.255/9', '::1/0', '::1/1', '10.1.2.3/8', '10.0.0.0/8', '1.2.3.4/24',
        '1.2.3.4\u00a0', '1\u002e2.3.4', '1.2.3.4/8\n', '::1/128\n', '\ufeff::1',
    ];
    const out = [...v4, ...v6, ...fixed];
    for (const a of v4.concat(['127.1.2.3', '224.1.2.3', '239.0.0.1', '192.0.2.1']))
        for (const p of [0, 1, 3, 4, 5, 7, 8, 9, 16, 24, 31, 32, 33])
            out.push(`${a}/${p}`);
    for (const a of ['::1', '::', 'ff00::', 'ff02::1', 'fe80::1', '2001:db8::1'])
        for (const p of [0, 1, 7, 8, 9, 64, 127, 128, 129])
            out.push(`${a}/${p}`);
    for (let i = 0; i < 120; i++) {
        const a = [ri(256), ri(256), ri(256), ri(256)];
        if (ri(3) === 0) a[0] = pick([0, 127, 224, 239, 240, 255]);
        out.push(a.join('.') + (ri(2) ? '/' + ri(34) : ''));
    }
    for (let i = 0; i < 160; i++) {
        const g = [];
        for (let k = 0; k < 8; k++) g.push(ri(3) === 0 ? 0 : ri(4) === 0 ? ri(16) : ri(65536));
        if (ri(4) === 0) g[0] = pick([0xff00, 0xff02, 0xfe80, 0xfeff, 0]);
        let text = g.map((v) => (ri(5) === 0 ? v.toString(16).padStart(4, '0') : ri(4) === 0 ? v.toString(16).toUpperCase() : v.toString(16))).join(':');
        const m = { v6: true, bytes: g.flatMap((v) => [v >> 8, v & 255]), prefix: 128 };
        if (ri(2)) text = ipFormat(m).replace('/128', '');
        out.push(text + (ri(2) ? '/' + ri(130) : ''));
    }
    const valid = out.slice();
    for (let i = 0; i < 260; i++) out.push(mutate(pick(valid)));
    return uniq(out);
}

function genIp() {
    const rows = [], accepted = [];
    for (const s of ipInputs()) {
        const ctx = { s };
        const r = cond('ip(context.s).isIpv4() || true', ctx);
        if (r.err) { rows.push({ in: s, ok: false }); continue; }
        const m = ipModel(s);
        const expanded = ipExpanded(m), fmt = ipFormat(m);
        if (cond('ip(context.s) == ip(context.e) && ip(context.s) == ip(context.f)',
                  { s, e: expanded, f: fmt }) !== true)
            throw new Error(`model disagrees with cedar-wasm on ip(${JSON.stringify(s)})`);
        const row = { in: s, ok: true, v6: m.v6, addr: toHex(m.bytes), prefix: m.prefix, fmt };
        for (const [k, f] of [['ipv4', 'isIpv4'], ['ipv6', 'isIpv6'], ['loopback', 'isLoopback'],
                              ['multicast', 'isMulticast']])
            row[k] = cond(`ip(context.s).${f}()`, ctx);
        rows.push(row);
        accepted.push(s);
    }
    writeLines('ip.jsonl', rows);

    // Pairs: related ranges (nested, unmasked, prefix 0, cross family) and random ones.
    const base = ['10.0.0.0/8', '10.1.2.3/8', '10.1.2.3', '10.1.2.3/32', '10.1.2.0/24', '10.1.0.0/16',
        '10.255.255.255', '11.0.0.0/8', '9.255.255.255', '0.0.0.0/0', '1.2.3.4/0', '127.0.0.1',
        '127.0.0.0/8', '128.0.0.0/1', '0.0.0.0/1', '255.255.255.255', '255.255.255.255/31',
        '192.168.0.0/16', '192.168.0.1/16', '192.168.255.255/17', '::', '::/0', '::1', '::1/128',
        '::1/127', '::/127', '::2/127', '::3', 'ff00::/8', 'ff00::1', 'ffff::/16', 'fe80::/10',
        'fe80::1', 'fec0::/10', '2001:db8::/32', '2001:db8::1/48', '2001:db8:0:ffff::/64',
        '2001:db9::', '8000::/1', '::ffff:7f00:1', '::ffff:0:0/96', '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'];
    const pool = uniq(base.concat(accepted.filter(() => ri(3) === 0)));
    const pairs = [];
    for (const a of base) for (const b of base) if (ri(3) === 0 || a === b) pairs.push([a, b]);
    for (let i = 0; i < 300; i++) pairs.push([pick(pool), pick(pool)]);
    const prow = [];
    for (const [a, b] of uniq(pairs.map((p) => JSON.stringify(p))).map((p) => JSON.parse(p))) {
        const ctx = { a, b };
        prow.push({ a, b, in_range: cond('ip(context.a).isInRange(ip(context.b))', ctx),
                    equal: cond('ip(context.a) == ip(context.b)', ctx) });
    }
    writeLines('ip_pairs.jsonl', prow);
}

/* ---------------- decimal ---------------- */

function decFormat(v) {
    const neg = v < 0n, a = neg ? -v : v;
    return (neg ? '-' : '') + (a / 10000n).toString() + '.' + (a % 10000n).toString().padStart(4, '0');
}
// Proposed value of an accepted decimal() string; confirmed by cedar-wasm before use.
function decModel(s) {
    const [l, r] = s.split('.');
    const neg = l.startsWith('-');
    const mag = BigInt(neg ? l.slice(1) : l) * 10000n + BigInt(r) * 10n ** BigInt(4 - r.length);
    return neg ? -mag : mag;
}
function decInputs() {
    const out = ['0.0', '-0.0', '0.5', '-0.5', '-0.0001', '0.0001', '1.0', '1.00', '1.000', '1.0000',
        '1.00000', '1.05', '-1.05', '12.34', '123.456', '0.1234', '-0.0123', '55.1', '1.', '.1', '-.1',
        '-', '-.', '.', '', '1', '-1', '+1.0', '1e5', '1.0e1', '1.0 ', ' 1.0', '1,0', '1.-0', '--1.0',
        '1.+0', '\u0661.0', '1.\u0661', '0x1.0', '1.0\u0000', '\u00001.0', '1_000.0', '1.2.3', '1..2',
        '-1.2-', '1.0\n', '\uff11.0', 'NaN', 'inf', '1.00001', '00000000000000000000000000001.5',
        '-00000000000000000000000000001.5', '0.00000', '922337203685477.5807', '922337203685477.5808',
        '-922337203685477.5808', '-922337203685477.5809', '922337203685477.580', '922337203685477.58',
        '922337203685477.6', '922337203685478.0', '-922337203685478.0', '922337203685476.9999',
        '-922337203685477.58', '-922337203685477.581', '9223372036854775807.0',
        '9223372036854775808.0', '-9223372036854775808.0', '-9223372036854775809.0',
        '18446744073709551616.0', '99999999999999999999999.0', '1.9999', '-1.9999', '0.9999',
        '-0.9999', '0.0000', '-0.00', '100.10', '100.01', '1.0.', '1.0/', 'decimal', ' ', '-1. 0',
        '99999999999999999999.12345', '922337203685478.12345', '922337203685477.12345',
        '-922337203685478.12345', '1.123456789012345678901', '-0.12345', '\u0661.12345',
        '1.99999999999999999999', '922337203685477.00000', '-922337203685477.5808 ',
        '922337203685477.5807\u0000', '-\u0661.0', '0.0000\u0000'];
    for (let i = 0; i < 200; i++) {
        const digits = 1 + ri(16);
        let l = '';
        for (let k = 0; k < digits; k++) l += ri(10);
        const fl = 1 + ri(4);
        let r = '';
        for (let k = 0; k < fl; k++) r += ri(10);
        out.push((ri(2) ? '-' : '') + l + '.' + r);
    }
    for (let i = 0; i < 120; i++) out.push(mutate(pick(out)));
    return uniq(out);
}
function genDecimal() {
    const rows = [];
    for (const s of decInputs()) {
        const r = cond('decimal(context.s) == decimal(context.s)', { s });
        if (r.err) { rows.push({ in: s, ok: false, err: errKind(r.err) }); continue; }
        const v = decModel(s), fmt = decFormat(v);
        if (cond('decimal(context.s) == decimal(context.f)', { s, f: fmt }) !== true)
            throw new Error(`model disagrees with cedar-wasm on decimal(${JSON.stringify(s)})`);
        rows.push({ in: s, ok: true, value: v.toString(), fmt });
    }
    writeLines('decimal.jsonl', rows);
}

/* ---------------- datetime and duration ---------------- */

const EPOCH = 'datetime("1970-01-01")';
function dtIso(ms) {
    const d = new Date(Number(ms));
    return d.getUTCFullYear() >= 0 && d.getUTCFullYear() <= 9999 ? d.toISOString() : null;
}
function dtInputs() {
    const out = ['1970-01-01', '2024-10-15', '2024-10-15T11:38:02Z', '2024-10-15T11:38:02.101Z',
        '2024-10-15T11:38:02.101+1134', '2024-10-15T11:38:02.101-1134', '2024-10-15T11:38:02+1134',
        '2024-10-15T11:38:02-1134', '2024-10-15T23:59:00+2359', '2024-10-15T00:00:00-2359',
        '0000-01-01', '0000-01-01T00:00:00+2359', '0000-01-01T00:00:00-2359', '9999-12-31',
        '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999-2359', '9999-12-31T23:59:59+2359',
        '1969-12-31T23:59:59.999Z', '1969-12-31', '1900-01-01', '1600-02-29', '1700-02-29',
        '1900-02-29', '2000-02-29', '2024-02-29', '2025-02-29', '2024-02-30', '2024-00-01',
        '2024-01-00', '2024-13-01', '2024-20-01', '2024-01-32', '2024-01-99', '2024-04-31',
        '2024-04-30', '2024-06-31', '2024-09-31', '2024-11-31', '2024-12-31', '0000-02-29',
        '0004-02-29', '0100-02-29', '0400-02-29', '', 'a', '-', '-1', '11-12-13', '1111-1x-20',
        '2024-10-15Z', '2024-10-15T11:38:02ZZ', '0000-0a-01', '10000-01-01', '10000-01-01T00:00:00Z',
        '2024-01-01T', '2024-01-01Ta', '2024-01-01T01:', '2024-01-01T01:02', '2024-01-01T01:02:0b',
        '2024-01-01T01::02:03', '2024-01-01T31:02:03Z', '2024-01-01T24:00:00Z', '2024-01-01T23:59:59Z',
        '2024-01-01T01:60:03Z', '2016-12-31T23:59:60Z', '2016-12-31T23:59:61Z', '2024-01-01T00:00:00',
        '2024-01-01T00:00:00T', '2024-01-01T00:00:00ZZ', '2024-01-01T00:00:00x001Z',
        '2024-01-01T00:00:00.Z', '2024-01-01T00:00:00.1Z', '2024-01-01T00:00:00.12Z',
        '2024-01-01T00:00:00.1234Z', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.999Z',
        '2024-01-01T00:00:00+2400', '2024-01-01T00:00:00-2400', '2024-01-01T00:00:00+0060',
        '2024-01-01T00:00:00+0059', '2024-01-01T00:00:00+9999', '2024-01-01T00:00:00+0000',
        '2024-01-01T00:00:00-0000', '2024-01-01T00:00:00+000', '2024-01-01T00:00:00+00000',
        '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00.123+00:00', '2024-01-01T00:00:00z',
        '2024-01-01t00:00:00Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00Z ', ' 2024-01-01',
        '2024-01-01 ', '2024-01-01\n', '2024-01-01\u0000', '2024-1-01', '2024-01-1', '24-01-01',
        '+2024-01-01', '-2024-01-01', '2024/01/01', '2024-01-01T00:00:00.000', '2024-01-01T00:00Z',
        '2024-01-01T1:02:03Z', '2024-01-01T01:02:3Z', '\u0662024-01-01', '2024-01-01T00:00:00\u0661Z',
        '2024-01-01T00:00:00.-01Z', '2024-01-01T00:00:00+-100', '2024-01-01T00:00:00.000+2359',
        '2024-01-01T00:00:00.000-2359', '2024-03-10T02:30:00-0500', '2024-01-01T12:00:00+1200',
        '2024-01-01T12:00:00-1200', '1970-01-01T00:00:00.001Z', '1970-01-01T00:00:00.001+0000',
        '1969-12-31T23:59:59Z', '1970-01-01T00:00:00+0001', '1970-01-01T00:00:00-0001',
        '2024-10-15T11:38:60Z', '2024-10-15T11:38:59.999Z'];
    const dim = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (let i = 0; i < 200; i++) {
        const y = String(ri(10000)).padStart(4, '0');
        const mo = 1 + ri(12);
        const d = 1 + ri(dim[mo - 1] + (ri(8) === 0 ? 1 : 0));
        let s = `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
        if (ri(4)) {
            s += `T${String(ri(24)).padStart(2, '0')}:${String(ri(60)).padStart(2, '0')}:${String(ri(60)).padStart(2, '0')}`;
            if (ri(2)) s += '.' + String(ri(1000)).padStart(3, '0');
            s += ri(3) === 0 ? 'Z' : (ri(2) ? '+' : '-') + String(ri(24)).padStart(2, '0') + String(ri(60)).padStart(2, '0');
        }
        out.push(s);
    }
    for (let i = 0; i < 150; i++) out.push(mutate(pick(out)));
    return uniq(out);
}
function genDatetime() {
    const rows = [];
    for (const s of dtInputs()) {
        const r = cond('datetime(context.s) == datetime(context.s)', { s });
        if (r.err) { rows.push({ in: s, ok: false }); continue; }
        const ms = durationMs(`datetime(context.s).durationSince(${EPOCH})`, { s });
        const row = { in: s, ok: true, ms: ms.toString() };
        const fmt = dtIso(ms);
        if (fmt !== null) {
            if (cond('datetime(context.s) == datetime(context.f)', { s, f: fmt }) !== true)
                throw new Error(`ISO form disagrees for ${s}`);
            row.fmt = fmt;
        }
        rows.push(row);
    }
    writeLines('datetime.jsonl', rows);
}

function durInputs() {
    const out = ['0ms', '0d', '-0ms', '1ms', '1s', '1m', '1h', '1d', '-1d', '1d2h3m4s5ms',
        '-1d2h3m4s5ms', '1d1d', '1h1d', '1ms1s', '1s1m', '2d12h', '1m1ms', '1m5s', '1d5ms', '-', '',
        '--1d', '+1d', '1', 'd', 'ms', '1x', '1D', '1H', '1M', '1S', '1MS', '1 d', ' 1d', '1d ', '1d\u0000',
        '1.5d', '-1.5h', '1ms1ms', '1msm', '1sms', '1dh', '1d-1h', '1d+1h', '\u0661d', '0001d',
        '00000000000000000000000000001ms', '9223372036854775807ms', '9223372036854775808ms',
        '-9223372036854775808ms', '-9223372036854775809ms', '18446744073709551615ms',
        '18446744073709551616ms', '99999999999999999999ms', '9223372036854775s807ms',
        '9223372036854775s808ms', '-9223372036854775s808ms', '-9223372036854775s809ms',
        '9223372036854776s', '9223372036854775s', '106751991167d', '106751991168d', '-106751991167d',
        '106751991167d7h12m55s807ms', '106751991167d7h12m55s808ms', '-106751991167d7h12m55s808ms',
        '-106751991167d7h12m55s809ms', '2562047788015h', '2562047788016h', '153722867280912m',
        '153722867280913m', '-153722867280912m55s808ms', '9223372036854775807s', '9223372036854775807d',
        '9223372036854775808d', '0d0h0m0s0ms', '-0d0h0m0s0ms', '24h', '60m', '1000ms', '86400000ms',
        '-86400000ms', '1h30m', '-1h30m', '90m', '1d-', '1m1m', '1h1h', '1s1s', '5m2h', '3s2h', '1ms1d',
        '99999999999999999999999d1x', '99999999999999999999999d', '9223372036854775808d1ms',
        '1d99999999999999999999ms', '-99999999999999999999999ms', '1d1x', '1m1', '1ms1',
        '-9223372036854775807ms1', '0d-1ms', '1msms', '1ss', '1hh', '-0ms0', '9223372036854775807ms0s'];
    for (let i = 0; i < 160; i++) {
        let s = ri(3) === 0 ? '-' : '';
        for (const u of ['d', 'h', 'm', 's', 'ms'])
            if (ri(2)) s += String(ri(4) === 0 ? Math.floor(rnd() * 1e15) : ri(100000)) + u;
        if (s === '' || s === '-') s += ri(1000) + 'ms';
        out.push(s);
    }
    for (let i = 0; i < 120; i++) out.push(mutate(pick(out)));
    return uniq(out);
}
function genDuration() {
    const rows = [];
    for (const s of durInputs()) {
        const r = cond('duration(context.s) == duration(context.s)', { s });
        if (r.err) { rows.push({ in: s, ok: false, err: errKind(r.err) }); continue; }
        const ms = durationMs(`${EPOCH}.offset(duration(context.s)).durationSince(${EPOCH})`, { s });
        const fmt = ms.toString() + 'ms';
        if (cond('duration(context.s) == duration(context.f)', { s, f: fmt }) !== true)
            throw new Error(`format disagrees for ${s}`);
        rows.push({ in: s, ok: true, ms: ms.toString(), fmt });
    }
    writeLines('duration.jsonl', rows);
}

// Operations on raw int64 milliseconds: datetimes are built as epoch.offset(duration(n ms)).
function genOps() {
    const specials = [0n, 1n, -1n, 999n, -999n, 1000n, -1000n, 86399999n, -86399999n, 86400000n,
        -86400000n, 86400001n, -86400001n, 1704067200000n, -62167219200000n, 253402300799999n,
        I64_MAX, I64_MIN, I64_MAX - 1n, I64_MIN + 1n, I64_MAX - 86400000n, I64_MIN + 86400000n,
        I64_MIN + 86399999n, I64_MIN + 55808n, I64_MIN + 55807n, I64_MIN + 55809n,
        (I64_MIN / 86400000n) * 86400000n, (I64_MIN / 86400000n) * 86400000n - 1n,
        (I64_MIN / 86400000n) * 86400000n + 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 3600000n, 60000n];
    const rand64 = () => {
        let v = 0n;
        for (let k = 0; k < 4; k++) v = (v << 16n) | BigInt(ri(65536));
        return BigInt.asIntN(64, v) >> BigInt(ri(64));
    };
    const vals = specials.slice();
    for (let i = 0; i < 60; i++) vals.push(rand64());
    const dt = (n) => `${EPOCH}.offset(duration("${n}ms"))`;
    const rows = [];
    const str = (v) => (v === null ? null : v.toString());
    for (const a of vals) {
        rows.push({ op: 'toDate', a: a.toString(),
                    r: str(durationMs(`${dt(a)}.toDate().durationSince(${EPOCH})`, {})) });
        rows.push({ op: 'toTime', a: a.toString(), r: str(durationMs(`${dt(a)}.toTime()`, {})) });
        for (const [op, f] of [['toDays', 'toDays'], ['toHours', 'toHours'], ['toMinutes', 'toMinutes'],
                               ['toSeconds', 'toSeconds'], ['toMilliseconds', 'toMilliseconds']])
            rows.push({ op, a: a.toString(), r: str(longValue(`duration("${a}ms").${f}()`, {})) });
    }
    for (let i = 0; i < 150; i++) {
        const a = i < 40 ? pick(specials) : pick(vals), b = pick(vals);
        rows.push({ op: 'offset', a: a.toString(), b: b.toString(),
                    r: str(durationMs(`${dt(a)}.offset(duration("${b}ms")).durationSince(${EPOCH})`, {})) });
        rows.push({ op: 'durationSince', a: a.toString(), b: b.toString(),
                    r: str(durationMs(`${dt(a)}.durationSince(${dt(b)})`, {})) });
    }
    writeLines('datetime_ops.jsonl', rows);
}

genIp();
genDecimal();
genDatetime();
genDuration();
genOps();
