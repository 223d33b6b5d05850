#!/usr/bin/env node
// The reference side of the differential tests: the same command line and output as
// `warden authorize`, computed by the official Cedar implementation (@cedar-policy/cedar-wasm).
// Everything that decides (parsing, entity loading, evaluation) is cedar-wasm's; this file only
// adapts formats, so a disagreement with warden is warden's to explain.
//
//   node ref_authorize.mjs --policies P.cedar --entities E.json --requests R.jsonl
//        [--links L.json] [--format json|table]
//   node ref_authorize.mjs --policies P.cedar --entities E.json --principal 'U::"a"'
//        --action 'Action::"read"' --resource 'R::"x"' [--context '{"k":1}']
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export const cedarVersion = cedar.getCedarVersion();

// Cedar reads text as Rust strings, so input that is not UTF-8 never reaches it; node's 'utf8'
// decoding would quietly turn bad bytes into U+FFFD instead. Decode strictly.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function readUtf8(path) {
    try {
        return UTF8.decode(readFileSync(path));
    } catch (e) {
        if (e instanceof TypeError) throw new Error(`not valid UTF-8 (${path})`);
        throw e;
    }
}

// The lines of a requests file (blank ones dropped); a line that is not UTF-8 becomes an
// Error, which decides as a rejected request.
export function readRequestLines(path) {
    const buf = readFileSync(path);
    const out = [];
    let start = 0;
    for (let i = 0; i <= buf.length; i++) {
        if (i < buf.length && buf[i] !== 0x0a) continue;
        const bytes = buf.subarray(start, i);
        start = i + 1;
        let line;
        try {
            line = UTF8.decode(bytes);
        } catch {
            out.push(new Error('request line is not valid UTF-8'));
            continue;
        }
        if (line.trim() !== '') out.push(line);
    }
    return out;
}

// Splits policy text into top-level statements, in source order, the way the reference numbers
// them (policy0, policy1, ... over static policies and templates alike). A `;` ends a statement
// unless it sits inside a string literal or a `//` comment.
function splitStatements(text) {
    const out = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
        const ch = text[i];
        if (ch === '"') {
            i++;
            while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
            i++;
        } else if (ch === '/' && text[i + 1] === '/') {
            while (i < text.length && text[i] !== '\n') i++;
        } else if (ch === ';') {
            out.push(text.slice(start, i + 1));
            start = ++i;
        } else {
            i++;
        }
    }
    return out;
}

// Builds cedar-wasm's PolicySet from policy text and optional template links. Throws an Error
// whose message is the reference's parse error.
export function loadPolicySet(text, links) {
    const whole = cedar.policySetTextToParts(text);
    if (whole.type !== 'success') throw new Error(whole.errors.map((e) => e.message).join('; '));
    const staticPolicies = {};
    const templates = {};
    let n = 0;
    for (const stmt of splitStatements(text)) {
        const parts = cedar.policySetTextToParts(stmt);
        if (parts.type !== 'success') throw new Error(`cannot split policy text near: ${stmt}`);
        if (parts.policies.length + parts.policy_templates.length === 0) continue;
        const id = `policy${n++}`;
        if (parts.policies.length === 1) staticPolicies[id] = stmt;
        else templates[id] = stmt;
    }
    const total = whole.policies.length + whole.policy_templates.length;
    if (n !== total) throw new Error(`split ${n} statements but the reference parsed ${total}`);
    const set = { staticPolicies, templates };
    if (links !== undefined) set.templateLinks = links;
    const check = cedar.checkParsePolicySet(set);
    if (check.type !== 'success') throw new Error(check.errors.map((e) => e.message).join('; '));
    return set;
}

// Checks an entities document with the reference; throws with its message.
export function checkEntities(entities) {
    const r = cedar.checkParseEntities({ entities });
    if (r.type !== 'success') throw new Error(r.errors.map((e) => e.message).join('; '));
}

// JSON.parse loses what Cedar's own JSON reader sees: `1.0` and `1e3` become integers (Cedar
// refuses every non-integer number token) and integers beyond 2^53 are rounded. So number
// tokens are checked in the text first: a fraction or exponent is refused as Cedar does, and
// an integer JavaScript cannot hold exactly is refused as untestable, never silently rounded.
export function parseCedarJson(text) {
    const re = /"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)/g;
    let m;
    while ((m = re.exec(text)) !== null) {
        const t = m[1];
        if (t === undefined) continue;
        if (/[.eE]/.test(t)) throw new Error(`found the number ${t}; Cedar takes only integers`);
        if (!Number.isSafeInteger(Number(t))) {
            throw new Error(`the integer ${t} is beyond 2^53-1, which this harness cannot check`);
        }
    }
    return JSON.parse(text);
}

const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*/;

// Turns `Type::"id"` into {type, id}. Our scanner only admits `ident (:: ident)* :: "string"`
// (so nothing else can ride along); the reference parser then unescapes the string and applies
// its rules for reserved names.
function parseUidString(s) {
    let i = 0;
    const ws = () => { while (i < s.length && /\s/.test(s[i])) i++; };
    ws();
    for (;;) {
        const m = IDENT.exec(s.slice(i));
        if (!m) throw new Error(`invalid entity reference: ${JSON.stringify(s)}`);
        i += m[0].length;
        ws();
        if (s.slice(i, i + 2) !== '::') throw new Error(`invalid entity reference: ${JSON.stringify(s)}`);
        i += 2;
        ws();
        if (s[i] === '"') break;
    }
    const q = i++;
    while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
    if (i >= s.length) throw new Error(`invalid entity reference: ${JSON.stringify(s)}`);
    i++;
    const end = i;
    ws();
    if (i !== s.length || q === end) throw new Error(`invalid entity reference: ${JSON.stringify(s)}`);
    const r = cedar.policyToJson(`permit(principal == ${s.slice(0, end)}, action, resource);`);
    if (r.type !== 'success') {
        throw new Error(`invalid entity reference ${JSON.stringify(s)}: ${r.errors[0].message}`);
    }
    return r.json.principal.entity;
}

function toUid(v, what) {
    if (typeof v === 'string') return parseUidString(v);
    if (v === undefined || v === null) throw new Error(`request has no ${what}`);
    return v;
}

// Decides one parsed request. Returns the output object: a decision or {error}.
export function authorizeOne(policySet, entities, req, stateful) {
    try {
        if (req === null || typeof req !== 'object' || Array.isArray(req)) {
            throw new Error('request must be a JSON object');
        }
        const call = {
            principal: toUid(req.principal, 'principal'),
            action: toUid(req.action, 'action'),
            resource: toUid(req.resource, 'resource'),
            context: req.context === undefined ? {} : req.context,
            entities,
        };
        let ans;
        if (stateful) {
            call.preparsedPolicySetId = stateful;
            ans = cedar.statefulIsAuthorized(call);
        } else {
            call.policies = policySet;
            ans = cedar.isAuthorized(call);
        }
        if (ans.type !== 'success') return { error: ans.errors.map((e) => e.message).join('; ') };
        const d = ans.response.diagnostics;
        const errors = d.errors
            .map((e) => ({ policy: e.policyId, message: e.error.message }))
            .sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
        return { decision: ans.response.decision, reasons: [...d.reason].sort(), errors };
    } catch (e) {
        return { error: e.message };
    }
}

// Decides request lines (from readRequestLines). With statefulId the policy set is parsed
// once (preparsePolicySet) instead of once per request.
export function authorizeLines(policySet, entities, lines, statefulId) {
    if (statefulId) {
        const r = cedar.preparsePolicySet(statefulId, policySet);
        if (r.type !== 'success') throw new Error(r.errors.map((e) => e.message).join('; '));
    }
    const out = [];
    for (const line of lines) {
        if (line instanceof Error) {
            out.push({ error: line.message });
            continue;
        }
        let req;
        try {
            req = parseCedarJson(line);
        } catch (e) {
            out.push({ error: `invalid JSON request: ${e.message}` });
            continue;
        }
        out.push(authorizeOne(policySet, entities, req, statefulId));
    }
    return out;
}

function parseArgs(argv) {
    const opts = { format: 'json' };
    const known = ['policies', 'entities', 'requests', 'links', 'format', 'principal', 'action',
        'resource', 'context'];
    for (let i = 0; i < argv.length; i++) {
        const m = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i]);
        if (!m || !known.includes(m[1])) throw new Error(`unknown argument: ${argv[i]}`);
        const v = m[2] !== undefined ? m[2] : argv[++i];
        if (v === undefined) throw new Error(`--${m[1]} needs a value`);
        opts[m[1]] = v;
    }
    if (!opts.policies || !opts.entities) throw new Error('--policies and --entities are required');
    if (!opts.requests && !opts.principal) throw new Error('give --requests or --principal/--action/--resource');
    if (!['json', 'table'].includes(opts.format)) throw new Error(`unknown format: ${opts.format}`);
    return opts;
}

function readJson(path) {
    const text = readUtf8(path);
    try {
        return parseCedarJson(text);
    } catch (e) {
        throw new Error(`${path}: ${e.message}`);
    }
}

function printTable(results) {
    const rows = results.map((r, i) => [String(i + 1), r.error !== undefined ? 'ERROR' : r.decision,
        r.error !== undefined ? r.error : r.reasons.join(','),
        r.error !== undefined ? '' : r.errors.map((e) => e.policy).join(',')]);
    const head = ['#', 'decision', 'reasons', 'errors'];
    const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const fmt = (r) => r.map((v, c) => v.padEnd(w[c])).join('  ').trimEnd();
    console.log(fmt(head));
    for (const r of rows) console.log(fmt(r));
}

function main() {
    let opts;
    let policySet;
    let entities;
    try {
        opts = parseArgs(process.argv.slice(2));
        const links = opts.links ? readJson(opts.links) : undefined;
        try {
            policySet = loadPolicySet(readUtf8(opts.policies), links);
        } catch (e) {
            throw new Error(`${opts.policies}: ${e.message}`);
        }
        entities = readJson(opts.entities);
        try {
            checkEntities(entities);
        } catch (e) {
            throw new Error(`${opts.entities}: ${e.message}`);
        }
    } catch (e) {
        process.stderr.write(`ref_authorize: ${e.message}\n`);
        process.exit(1);
    }
    let results;
    if (opts.requests) {
        results = authorizeLines(policySet, entities, readRequestLines(opts.requests));
    } else {
        let context = {};
        try {
            context = opts.context ? parseCedarJson(opts.context) : {};
            results = [authorizeOne(policySet, entities, { principal: opts.principal,
                action: opts.action, resource: opts.resource, context })];
        } catch (e) {
            results = [{ error: `invalid --context: ${e.message}` }];
        }
    }
    if (opts.format === 'table') printTable(results);
    else for (const r of results) console.log(JSON.stringify(r));
    // Like warden: status 1 when some request could not be decided.
    if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
