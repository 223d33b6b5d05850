// Workload generator and cedar-wasm timer for bench/cedar.sh.
//   node cedar_bench.mjs gen DIR POLICIES [scoped]   writes DIR/{policies.cedar,entities.json,requests.jsonl}
//   node cedar_bench.mjs wasm WASM_JS DIR N          times cedar-wasm on N requests of DIR, prints JSON
// The hierarchy has depth 3 (User -> Team -> Dept -> Org); documents sit in folders. The
// first 20 policies are the "realistic" mix; with `scoped`, the rest are each pinned to one
// principal or one resource, as per-user grants are.
import fs from 'fs';
import { createRequire } from 'module';

// mulberry32: an LCG's low bits repeat with short periods, which piled the scoped
// policies onto a few ids.
let seed = 42;
const rnd = n => {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};

function gen(dir, npol, scoped) {
  const ents = [];
  for (let o = 0; o < 5; o++) ents.push({uid: {type: 'Org', id: 'o' + o}, attrs: {name: 'org' + o}, parents: []});
  for (let d = 0; d < 20; d++) ents.push({uid: {type: 'Dept', id: 'd' + d}, attrs: {}, parents: [{type: 'Org', id: 'o' + (d % 5)}]});
  for (let t = 0; t < 75; t++) ents.push({uid: {type: 'Team', id: 't' + t}, attrs: {}, parents: [{type: 'Dept', id: 'd' + (t % 20)}]});
  for (let u = 0; u < 500; u++)
    ents.push({uid: {type: 'User', id: 'u' + u}, attrs: {level: rnd(10), country: ['US', 'SG', 'DE'][rnd(3)],
      roles: ['dev', 'ops', 'hr'].slice(0, 1 + rnd(3))}, parents: [{type: 'Team', id: 't' + rnd(75)}]});
  for (let r = 0; r < 392; r++)
    ents.push({uid: {type: 'Doc', id: 'r' + r}, attrs: {owner: {__entity: {type: 'User', id: 'u' + rnd(500)}},
      classification: ['public', 'protected'][rnd(2)], jurisdiction: ['US', 'SG'][rnd(2)]},
      parents: [{type: 'Folder', id: 'f' + rnd(5)}]});
  for (let f = 0; f < 5; f++) ents.push({uid: {type: 'Folder', id: 'f' + f}, attrs: {}, parents: []});
  for (const a of ['read', 'write']) ents.push({uid: {type: 'Action', id: a}, attrs: {}, parents: [{type: 'Action', id: 'any'}]});
  ents.push({uid: {type: 'Action', id: 'any'}, attrs: {}, parents: []});
  const mix = [
    i => `permit(principal in Org::"o${i % 5}", action == Action::"read", resource) when { resource.classification == "public" };`,
    i => `permit(principal, action in [Action::"read", Action::"write"], resource) when { resource.owner == principal };`,
    i => `forbid(principal, action, resource) when { principal.country != resource.jurisdiction && resource.classification == "protected" };`,
    i => `permit(principal in Dept::"d${i % 20}", action, resource in Folder::"f${i % 5}") when { principal.level >= ${i % 10} && principal.roles.contains("ops") };`,
    i => `permit(principal, action == Action::"read", resource) when { context.ip.isInRange(ip("10.${i % 256}.0.0/16")) && principal.country == "US" };`,
  ];
  const pols = [];
  for (let i = 0; i < npol; i++) {
    if (scoped && i >= 20)
      pols.push(i % 2 ? `permit(principal == User::"u${rnd(500)}", action == Action::"read", resource) when { resource.classification == "public" };`
                      : `permit(principal, action, resource == Doc::"r${rnd(392)}") when { principal.level > 3 };`);
    else pols.push(mix[i % mix.length](i));
  }
  const reqs = [];
  for (let i = 0; i < 1000; i++)
    reqs.push({principal: {type: 'User', id: 'u' + rnd(500)}, action: {type: 'Action', id: ['read', 'write'][rnd(2)]},
      resource: {type: 'Doc', id: 'r' + rnd(392)}, context: {ip: {__extn: {fn: 'ip', arg: `10.${rnd(20)}.1.2`}}}});
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(`${dir}/policies.cedar`, pols.join('\n') + '\n');
  fs.writeFileSync(`${dir}/entities.json`, JSON.stringify(ents));
  fs.writeFileSync(`${dir}/requests.jsonl`, reqs.map(r => JSON.stringify(r)).join('\n') + '\n');
}

// Two ways to call cedar-wasm: with the whole entity store per call (what an application
// holding 1,000 entities must do: the API has no pre-parsed entities), and with only the
// entities the request can reach (a lower bound on its cost, favourable to cedar-wasm).
function wasm(wasmJs, dir, n) {
  const cw = createRequire(import.meta.url)(wasmJs);
  const pol = fs.readFileSync(`${dir}/policies.cedar`, 'utf8');
  const ents = JSON.parse(fs.readFileSync(`${dir}/entities.json`, 'utf8'));
  const reqs = fs.readFileSync(`${dir}/requests.jsonl`, 'utf8').trim().split('\n').map(l => JSON.parse(l));
  const byId = new Map(ents.map(e => [e.uid.type + '/' + e.uid.id, e]));
  const reach = uid => {
    const out = [], st = [uid], seen = new Set();
    while (st.length) {
      const u = st.pop(), k = u.type + '/' + u.id;
      if (seen.has(k)) continue;
      seen.add(k);
      const e = byId.get(k);
      if (!e) continue;
      out.push(e);
      st.push(...e.parents);
      for (const v of Object.values(e.attrs)) if (v && v.__entity) st.push(v.__entity);
    }
    return out;
  };
  cw.preparsePolicySet('bench', {staticPolicies: pol});
  const call = (r, es) => cw.statefulIsAuthorized({principal: r.principal, action: r.action, resource: r.resource,
    context: r.context, preparsedPolicySetId: 'bench', entities: es});
  const time = (k, f) => { const t0 = process.hrtime.bigint(); for (let i = 0; i < k; i++) f(reqs[i % reqs.length], i); return Number(process.hrtime.bigint() - t0) / 1e3 / k; };
  const small = reqs.map(r => [...reach(r.principal), ...reach(r.resource), ...reach(r.action)]);
  const decisions = reqs.map(r => { const x = call(r, ents); return x.type === 'success' ? x.response.decision : 'failure'; });
  const full = time(Math.max(1, Math.floor(n / 10)), r => call(r, ents));
  const minimal = time(n, (r, i) => call(r, small[i % reqs.length]));
  console.log(JSON.stringify({full_us: full, minimal_us: minimal, decisions}));
}

const [cmd, a, b, c] = process.argv.slice(2);
if (cmd === 'gen') gen(a, +b, c === 'scoped');
else if (cmd === 'wasm') wasm(a, b, +c);
else { console.error('usage: cedar_bench.mjs gen DIR N [scoped] | wasm WASM_JS DIR N'); process.exit(2); }
