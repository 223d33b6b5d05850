#!/usr/bin/env node
// Times the official Cedar (cedar-wasm, installed under tests/diff/) on a bench directory:
// the policy set is parsed once (preparsePolicySet) and each request goes through
// statefulIsAuthorized, its fastest path. Two entity modes:
//   full   every call is given the whole directory, as its API requires of a caller that
//          has no better idea (cedar-wasm keeps no entity state between calls);
//   slice  every call is given only the request's principal, resource and action with their
//          ancestors, computed before the clock starts: a generous lower bound on its cost.
// Prints one line: `ref <mode> decisions: N seconds: S us/decision: U allow: A`.
//
//   node cedar_ref.mjs DIR full|slice [max-seconds]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '../tests/diff/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js';

const [dir, mode, maxSecondsArg] = process.argv.slice(2);
const maxSeconds = Number(maxSecondsArg || 10);
const entities = JSON.parse(readFileSync(join(dir, 'entities.json'), 'utf8'));
const text = readFileSync(join(dir, 'policies.cedar'), 'utf8');
const requests = readFileSync(join(dir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// The bench policy sets have no templates, so the text can be given whole.
const pre = cedar.preparsePolicySet('bench', { staticPolicies: text });
if (pre.type !== 'success') throw new Error(JSON.stringify(pre.errors));

const byKey = new Map(entities.map((e) => [`${e.uid.type}::${e.uid.id}`, e]));
function slice(req) {
    const out = new Map();
    const visit = (u) => {
        const k = `${u.type}::${u.id}`;
        const e = byKey.get(k);
        if (!e || out.has(k)) return;
        out.set(k, e);
        e.parents.forEach(visit);
    };
    [req.principal, req.resource, req.action].forEach(visit);
    return [...out.values()];
}

const calls = requests.map((q) => ({ ...q, preparsedPolicySetId: 'bench',
    entities: mode === 'slice' ? slice(q) : entities }));

// The slice must not change any answer: check a sample against the full directory.
if (mode === 'slice') {
    for (const c of calls.slice(0, 50)) {
        const a = cedar.statefulIsAuthorized(c);
        const b = cedar.statefulIsAuthorized({ ...c, entities });
        const norm = (x) => (x.type !== 'success' ? 'failure' : JSON.stringify([x.response.decision,
            [...x.response.diagnostics.reason].sort(),
            x.response.diagnostics.errors.map((e) => e.policyId).sort()]));
        if (a.type !== 'success' || norm(a) !== norm(b)) {
            throw new Error(`entity slice changes an answer: ${norm(a)} vs ${norm(b)}`);
        }
    }
}

for (const c of calls.slice(0, 20)) cedar.statefulIsAuthorized(c); // warm up
let n = 0;
let allow = 0;
const t0 = process.hrtime.bigint();
let secs = 0;
while (n < calls.length) {
    const ans = cedar.statefulIsAuthorized(calls[n]);
    if (ans.type !== 'success') throw new Error(JSON.stringify(ans.errors));
    if (ans.response.decision === 'allow') allow++;
    n++;
    if ((n & 15) === 0) {
        secs = Number(process.hrtime.bigint() - t0) / 1e9;
        if (secs > maxSeconds) break;
    }
}
secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`ref ${mode} decisions: ${n} seconds: ${secs.toFixed(6)} us/decision: ${(secs * 1e6 / n).toFixed(3)} allow: ${allow}`);
