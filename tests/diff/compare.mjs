#!/usr/bin/env node
// Runs `warden authorize` and the reference (cedar-wasm, in this process) on case directories
// and compares them request by request: the decision, the set of determining policies and the
// set of policies that errored must be equal (error messages may differ); a request the
// reference rejects must be rejected by warden too. Bad cases (--bad) must be refused by both
// before any decision. Prints every disagreement with its case path and ends with
// `agreement: N/M requests`; exits 1 on any disagreement.
//
//   node compare.mjs --warden BIN [--bad] [--quiet] [--failed FILE] DIR...
// --failed FILE receives the directories that disagreed, one per line.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadPolicySet, checkEntities, authorizeLines, parseCedarJson, readUtf8, readRequestLines }
    from './ref_authorize.mjs';

const MAX_REPORTED = 40;

function wardenRun(bin, dir) {
    const args = ['authorize', '--policies', join(dir, 'policies.cedar'), '--entities',
        join(dir, 'entities.json'), '--requests', join(dir, 'requests.jsonl')];
    if (existsSync(join(dir, 'links.json'))) args.push('--links', join(dir, 'links.json'));
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 1 << 30 });
    return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '',
        error: r.error };
}

// Returns the reference's outputs for a case, or {fileError} when it refuses the input files.
function refRun(dir) {
    let policySet;
    let entities;
    try {
        const linksPath = join(dir, 'links.json');
        const links = existsSync(linksPath) ? parseCedarJson(readUtf8(linksPath)) : undefined;
        policySet = loadPolicySet(readUtf8(join(dir, 'policies.cedar')), links);
        entities = parseCedarJson(readUtf8(join(dir, 'entities.json')));
        checkEntities(entities);
    } catch (e) {
        return { fileError: e.message };
    }
    return { results: authorizeLines(policySet, entities, readRequestLines(join(dir, 'requests.jsonl')), 'case') };
}

const setKey = (a) => JSON.stringify([...new Set(a)].sort());

// Explains why warden's output line differs from the reference's, or returns null.
function differs(ref, line) {
    let w;
    try {
        w = JSON.parse(line);
    } catch {
        return 'warden printed a line that is not JSON';
    }
    if (ref.error !== undefined) {
        return typeof w.error === 'string' && w.decision === undefined ? null
            : 'the reference rejects this request, warden does not';
    }
    if (w.error !== undefined) return `warden rejects a request the reference decides (${w.error})`;
    if (w.decision !== ref.decision) return 'decision differs';
    if (!Array.isArray(w.reasons) || setKey(w.reasons) !== setKey(ref.reasons)) return 'reasons differ';
    if (!Array.isArray(w.errors)) return 'warden gave no errors array';
    if (setKey(w.errors.map((e) => e.policy)) !== setKey(ref.errors.map((e) => e.policy))) {
        return 'erroring policies differ';
    }
    return null;
}

function main() {
    const argv = process.argv.slice(2);
    let bin;
    let bad = false;
    let quiet = false;
    let failedFile;
    const failed = new Set();
    const dirs = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--warden') bin = argv[++i];
        else if (argv[i] === '--bad') bad = true;
        else if (argv[i] === '--quiet') quiet = true;
        else if (argv[i] === '--failed') failedFile = argv[++i];
        else dirs.push(argv[i]);
    }
    if (!bin || dirs.length === 0) {
        process.stderr.write('usage: compare.mjs --warden BIN [--bad] [--quiet] [--failed FILE] DIR...\n');
        process.exit(2);
    }
    let total = 0;
    let agree = 0;
    let reported = 0;
    const stats = { allow: 0, deny: 0, withErrors: 0, rejected: 0 };
    const report = (dir, what, detail) => {
        failed.add(dir.replace(/ request \d+$/, ''));
        if (reported++ < MAX_REPORTED) {
            console.log(`DISAGREE ${dir}: ${what}`);
            if (detail) console.log(detail);
        }
    };
    for (const dir of dirs) {
        const ref = refRun(dir);
        const w = wardenRun(bin, dir);
        if (w.error || w.signal || (w.status !== 0 && w.status !== 1)) {
            total++;
            report(dir, `warden did not run cleanly (status ${w.status}, signal ${w.signal}` +
                `${w.error ? `, ${w.error.message}` : ''})`, w.stderr.split('\n').slice(0, 20).join('\n'));
            continue;
        }
        if (bad || ref.fileError !== undefined) {
            total++;
            if (ref.fileError === undefined) {
                report(dir, 'the reference accepts these files but the case is listed as bad');
            } else if (w.status === 0 || w.stdout.trim() !== '') {
                report(dir, `the reference refuses the input files (${ref.fileError}), warden ` +
                    `exited ${w.status} and printed ${w.stdout.split('\n').length - 1} line(s)`);
            } else if (w.stderr.trim() === '') {
                report(dir, 'warden refused the files without saying why on stderr');
            } else {
                agree++;
            }
            continue;
        }
        // warden's documented status: 1 when some request line was malformed, else 0.
        const wantStatus = ref.results.some((r) => r.error !== undefined) ? 1 : 0;
        if (w.status !== wantStatus) {
            report(dir, `warden exited ${w.status}, expected ${wantStatus} (the reference rejected ` +
                `${ref.results.filter((r) => r.error !== undefined).length} request(s))`, w.stderr.trim());
        }
        const lines = w.stdout.split('\n').filter((l) => l !== '');
        const reqLines = readRequestLines(join(dir, 'requests.jsonl')).map(String);
        if (lines.length !== ref.results.length) {
            report(dir, `warden printed ${lines.length} lines for ${ref.results.length} requests`);
        }
        ref.results.forEach((r, i) => {
            total++;
            if (r.error !== undefined) stats.rejected++;
            else {
                stats[r.decision]++;
                if (r.errors.length) stats.withErrors++;
            }
            const why = i < lines.length ? differs(r, lines[i]) : 'warden printed no line';
            if (why === null) {
                agree++;
                return;
            }
            report(`${dir} request ${i + 1}`, why, `  request:   ${reqLines[i]}\n` +
                `  reference: ${JSON.stringify(r)}\n  warden:    ${lines[i]}`);
        });
    }
    if (reported > MAX_REPORTED) console.log(`... and ${reported - MAX_REPORTED} more disagreements`);
    if (!quiet && !bad) {
        console.log(`reference outcomes: ${stats.allow} allow, ${stats.deny} deny, ` +
            `${stats.withErrors} with policy errors, ${stats.rejected} rejected requests`);
    }
    if (failedFile) writeFileSync(failedFile, [...failed].map((d) => `${d}\n`).join(''));
    console.log(`agreement: ${agree}/${total} ${bad ? 'refused inputs' : 'requests'}`);
    process.exit(agree === total && reported === 0 ? 0 : 1);
}

main();
