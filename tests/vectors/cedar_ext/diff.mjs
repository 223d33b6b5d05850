// Differential check of src/policy/ext_*.c against cedar-wasm on random inputs: mutated
// valid strings and random strings over each type's alphabet go to both the reference and
// tests/tools/policy_ext_eval.c; any disagreement (accept/reject, error kind, value,
// isLoopback, isMulticast) is printed and the exit status is 1.
//
//   cmake --build build && CEDAR_WASM_DIR=/tmp/cw/node_modules \
//     node tests/vectors/cedar_ext/diff.mjs build/policy_ext_eval [seed] [inputs-per-type]
//
// Not a CTest (it needs node and cedar-wasm); gen.mjs's vectors are what CTest replays.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const cedar = createRequire(join(process.env.CEDAR_WASM_DIR || '/tmp/cw/node_modules', 'x.js'))(
    '@cedar-policy/cedar-wasm/nodejs');
const [evalBin, seedArg, countArg] = process.argv.slice(2);
if (!evalBin) {
    console.error('usage: diff.mjs <path of policy_ext_eval> [seed] [inputs-per-type]');
    process.exit(2);
}
const REQ = { principal: { type: 'U', id: 'p' }, action: { type: 'A', id: 'a' },
              resource: { type: 'R', id: 'r' } };
function cond(expr, ctx) {
    const r = cedar.isAuthorized({ ...REQ, context: ctx, entities: [],
        policies: { staticPolicies: `permit(principal,action,resource) when { ${expr} };` } });
    if (r.type !== 'success') throw new Error(JSON.stringify(r.errors));
    const errs = r.response.diagnostics.errors;
    return errs.length ? { err: errs[0].error.message } : r.response.decision === 'allow';
}
let seed = Number(seedArg || 1);
function rnd() {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n), pick = (a) => a[ri(a.length)];
const alphabet = { ip: '0123456789abcdefABCDEFx.:/ %', dec: '0123456789.-+ e',
                   dt: '0123456789-T:.Z+ ', dur: '0123456789dhms-+ ' };
const templates = {
    ip: ['1.2.3.4', '255.255.255.255/32', '::', '::1', '1:2:3:4:5:6:7:8', 'ff00::/8', '127.0.0.1/8',
         'fe80::1:2/64', '0.0.0.0/0', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789/128', '1::/128',
         '::ffff:0:1/96'],
    dec: ['0.0', '-1.5', '922337203685477.5807', '-922337203685477.5808', '123.4567', '00012.0'],
    dt: ['2024-02-29', '2024-10-15T11:38:02Z', '2024-10-15T11:38:02.101+1134',
         '0000-01-01T00:00:00-2359', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000-0000'],
    dur: ['1d2h3m4s5ms', '-9223372036854775808ms', '106751991167d7h12m55s807ms', '0ms', '-1h',
          '153722867280912m55s807ms'],
};
function gen(t) {
    const chars = [...alphabet[t]];
    if (ri(5) === 0) {
        let s = '';
        for (let n = ri(46); n > 0; n--) s += pick(chars);
        return s;
    }
    let s = pick(templates[t]);
    for (let k = 1 + ri(3); k > 0; k--) {
        const i = ri(s.length + 1), c = pick(chars);
        switch (ri(5)) {
        case 0: s = s.slice(0, i) + c + s.slice(i); break;
        case 1: s = s.slice(0, i) + s.slice(i + 1); break;
        case 2: s = s.slice(0, i) + c + s.slice(i + 1); break;
        case 3: s = s.slice(0, i) + s.slice(i, i + 3) + s.slice(i); break;
        default: s = s.replace(/[0-9]/, () => String(ri(10)));
        }
    }
    return s;
}
const perType = Number(countArg || 5000);
const inputs = [];
for (const t of ['ip', 'dec', 'dt', 'dur'])
    for (let i = 0; i < perType; i++) inputs.push({ t, s: gen(t) });
const run = spawnSync(evalBin, { input: inputs.map((x) => JSON.stringify(x)).join('\n') + '\n',
                                 maxBuffer: 1 << 28 });
if (run.status !== 0) throw new Error(`${evalBin} failed: ${run.stderr}`);
const lines = run.stdout.toString().split('\n');
const kind = (m) => (/overflow/i.test(m) ? 'overflow' : 'invalid');
const decText = (v) => {
    const a = v < 0n ? -v : v;
    return (v < 0n ? '-' : '') + (a / 10000n) + '.' + String(a % 10000n).padStart(4, '0');
};
let bad = 0;
inputs.forEach(({ t, s }, i) => {
    const [status, a, b, c] = lines[i].split(' ');
    let same;
    if (t === 'ip') {
        const r = cond('ip(context.s).isIpv4() || true', { s });
        same = status === 'err' ? r.err !== undefined
            : cond('ip(context.s) == ip(context.f)', { s, f: a }) === true &&
              cond('ip(context.s).isLoopback()', { s }) === (b === '1') &&
              cond('ip(context.s).isMulticast()', { s }) === (c === '1');
    } else if (t === 'dec') {
        const r = cond('decimal(context.s) == decimal(context.s)', { s });
        // Rust's \d takes non-ASCII digits and then reports an overflow; we say invalid.
        same = status === 'err' ? r.err !== undefined && (kind(r.err) === a || /[^\x00-\x7f]/.test(s))
            : cond('decimal(context.s) == decimal(context.f)', { s, f: decText(BigInt(a)) }) === true;
    } else if (t === 'dt') {
        same = status === 'err'
            ? cond('datetime(context.s) == datetime(context.s)', { s }).err !== undefined
            : cond('datetime(context.s) == datetime("1970-01-01").offset(duration(context.d))',
                   { s, d: a + 'ms' }) === true;
    } else {
        const r = cond('duration(context.s) == duration(context.s)', { s });
        same = status === 'err' ? r.err !== undefined && kind(r.err) === a
            : cond('duration(context.s) == duration(context.d)', { s, d: a + 'ms' }) === true;
    }
    if (!same && ++bad <= 20) console.log('MISMATCH', t, JSON.stringify(s), 'ours:', lines[i]);
});
console.log(`checked ${inputs.length} inputs, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
