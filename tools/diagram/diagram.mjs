#!/usr/bin/env node
// tools/diagram/diagram.mjs: architecture diagram (Graphviz dot) from a synthesized cloud assembly.
//
//   node tools/diagram/diagram.mjs [--out cdk.out] [--dot docs/architecture.dot]
//
// Reads <out>/tree.json for the construct tree (stages, stacks, top-level constructs) and every stack template
// listed in the (nested) manifests for resources, properties and references. Draws one cluster per stage, one
// cluster per stack, and one node per main construct (VPC, RDS, Valkey, S3, ECS, ALB, CloudFront, WAF, SNS, ...);
// alarms, dashboards, rules and secrets are grouped into one node per stack. Plumbing (IAM policies, security
// groups, log groups, custom-resource providers) is hidden, but references that pass through it are kept:
// A -> B means a resource of A references one of B (Ref, Fn::GetAtt, Fn::Sub, Fn::ImportValue, Fn::GetStackOutput, or a literal
// physical name such as an alarm dimension); an image pulled from another stack's ECR repository is a line on A.
// Cross-stack edges are solid, edges inside a stack dashed; every pair of stacks that references another (an import
// or Fn::GetStackOutput) gets at least one edge. No packages, network or browser; the output is deterministic.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node tools/diagram/diagram.mjs [--out cdk.out] [--dot docs/architecture.dot]');
  process.exit(0);
}
const OUT = opt('out', 'cdk.out');
const DOT = opt('dot', 'docs/architecture.dot');

const readJson = (f) => {
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch (e) {
    console.error(`diagram: cannot read ${f}: ${e.message} (run \`make synth\` first)`);
    process.exit(1);
  }
};

// ---- stacks: every aws:cloudformation:stack artifact in the manifest and its nested assemblies ----------------
const stacksByPath = new Map(); // construct path (displayName) -> {name, template}
function loadManifest(dir) {
  const m = readJson(path.join(dir, 'manifest.json'));
  for (const [id, a] of Object.entries(m.artifacts || {})) {
    if (a.type === 'cdk:cloud-assembly') loadManifest(path.join(dir, a.properties.directoryName));
    if (a.type !== 'aws:cloudformation:stack') continue;
    const template = readJson(path.join(dir, a.properties.templateFile));
    const region = (a.environment || '').split('/').pop();
    stacksByPath.set(a.displayName || id, { name: a.properties.stackName || id, template, region });
  }
}
loadManifest(OUT);
const tree = readJson(path.join(OUT, 'tree.json')).tree;
const cdkVersion = (tree.constructInfo || {}).version;

// ---- what to show ------------------------------------------------------------------------------------------------
// kind: [priority, label, category]; a top-level construct is drawn as its highest-priority kind.
const KINDS = {
  'AWS::CloudFront::Distribution': [100, 'CloudFront distribution', 'edge'],
  'AWS::WAFv2::WebACL': [95, 'WAF web ACL', 'security'],
  'AWS::ElasticLoadBalancingV2::LoadBalancer': [90, 'Application Load Balancer', 'network'],
  'AWS::ECS::Service': [90, 'ECS Fargate service', 'compute'],
  'AWS::ECS::Cluster': [80, 'ECS cluster', 'compute'],
  'AWS::RDS::DBInstance': [90, 'RDS', 'database'],
  'AWS::RDS::DBCluster': [90, 'Aurora', 'database'],
  'AWS::ElastiCache::ReplicationGroup': [90, 'ElastiCache', 'database'],
  'AWS::EC2::VPC': [90, 'VPC', 'network'],
  'AWS::S3::Bucket': [70, 'S3 bucket', 'storage'],
  'AWS::ECR::Repository': [70, 'ECR repository', 'compute'],
  'AWS::IAM::OIDCProvider': [70, 'IAM OIDC provider', 'security'],
  'AWS::SNS::Topic': [70, 'SNS topic', 'mgmt'],
  'AWS::Budgets::Budget': [60, 'AWS Budget', 'mgmt'],
  'AWS::CertificateManager::Certificate': [60, 'ACM certificate', 'security'],
  'AWS::Route53::RecordSet': [60, 'Route 53 record', 'network'],
  'AWS::Amplify::App': [60, 'Amplify app', 'edge'],
  'AWS::Chatbot::SlackChannelConfiguration': [60, 'Chatbot Slack channel', 'mgmt'],
  'AWS::SQS::Queue': [60, 'SQS queue', 'mgmt'],
  'AWS::Lambda::Function': [50, 'Lambda function', 'compute'],
  'AWS::Backup::BackupVault': [70, 'Backup vault', 'storage'],
  'AWS::Backup::BackupPlan': [65, 'Backup plan', 'storage'],
  'AWS::KMS::Key': [60, 'KMS key', 'security'],
  'AWS::StepFunctions::StateMachine': [60, 'Step Functions state machine', 'mgmt'],
  'AWS::ECS::TaskDefinition': [40, 'ECS task definition', 'compute'],
};
// Grouped kinds: one node per stack, listing the construct names.
const GROUPS = {
  'AWS::CloudWatch::Alarm': ['alarms', 'CloudWatch alarms', 'mgmt', 'Alarm'],
  'AWS::CloudWatch::Dashboard': ['dashboards', 'CloudWatch dashboards', 'mgmt', 'Dashboard-'],
  'AWS::Events::Rule': ['rules', 'EventBridge rules', 'mgmt', 'Events'],
  'AWS::SecretsManager::Secret': ['secrets', 'Secrets Manager secrets', 'security', ''],
  'AWS::Scheduler::Schedule': ['schedules', 'EventBridge schedules', 'mgmt', ''],
};
// Top-level IAM roles that nothing else in the app uses are shown (the CI stack's deploy roles); roles that another
// construct uses (a schedule's role) and roles inside other constructs are plumbing.
const TOP_LEVEL_ROLE = ['AWS::IAM::Role', [60, 'IAM role', 'security']];
const STYLE = {
  edge: ['#F3E8FF', '#8C4FFF'],
  network: ['#EDE7F6', '#5A30B5'],
  compute: ['#FFF1E0', '#D45B07'],
  database: ['#E3EEFF', '#2E5BBA'],
  storage: ['#E6F4EA', '#3B7D23'],
  security: ['#FDE7E7', '#C7131F'],
  mgmt: ['#FCE4F1', '#B0084D'],
};

// ---- helpers -----------------------------------------------------------------------------------------------------
const esc = (s) => String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const html = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const gib = (mb) => (mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`);
const vcpu = (u) => `${Number(u) / 1024} vCPU`;
const reEsc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const lit = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined);

// Every reference inside a property value: {local: logicalId} or {stack, output} or {image: repoName}.
function refsOf(value, out = []) {
  if (Array.isArray(value)) value.forEach((v) => refsOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.push({ local: v });
      else if (k === 'Fn::GetAtt') out.push({ local: Array.isArray(v) ? v[0] : String(v).split('.')[0] });
      else if (k === 'Fn::GetStackOutput' && v && v.StackName) out.push({ stack: v.StackName, output: v.OutputName });
      else if (k === 'Fn::ImportValue' && typeof v === 'string') out.push({ stack: v.split(':')[0], exportName: v });
      else if (k === 'Fn::Sub') {
        const tpl = Array.isArray(v) ? v[0] : v;
        for (const m of String(tpl).matchAll(/\$\{([A-Za-z0-9]+)(\.[^}]*)?\}/g)) out.push({ local: m[1] });
        if (Array.isArray(v)) refsOf(v[1], out);
      }
      refsOf(v, out);
    }
  } else if (typeof value === 'string') {
    const m = value.match(/^\/([a-z0-9][a-z0-9._\/-]*):[^/]*$/); // ".dkr.ecr.<region>." + URLSuffix + "/repo:tag"
    if (m) out.push({ image: m[1] });
  }
  return out;
}

// ---- model: stages > stacks > top-level constructs -----------------------------------------------------------------
const nodes = new Map(); // node key -> {key, stack, label, details, cat, hidden}
const members = new Map(); // "<stackName>/<topLevelId>" -> node key (visible or hidden)
const ecrRepos = new Map(); // repositoryName -> node key

function topLevelOf(stackPath, cdkPath) {
  if (!cdkPath || !cdkPath.startsWith(stackPath + '/')) return undefined;
  return cdkPath.slice(stackPath.length + 1).split('/')[0];
}

function describe(kind, res, tpl, all) {
  const p = res.Properties || {};
  const d = [];
  switch (kind) {
    case 'AWS::EC2::VPC': {
      const subnets = all.filter((r) => r.Type === 'AWS::EC2::Subnet');
      const azs = new Set(subnets.map((s) => JSON.stringify(s.Properties.AvailabilityZone)));
      const types = {};
      for (const s of subnets) {
        const t = (s.Properties.Tags || []).find((x) => x.Key === 'aws-cdk:subnet-type');
        if (t) types[t.Value] = (types[t.Value] || 0) + 1;
      }
      if (lit(p.CidrBlock)) d.push(`${p.CidrBlock} · ${azs.size} AZs`);
      if (Object.keys(types).length) d.push(Object.entries(types).map(([t, n]) => `${n} ${t.toLowerCase()}`).join(', ') + ' subnets');
      const nat = all.filter((r) => r.Type === 'AWS::EC2::NatGateway').length;
      const eps = all.filter((r) => r.Type === 'AWS::EC2::VPCEndpoint').length;
      d.push(`${nat ? `${nat} NAT gateway${nat === 1 ? '' : 's'}` : 'no NAT gateway'}${eps ? ` · ${eps} endpoint${eps === 1 ? '' : 's'}` : ''}`);
      if (all.some((r) => r.Type === 'AWS::EC2::FlowLog')) d.push('flow logs');
      break;
    }
    case 'AWS::RDS::DBInstance':
      if (lit(p.Engine)) d.push(`${p.Engine === 'postgres' ? 'PostgreSQL' : p.Engine} ${lit(p.EngineVersion) || ''}`.trim());
      if (lit(p.DBInstanceClass)) d.push(`${p.DBInstanceClass}${lit(p.AllocatedStorage) ? ` · ${p.AllocatedStorage} GB` : ''}`);
      d.push(p.MultiAZ === true ? 'Multi-AZ' : 'single-AZ');
      break;
    case 'AWS::ElastiCache::ReplicationGroup': {
      const engine = lit(p.Engine) ? p.Engine[0].toUpperCase() + p.Engine.slice(1) : 'Redis';
      d.push(`${engine} ${lit(p.EngineVersion) || ''}`.trim());
      const n = lit(p.NumCacheClusters) || (lit(p.NumNodeGroups) || 1) * ((lit(p.ReplicasPerNodeGroup) || 0) + 1);
      if (lit(p.CacheNodeType)) d.push(`${p.CacheNodeType} × ${n}`);
      break;
    }
    case 'AWS::ECS::Service': {
      const cps = (p.CapacityProviderStrategy || [])
        .filter((c) => lit(c.CapacityProvider) && ((c.Base || 0) > 0 || (c.Weight ?? 1) > 0))
        .map((c) => `${c.CapacityProvider}${c.Base ? ` (base ${c.Base})` : ''}`);
      d.push(`${cps.length ? cps.join(' + ') : lit(p.LaunchType) || 'ECS'} · desired ${lit(p.DesiredCount) ?? '?'}`);
      const tdRef = refsOf(p.TaskDefinition || {}).find((r) => r.local);
      const td = tdRef && tpl.Resources[tdRef.local];
      if (td && td.Properties) {
        const q = td.Properties;
        const arch = q.RuntimePlatform && lit(q.RuntimePlatform.CpuArchitecture);
        if (lit(q.Cpu) && lit(q.Memory)) d.push(`task ${vcpu(q.Cpu)} / ${gib(Number(q.Memory))}${arch ? ` · ${arch}` : ''}`);
        const names = (q.ContainerDefinitions || []).map((c) => c.Name).filter(lit);
        if (names.length > 1) d.push(`containers: ${names.join(', ')}`);
      }
      const scaling = all.find((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget');
      if (scaling) d.push(`autoscaling ${scaling.Properties.MinCapacity}–${scaling.Properties.MaxCapacity} tasks`);
      const sched = ((scaling && scaling.Properties.ScheduledActions) || []).map((a) => a.ScheduledActionName).filter(lit);
      if (sched.length) d.push(`scheduled: ${sched.join(', ')}`);
      break;
    }
    case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
      d.push(`${lit(p.Scheme) || 'internet-facing'}${lit(p.IpAddressType) ? ` · ${p.IpAddressType}` : ''}`);
      break;
    case 'AWS::CloudFront::Distribution': {
      const c = p.DistributionConfig || {};
      if (lit(c.PriceClass)) d.push(c.PriceClass.replace('PriceClass_', 'price class '));
      if ((c.Origins || []).some((o) => o.VpcOriginConfig)) d.push('VPC origin → ALB');
      if (c.Aliases) d.push(`aliases: ${[].concat(c.Aliases).filter(lit).join(', ')}`);
      break;
    }
    case 'AWS::WAFv2::WebACL':
      d.push(`${lit(p.Scope) || ''} · ${(p.Rules || []).length} rules`.replace(/^ · /, ''));
      break;
    case 'AWS::S3::Bucket': {
      const f = [];
      if (p.VersioningConfiguration && p.VersioningConfiguration.Status === 'Enabled') f.push('versioned');
      if (p.LifecycleConfiguration) f.push('lifecycle');
      if (f.length) d.push(f.join(' · '));
      break;
    }
    case 'AWS::SNS::Topic': {
      const subs = all.filter((r) => r.Type === 'AWS::SNS::Subscription').map((r) => r.Properties.Protocol);
      if (p.KmsMasterKeyId) d.push('KMS-encrypted');
      if (subs.length) d.push(`${subs.length} ${[...new Set(subs)].join('/')} subscription${subs.length === 1 ? '' : 's'}`);
      break;
    }
    case 'AWS::Budgets::Budget': {
      const b = p.Budget || {};
      if (b.BudgetLimit) d.push(`${lit(b.TimeUnit) || ''} ${b.BudgetLimit.Amount} ${b.BudgetLimit.Unit}`.trim().toLowerCase().replace('usd', 'USD'));
      break;
    }
    case 'AWS::ECR::Repository':
      if (lit(p.RepositoryName)) d.push(p.RepositoryName);
      break;
  }
  return d.filter(Boolean);
}

function modelStack(stackNode, stackPath, clusterLabel) {
  const stack = stacksByPath.get(stackPath);
  if (!stack) return undefined;
  const tpl = stack.template;
  const resources = tpl.Resources || {};
  // group resources by top-level construct
  const byTop = new Map();
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::CDK::Metadata') continue;
    const top = topLevelOf(stackPath, r.Metadata && r.Metadata['aws:cdk:path']) || logicalId;
    if (!byTop.has(top)) byTop.set(top, []);
    byTop.get(top).push([logicalId, r]);
  }
  const out = { id: stackPath, label: clusterLabel, name: stack.name, nodeKeys: [], byTop, tpl };
  const groups = new Map();
  // construct-tree order, then anything the tree does not list
  const order = [...Object.keys(stackNode.children || {}), ...byTop.keys()].filter((v, i, a) => a.indexOf(v) === i);
  for (const top of order) {
    const rs = byTop.get(top);
    if (!rs) continue;
    const key = `${stack.name}/${top}`;
    const hidden = top.startsWith('Custom::');
    let best;
    for (const [, r] of rs) {
      const roleOnly = rs.every(([, x]) => /^AWS::IAM::(Role|Policy)$/.test(x.Type));
      const k = KINDS[r.Type] || (r.Type === TOP_LEVEL_ROLE[0] && roleOnly ? TOP_LEVEL_ROLE[1] : undefined);
      if (k && (!best || k[0] > best.k[0])) best = { k, r };
    }
    const group = !best && rs.map(([, r]) => GROUPS[r.Type]).find(Boolean);
    if (hidden || (!best && !group)) {
      nodes.set(key, { key, stack: stack.name, hidden: true });
      members.set(key, key);
      continue;
    }
    if (group) {
      const gkey = `${stack.name}/#${group[0]}`;
      if (!groups.has(gkey)) {
        groups.set(gkey, { key: gkey, stack: stack.name, label: group[1], cat: group[2], names: [], strip: group[3] });
        nodes.set(gkey, groups.get(gkey));
        out.nodeKeys.push(gkey);
      }
      groups.get(gkey).names.push(top);
      members.set(key, gkey);
      continue;
    }
    const all = rs.map(([, r]) => r);
    const [, kindLabel, cat] = best.k;
    const details = describe(best.r.Type, best.r, tpl, all);
    let label = kindLabel;
    if (best.r.Type === 'AWS::ElastiCache::ReplicationGroup' && details[0]) label = `ElastiCache ${details.shift()}`;
    if (best.r.Type === 'AWS::RDS::DBInstance' && details[0]) label = `RDS ${details.shift()}`;
    nodes.set(key, { key, stack: stack.name, title: top, label, details, cat, role: best.k === TOP_LEVEL_ROLE[1] });
    members.set(key, key);
    out.nodeKeys.push(key);
    if (best.r.Type === 'AWS::ECR::Repository' && lit(best.r.Properties.RepositoryName)) ecrRepos.set(best.r.Properties.RepositoryName, key);
  }
  for (const g of groups.values()) {
    g.title = `${g.label} (${g.names.length})`;
    g.details = [];
    const short = g.names.map((n) => n.replace(g.strip, '') || n);
    for (let i = 0; i < short.length; i += 3) g.details.push(short.slice(i, i + 3).join(', '));
  }
  return out;
}

const stageClusters = [];
const topStacks = [];
const isStack = (n) => /\.(Stack|NestedStack)$/.test((n.constructInfo || {}).fqn || '') || stacksByPath.has(n.path);
for (const child of Object.values(tree.children || {})) {
  if (isStack(child)) {
    const s = modelStack(child, child.path, child.id);
    if (s) topStacks.push(s);
  } else if (child.children) {
    const stacks = Object.values(child.children).filter(isStack).map((n) => modelStack(n, n.path, n.id)).filter(Boolean);
    if (stacks.length) stageClusters.push({ id: child.path, label: child.id, stacks });
  }
}
const allStacks = [...topStacks, ...stageClusters.flatMap((c) => c.stacks)];
if (!allStacks.length) {
  console.error(`diagram: no stacks found in ${OUT}`);
  process.exit(1);
}

// ---- references between top-level constructs -------------------------------------------------------------------
const stackModelByName = new Map(allStacks.map((s) => [s.name, s]));
const logicalToMember = new Map(); // "<stackName>\0<logicalId>" -> member key
for (const s of allStacks) for (const [top, rs] of s.byTop) for (const [lid] of rs) logicalToMember.set(`${s.name}\0${lid}`, `${s.name}/${top}`);
function outputTarget(stackName, outputName, exportName) {
  const s = stackModelByName.get(stackName);
  const outputs = (s && s.tpl.Outputs) || {};
  const o = exportName ? Object.values(outputs).find((x) => x.Export && x.Export.Name === exportName) : outputs[outputName];
  const r = o && refsOf(o.Value).find((x) => x.local);
  return r ? logicalToMember.get(`${stackName}\0${r.local}`) : undefined;
}
const raw = new Map(); // member key -> Set of [targetKey, kind]
const addRaw = (from, to, kind) => {
  if (!from || !to || from === to) return;
  if (!raw.has(from)) raw.set(from, new Map());
  if (!raw.get(from).has(to)) raw.get(from).set(to, kind);
};
// Physical names set as literals (cluster, service, DB instance, ...), for references by name: CloudWatch alarm
// dimensions, dashboard bodies and EventBridge patterns name resources instead of referencing them.
const NAME_PROPS = ['DBInstanceIdentifier', 'DBClusterIdentifier', 'ReplicationGroupId', 'ClusterName', 'ServiceName',
  'BucketName', 'RepositoryName', 'TopicName', 'QueueName', 'FunctionName'];
const physical = []; // [name, member key, stage]
const stageOf = (stackName) => (stageClusters.find((c) => c.stacks.some((s) => s.name === stackName)) || {}).id;
for (const s of allStacks) for (const [top, rs] of s.byTop) for (const [, r] of rs) {
  if (!KINDS[r.Type]) continue;
  for (const k of NAME_PROPS) {
    const v = (r.Properties || {})[k];
    if (typeof v === 'string' && v.length >= 5) physical.push([v, `${s.name}/${top}`, stageOf(s.name)]);
  }
}
function nameRefs(value, out = []) {
  if (Array.isArray(value)) value.forEach((v) => nameRefs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (k !== 'Tags') nameRefs(v, out);
  } else if (typeof value === 'string') {
    for (const [name, key, stage] of physical) {
      // exact (alarm dimension), "<replication group>-001" (cache node), or quoted inside a JSON string (dashboard)
      if (value === name || new RegExp(`^${reEsc(name)}-\\d{3,4}$`).test(value) || value.includes(`"${name}"`)) out.push({ name, key, stage });
    }
  }
  return out;
}
// References that only express "who may reach whom" or point back at a grantee are not architecture edges.
const NO_EDGES = new Set(['AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress',
  'AWS::S3::BucketPolicy', 'AWS::SNS::TopicPolicy', 'AWS::KMS::Key', 'AWS::Lambda::Permission']);
const stackPairs = new Set(); // every cross-stack reference, for the fallback below
for (const s of allStacks) {
  for (const [top, rs] of s.byTop) {
    const from = `${s.name}/${top}`;
    for (const [, r] of rs) {
      const skip = NO_EDGES.has(r.Type);
      if (!skip) {
        const byName = nameRefs(r.Properties || {});
        const stage = stageOf(s.name);
        for (const n of byName) {
          // the same name in several stages (e.g. a service name): only the one in this stage counts
          if (n.stage !== stage && byName.some((o) => o.name === n.name && o.stage === stage)) continue;
          if (n.stage !== stage && physical.filter(([nm]) => nm === n.name).length > 1) continue;
          addRaw(from, n.key, 'name');
        }
      }
      for (const ref of refsOf(r.Properties || {})) {
        if (ref.stack) stackPairs.add(`${s.name}\0${ref.stack}`);
        if (skip) continue;
        if (ref.local) addRaw(from, logicalToMember.get(`${s.name}\0${ref.local}`), 'local');
        else if (ref.stack) addRaw(from, outputTarget(ref.stack, ref.output, ref.exportName) || `${ref.stack}/*`, 'cross');
        else if (ref.image && ecrRepos.has(ref.image)) addRaw(from, ecrRepos.get(ref.image), 'image');
      }
    }
  }
}
for (const n of nodes.values()) {
  if (!n.role || ![...raw.values()].some((targets) => targets.has(n.key))) continue;
  n.hidden = true;
  const st = allStacks.find((x) => x.name === n.stack);
  st.nodeKeys = st.nodeKeys.filter((k) => k !== n.key);
}
// Collapse hidden constructs: a visible construct's edges reach through hidden ones to the next visible ones.
const visibleOf = (m) => {
  const k = members.get(m);
  return k && !nodes.get(k).hidden ? k : undefined;
};
const edges = new Map(); // "a\0b" -> kind
function reach(start, m, seen) {
  for (const [t, kind] of raw.get(m) || []) {
    if (seen.has(t)) continue;
    seen.add(t);
    const v = visibleOf(t);
    if (v) {
      if (v === start) continue;
      if (kind === 'image') {
        // A container image pulled from another stack's ECR repository (by URI): a line on the consumer rather
        // than an edge, which from every stage to the CI stack would cut across the whole picture.
        const r = nodes.get(v);
        const line = `image: ${r.stack} ${r.title}${r.details[0] ? ` (${r.details[0]})` : ''}`;
        if (!nodes.get(start).details.includes(line)) nodes.get(start).details.push(line);
        continue;
      }
      const k = `${start}\0${v}`;
      if (!edges.has(k)) edges.set(k, nodes.get(v).stack !== nodes.get(start).stack ? 'cross' : 'local');
    } else if (!t.endsWith('/*')) reach(start, t, seen);
  }
}
for (const m of raw.keys()) {
  const v = visibleOf(m);
  if (v) reach(v, m, new Set([m]));
}
// Hidden constructs nobody visible points at (e.g. security-group ingress rules) still count when they
// reference another stack: make sure every referencing stack pair has at least one edge.
const covered = new Set([...edges.keys()].map((k) => k.split('\0').map((n) => nodes.get(n).stack).join('\0')));
const stackEdges = [...stackPairs].filter((p) => !covered.has(p) && p.split('\0')[0] !== p.split('\0')[1]);

// ---- dot ---------------------------------------------------------------------------------------------------------
const ids = new Map();
const nid = (key) => {
  if (!ids.has(key)) ids.set(key, `n${ids.size}`);
  return ids.get(key);
};
const lines = [];
const w = (s) => lines.push(s);
w('digraph architecture {');
w('  graph [rankdir=LR, fontname="Helvetica", fontsize=22, labelloc=t, labeljust=l, compound=true, newrank=true,');
w('         nodesep=0.25, ranksep=0.9, pad=0.3, bgcolor="white",');
w(`         label=<<b>h2o-infra</b> — generated by \`make diagram\` from ${html(OUT)}/tree.json and the stack templates${cdkVersion ? ` (aws-cdk-lib ${html(cdkVersion)})` : ''}<br/><font point-size="14">A → B: a resource of A references B (solid blue: across stacks, dashed grey: inside a stack). IAM policies, security groups and log groups are folded into the constructs that use them.</font>>];`);
w('  node [shape=plain, fontname="Helvetica", fontsize=13];');
w('  edge [color="#555555", arrowsize=0.7, penwidth=1.2];');
const nodeLabel = (n) => {
  const [fill, line] = STYLE[n.cat] || ['#F2F2F2', '#444444'];
  const sub = n.title.toLowerCase() === n.label.toLowerCase() || n.title.startsWith(n.label) ? '' : `<tr><td align="left"><font point-size="12" color="${line}"><b>${html(n.label)}</b></font></td></tr>`;
  const rows = (n.details || []).map((d) => `<tr><td align="left"><font point-size="11" color="#333333">${html(d)}</font></td></tr>`).join('');
  return `<<table border="1" cellborder="0" cellspacing="0" cellpadding="3" style="rounded" bgcolor="${fill}" color="${line}"><tr><td align="left"><b>${html(n.title)}</b></td></tr>${sub}${rows}</table>>`;
};
const STACK_FILL = { network: '#F7F5FC', data: '#F4F8FF', compute: '#FFF9F2', edge: '#FAF6FF', observability: '#FFF6FA' };
function writeStack(s, indent) {
  w(`${indent}subgraph "cluster_${esc(s.id)}" {`);
  w(`${indent}  graph [label=<<b>${html(s.label)}</b>  <font point-size="13" color="#555555">${html(s.name)}</font>>, fontsize=17, style="rounded,filled", fillcolor="${STACK_FILL[s.label] || '#FAFAFA'}", color="#888888", penwidth=1.2, margin=10];`);
  // invisible anchor for stack-level edges
  if (stackEdges.some((p) => p.split('\0').includes(s.name))) w(`${indent}  "${nid(`${s.name}/*`)}" [shape=point, width=0.01, style=invis];`);
  for (const k of s.nodeKeys) w(`${indent}  ${nid(k)} [label=${nodeLabel(nodes.get(k))}];`);
  w(`${indent}}`);
}
// With rankdir=LR, dot stacks unconnected clusters bottom-up in input order: write them in reverse so that the
// picture reads top-down as the app does (top-level stacks, then the stages in order).
const parts = [...topStacks.map((s) => ({ stack: s })), ...stageClusters].reverse();
for (const c of parts) {
  if (c.stack) {
    writeStack(c.stack, '  ');
    continue;
  }
  const region = stacksByPath.get(c.stacks[0].id)?.region;
  w(`  subgraph "cluster_${esc(c.id)}" {`);
  w(`    graph [label=<<b>stage ${html(c.label)}</b>${region && region !== 'unknown-region' ? `  <font point-size="14">${html(region)}</font>` : ''}>, fontsize=22, style="rounded", color="#333333", penwidth=2, margin=16];`);
  for (const s of c.stacks) writeStack(s, '    ');
  w('  }');
}
const sortedEdges = [...edges.entries()].sort(([a], [b]) => (nid(a.split('\0')[0]) + nid(a.split('\0')[1])).localeCompare(nid(b.split('\0')[0]) + nid(b.split('\0')[1]), 'en', { numeric: true }));
for (const [k, kind] of sortedEdges) {
  const [a, b] = k.split('\0');
  const attrs = kind === 'local' ? 'style=dashed, color="#888888"' : 'color="#2E5BBA", penwidth=1.5';
  w(`  ${nid(a)} -> ${nid(b)} [${attrs}];`);
}
for (const p of stackEdges) {
  const [a, b] = p.split('\0');
  w(`  "${nid(`${a}/*`)}" -> "${nid(`${b}/*`)}" [ltail="cluster_${esc(stackModelByName.get(a).id)}", lhead="cluster_${esc(stackModelByName.get(b).id)}", color="#2E5BBA", penwidth=1.5];`);
}
w('}');

fs.mkdirSync(path.dirname(DOT), { recursive: true });
fs.writeFileSync(DOT, lines.join('\n') + '\n');
const shown = [...nodes.values()].filter((n) => !n.hidden).length;
console.log(`diagram: ${DOT}: ${stageClusters.length} stages, ${allStacks.length} stacks, ${shown} nodes, ${edges.size + stackEdges.length} edges`);
