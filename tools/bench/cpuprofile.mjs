// tools/bench/cpuprofile.mjs <file.cpuprofile> [top]: where a `node --cpu-prof` profile of the jsii kernel
// spent its time. Every sample goes to exactly one bucket (the first rule below that matches its stack), so
// the buckets add up to the sampled wall time; then the top functions by self time.
import fs from 'node:fs';

const [file, top = '12'] = process.argv.slice(2);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const where = (f) => f.url.replace(/^.*node_modules\//, '').replace(/^.*\/jsii-runtime[^/]*\//, 'jsii-runtime/');
// Rules over a sample's stack (leaf first). The first that matches wins.
const rules = [
  ['idle', (s) => s[0].functionName === '(idle)'],
  ['garbage collection', (s) => s[0].functionName === '(garbage collector)'],
  // The kernel reads requests with a blocking readSync: time spent there is the Go side working (or its turn).
  ['waiting for Go: blocking read of the next request', (s) => s.some((f) => f.functionName === 'readLine')],
  ['writing responses to Go', (s) => s.some((f) => f.functionName === 'writeLine')],
  ['CloudFormation validation: engine start', (s) => s.some((f) => f.functionName === 'initializeEngine')],
  ['CloudFormation validation: templates', (s) => s.some((f) => f.functionName === 'validateTemplates')],
  ['cdk-nag rules (aspects)', (s) => s.some((f) => f.url.includes('/cdk-nag/'))],
  ['loading and compiling JS modules', (s) => s.some((f) => f.url === 'node:internal/modules/cjs/loader')],
  ['synthesis: prepare, resolve, write', (s) => s.some((f) => f.functionName === 'synthesize')],
  ['construction (create/invoke/get from Go)', (s) => s.some((f) => /^_Kernel_(create|invoke|get|set|sinvoke|sget)$/.test(f.functionName))],
  ['jsii kernel: protocol, (de)serialization', (s) => s.some((f) => f.url.includes('jsii-runtime') || f.url.includes('jsii/'))],
  ['other', () => true],
];

const buckets = new Map(rules.map(([name]) => [name, 0]));
const self = new Map();
let total = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  total += dt;
  const stack = [];
  for (let n = id; n !== undefined; n = parent.get(n)) stack.push(nodes.get(n).callFrame);
  const [name] = rules.find(([, match]) => match(stack));
  buckets.set(name, buckets.get(name) + dt);
  const leaf = stack[0];
  const key = `${leaf.functionName || '(anonymous)'}  ${where(leaf) || ''}`;
  self.set(key, (self.get(key) ?? 0) + dt);
});

const ms = (us) => `${Math.round(us / 1000)}`.padStart(6) + ' ms';
const pct = (us) => `${((100 * us) / total).toFixed(0)}%`.padStart(4);
console.log(`  sampled ${ms(total).trim()} (profiling slows the run; compare shares, not absolute times)`);
for (const [name, us] of [...buckets].filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${ms(us)} ${pct(us)}  ${name}`);
}
console.log(`  top ${top} functions by self time:`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, +top)) {
  console.log(`  ${ms(us)} ${pct(us)}  ${key}`);
}
