#!/usr/bin/env node
// Deterministic inputs for bench/cedar.sh: a directory of 1,000 entities with hierarchies of
// depth 3 (users in teams in departments in orgs; documents in folders in projects in
// spaces), a policy set, and requests with contexts.
//
//   node cedar_gen.mjs --out DIR [--policies 20] [--requests 2000] [--seed 1]
// --policies 20 writes the hand-shaped base set; a larger count N writes the base set plus
// N - 20 policies each pinned to one principal or resource (by ==, or `in` a team or
// folder), the shape that scope indexing is for: the generic work stays constant and only
// the scoped policies grow.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function rng(seed) {
    let a = seed >>> 0;
    const f = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return { f, int: (lo, hi) => lo + Math.floor(f() * (hi - lo + 1)), pick: (a_) => a_[Math.floor(f() * a_.length)] };
}

const COUNTRIES = ['US', 'US', 'US', 'SG', 'IE'];
const ROLES = ['engineer', 'support-agent', 'moderator', 'analyst', 'manager'];
const CLASSES = ['protected', 'excepted', 'internal'];
const ACTIONS = ['read', 'write', 'delete', 'share', 'export'];
const PURPOSES = ['user-support', 'safety-review', 'analytics', 'debugging'];

// 500 users / 40 teams / 8 departments / 2 orgs + 400 docs / 40 folders / 8 projects /
// 2 spaces = 1,000 entities (plus 6 actions).
export function makeWorld(r) {
    const ents = [];
    const add = (type, id, attrs, parents) => {
        ents.push({ uid: { type, id }, attrs, parents: parents.map(([t, i]) => ({ type: t, id: i })) });
    };
    for (let i = 0; i < 2; i++) add('Org', `org${i}`, { name: `Org ${i}` }, []);
    for (let i = 0; i < 8; i++) add('Dept', `dept${i}`, { name: `Dept ${i}` }, [['Org', `org${i % 2}`]]);
    for (let i = 0; i < 40; i++) add('Team', `team${i}`, { name: `Team ${i}` }, [['Dept', `dept${i % 8}`]]);
    for (let i = 0; i < 500; i++) {
        add('User', `user${i}`, {
            country: r.pick(COUNTRIES), role: r.pick(ROLES), level: r.int(1, 9),
            backgroundCheck: r.f() < 0.8, roles: [r.pick(ROLES), r.pick(ROLES)],
            email: `user${i}@example.com`,
        }, [['Team', `team${r.int(0, 39)}`]]);
    }
    for (let i = 0; i < 2; i++) add('Space', `space${i}`, { jurisdiction: i ? 'SG' : 'US' }, []);
    for (let i = 0; i < 8; i++) add('Project', `project${i}`, { name: `Project ${i}` }, [['Space', `space${i % 2}`]]);
    for (let i = 0; i < 40; i++) add('Folder', `folder${i}`, { name: `Folder ${i}` }, [['Project', `project${i % 8}`]]);
    for (let i = 0; i < 400; i++) {
        add('Doc', `doc${i}`, {
            dataClass: r.pick(CLASSES), jurisdiction: r.f() < 0.8 ? 'US' : 'SG',
            owner: { __entity: { type: 'User', id: `user${r.int(0, 499)}` } },
            minLevel: r.int(1, 9), labels: [r.pick(['pii', 'public', 'finance', 'legal'])],
        }, [['Folder', `folder${r.int(0, 39)}`]]);
    }
    add('Action', 'all', {}, []);
    for (const a of ACTIONS) add('Action', a, {}, [['Action', 'all']]);
    return ents;
}

// The base set: 20 policies of the shapes a real deployment has.
const BASE = `permit(principal in Org::"org0", action == Action::"read", resource in Space::"space0")
  when { resource.dataClass == "excepted" };
permit(principal, action == Action::"read", resource is Doc)
  when { resource.dataClass == "excepted" && principal is User };
permit(principal is User, action in [Action::"read", Action::"write"], resource is Doc)
  when { resource.jurisdiction == "US" && resource.dataClass == "protected" && principal.country == "US" &&
         principal.backgroundCheck && ["support-agent", "moderator"].contains(principal.role) &&
         context.network.custodian && ["user-support", "safety-review"].contains(context.purpose) };
permit(principal, action, resource is Doc) when { resource.owner == principal };
permit(principal in Dept::"dept1", action == Action::"read", resource in Project::"project1");
permit(principal in Dept::"dept2", action in [Action::"read", Action::"share"], resource in Project::"project2")
  when { principal.level >= resource.minLevel };
permit(principal in Team::"team7", action == Action::"write", resource in Folder::"folder7");
permit(principal in Team::"team13", action == Action::"delete", resource in Folder::"folder13")
  when { principal.role == "manager" };
permit(principal, action == Action::"read", resource is Doc)
  when { principal has roles && principal.roles.containsAny(["analyst"]) && resource.labels.contains("finance") &&
         context.purpose == "analytics" };
permit(principal is User in Dept::"dept5", action == Action::"read", resource is Doc in Space::"space1")
  when { resource.jurisdiction == "SG" && principal.country == "SG" };
permit(principal, action == Action::"share", resource is Doc)
  when { resource.owner == principal && !resource.labels.contains("legal") };
permit(principal in Team::"team21", action in Action::"all", resource in Project::"project5")
  when { context.now < datetime("2027-01-01") };
permit(principal, action == Action::"read", resource)
  when { principal has email && principal.email like "*@example.com" && resource has labels &&
         resource.labels.contains("public") };
permit(principal == User::"user1", action, resource);
permit(principal in Team::"team30", action == Action::"read", resource in Folder::"folder30")
  when { context.sourceIp.isInRange(ip("10.0.0.0/8")) };
forbid(principal, action, resource is Doc)
  when { resource.jurisdiction == "US" && resource.dataClass == "protected" }
  unless { context.network.country == "US" && context.sourceIp.isInRange(ip("10.20.0.0/16")) };
forbid(principal, action == Action::"export", resource is Doc)
  when { resource.dataClass == "protected" };
forbid(principal, action, resource) when { principal has suspended && principal.suspended };
forbid(principal, action == Action::"delete", resource is Doc) when { resource.labels.contains("legal") };
forbid(principal is User, action, resource) when { principal.level < 2 && context.purpose == "debugging" };
`;

// Returns the policy text and the (user, doc) pairs the policies name, so that requests can
// aim at them: with random pairs alone a pinned policy would almost never apply.
function scopedPolicies(r, n) {
    const out = [];
    const targets = [];
    for (let i = 0; i < n; i++) {
        const u = r.int(0, 499);
        const d = r.int(0, 399);
        targets.push([u, d]);
        const user = `User::"user${u}"`;
        const doc = `Doc::"doc${d}"`;
        const act = `Action::"${r.pick(ACTIONS)}"`;
        out.push(r.pick([
            () => `permit(principal == ${user}, action == ${act}, resource == ${doc}) when { context.purpose != "debugging" };`,
            () => `permit(principal == ${user}, action, resource in Folder::"folder${r.int(0, 39)}");`,
            () => `permit(principal in Team::"team${r.int(0, 39)}", action == ${act}, resource == ${doc}) when { principal.level >= ${r.int(1, 9)} };`,
            () => `forbid(principal == ${user}, action == ${act}, resource) when { context.purpose == "analytics" };`,
            () => `permit(principal is User, action == ${act}, resource == ${doc}) when { principal.level > resource.minLevel };`,
        ])());
    }
    return { text: out.join('\n') + '\n', targets };
}

function requests(r, n, targets) {
    const lines = [];
    for (let i = 0; i < n; i++) {
        const us = r.f() < 0.8;
        // Half of the requests name a principal and a document that some pinned policy names.
        const [u, d] = targets.length && r.f() < 0.5 ? r.pick(targets) : [r.int(0, 499), r.int(0, 399)];
        lines.push(JSON.stringify({
            principal: { type: 'User', id: `user${u}` },
            action: { type: 'Action', id: r.pick(ACTIONS) },
            resource: { type: 'Doc', id: `doc${d}` },
            context: {
                sourceIp: { __extn: { fn: 'ip', arg: us ? `10.20.${r.int(0, 255)}.${r.int(1, 254)}` : `10.50.0.${r.int(1, 254)}` } },
                network: { country: us ? 'US' : 'SG', site: us ? 'austin-dc' : 'sg-office', custodian: us },
                purpose: r.pick(PURPOSES),
                now: { __extn: { fn: 'datetime', arg: '2026-11-25T12:00:00Z' } },
            },
        }));
    }
    return lines.join('\n') + '\n';
}

function main() {
    const a = { out: null, policies: '20', requests: '2000', seed: '1' };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
    if (!a.out) throw new Error('--out DIR is required');
    const seed = Number(a.seed);
    mkdirSync(a.out, { recursive: true });
    const ents = makeWorld(rng(seed));
    writeFileSync(join(a.out, 'entities.json'), JSON.stringify(ents) + '\n');
    const np = Number(a.policies);
    if (np < 20) throw new Error('--policies must be at least 20 (the base set)');
    const scoped = scopedPolicies(rng(seed + 1), np - 20);
    writeFileSync(join(a.out, 'policies.cedar'), BASE + scoped.text);
    const rq = requests(rng(seed + 2), Number(a.requests), scoped.targets);
    writeFileSync(join(a.out, 'requests.jsonl'), rq);
    writeFileSync(join(a.out, 'one.jsonl'), rq.split('\n')[0] + '\n');
}

main();
