// Checks entities_cases.txt against the reference (@cedar-policy/cedar-wasm): each case
// must be accepted or rejected as the file says. Cases whose JSON text cannot reach the
// reference unchanged (duplicate keys, non-integer numbers that JavaScript makes integers,
// integers beyond 2^53, syntax errors) are skipped.
// usage: node check_entities_cases.cjs /path/to/cedar-wasm/nodejs/cedar_wasm.js
const fs = require('fs');
const cw = require(process.argv[2]);
let bad = 0, n = 0, skipped = 0;
for (const line of fs.readFileSync(__dirname + '/entities_cases.txt', 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const parts = line.split('\t'), want = parts[0], json = parts[2];
  let ents;
  try { ents = JSON.parse(json); } catch (e) { skipped++; continue; }
  if (/"x":1,"x"|1\.0|1e3|922337203685477580[78]/.test(json)) { skipped++; continue; }
  if (!Array.isArray(ents)) { skipped++; continue; }
  const r = cw.isAuthorized({principal: {type: 'U', id: 'u'}, action: {type: 'A', id: 'a'},
    resource: {type: 'R', id: 'r'}, context: {}, policies: {staticPolicies: ''}, entities: ents});
  const got = r.type === 'success' ? 'ok' : 'error';
  n++;
  if (got !== want) { bad++; console.log('MISMATCH', want, got, json, r.errors ? r.errors[0].message : ''); }
}
console.log(`${n} checked, ${skipped} skipped, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
