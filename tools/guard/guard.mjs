#!/usr/bin/env node
// Review guard: compares two synthesized cloud assemblies stack by stack with @aws-cdk/cloudformation-diff (the
// library `cdk diff` uses) and fails when a stateful resource would be destroyed or replaced.
//
//   node tools/guard/guard.mjs <base-assembly-dir> <head-assembly-dir>
//
// Exit 0: nothing stateful is destroyed or replaced, and no secret gets a new value (a secret moved to another KMS
// key passes, reported as RE-KEYED). Exit 1: something is (the readable diff of every changed stack is printed, then
// the offending resources). Exit 2: bad usage or an unreadable assembly.
// GUARD_ALLOW="<stack>/<logicalId>,..." accepts listed resources on purpose (they are still reported).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const cfnDiff = require('@aws-cdk/cloudformation-diff');
const { ResourceImpact } = cfnDiff;

// Resources whose loss is loss of data, or of something other resources cannot do without (a key's ciphertext,
// a repository's images). Log groups are deliberately not here: their retention is their state, and the
// stacks own their names. Extend this list, not the logic, when a new stateful type appears.
export const STATEFUL_TYPES = new Set([
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::CacheCluster',
  'AWS::ElastiCache::ServerlessCache',
  'AWS::S3::Bucket',
  'AWS::SecretsManager::Secret',
  'AWS::ECR::Repository',
  'AWS::KMS::Key',
  'AWS::DynamoDB::Table',
  'AWS::EFS::FileSystem',
]);

// Properties whose change gives an existing resource new contents although it stays in place: CloudFormation
// applies a changed GenerateSecretString by generating a new secret value, and a changed SecretString by
// storing it (aws-cloudformation/cloudformation-coverage-roadmap#1161 and #2210, aws/aws-cdk#19985): either
// overwrites the value an operator put, and the backend's redeploy-on-secret-change rule rolls it out at once.
export const VALUE_PROPERTIES = new Map([
  ['AWS::SecretsManager::Secret', ['GenerateSecretString', 'SecretString']],
]);

// Properties whose change re-encrypts an existing resource's contents under another key, in place: no new value,
// but whoever reads it needs the new key first. A secret's KmsKeyId: Secrets Manager "re-encrypts AWSCURRENT,
// AWSPENDING, and AWSPREVIOUS versions with the new key" (Secrets Manager user guide, "Change the encryption key for
// an AWS Secrets Manager secret"), and CloudFormation documents a new version only for a change of
// GenerateSecretString ("When you make a change to this property, a new secret version is created": CloudFormation
// template reference, AWS::SecretsManager::Secret). Its handler's source is not public, so that a KmsKeyId-only
// update keeps the value is the documents' word, not observed: the guard passes it and says so (docs/runbook.md,
// "Moving the secrets to the stage key", checks it on dev first).
export const KEY_PROPERTIES = new Map([
  ['AWS::SecretsManager::Secret', ['KmsKeyId']],
]);

// What the diff library says will happen to the existing physical resource, and how the guard words it.
const DANGEROUS = new Map([
  [ResourceImpact.WILL_DESTROY, 'would be destroyed'],
  [ResourceImpact.WILL_ORPHAN, 'would be removed from the stack (retained, but no longer managed)'],
  [ResourceImpact.WILL_REPLACE, 'would be replaced (a new, empty resource)'],
  [ResourceImpact.MAY_REPLACE, 'may be replaced (a property that conditionally forces replacement changed)'],
]);

// loadStacks(dir): Map of stack name (or artifact id) -> { id, name, displayName, template }, nested assemblies
// (one per CDK Stage: assembly-dev/, assembly-prod/) included.
export function loadStacks(dir, stacks = new Map()) {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) {
    throw new Error(`${dir} is not a cloud assembly: no manifest.json (run cdk synth -o ${dir})`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    const props = artifact.properties ?? {};
    if (artifact.type === 'cdk:cloud-assembly') {
      loadStacks(path.join(dir, props.directoryName), stacks);
    } else if (artifact.type === 'aws:cloudformation:stack') {
      const name = props.stackName ?? id;
      if (stacks.has(name)) throw new Error(`stack ${name} appears twice in ${dir}`);
      const template = JSON.parse(fs.readFileSync(path.join(dir, props.templateFile), 'utf8'));
      stacks.set(name, { id, name, displayName: artifact.displayName ?? id, template, paths: constructPaths(dir, artifact) });
    }
  }
  return stacks;
}

// constructPaths: logical ID -> construct path, from the artifact's metadata (inline or in its metadata file),
// so the printed diff names constructs as `cdk diff` does.
function constructPaths(dir, artifact) {
  let metadata = artifact.metadata ?? {};
  if (artifact.additionalMetadataFile) {
    const file = path.join(dir, artifact.additionalMetadataFile);
    if (fs.existsSync(file)) metadata = { ...metadata, ...JSON.parse(fs.readFileSync(file, 'utf8')) };
  }
  const paths = {};
  for (const [constructPath, entries] of Object.entries(metadata)) {
    for (const entry of entries ?? []) {
      if (entry.type === 'aws:cdk:logicalId' && typeof entry.data === 'string') paths[entry.data] = constructPath;
    }
  }
  return paths;
}

// unstrict: the template without what `cdk diff` hides unless --strict: the AWS::CDK::Metadata resource (a
// compressed blob that changes with every construct added) and the CheckBootstrapVersion rule.
function unstrict(template) {
  if (!template) return {};
  const copy = { ...template, Resources: { ...template.Resources } };
  for (const [id, resource] of Object.entries(copy.Resources)) {
    if (resource?.Type === 'AWS::CDK::Metadata') delete copy.Resources[id];
  }
  if (copy.Rules?.CheckBootstrapVersion) {
    copy.Rules = { ...copy.Rules };
    delete copy.Rules.CheckBootstrapVersion;
    if (Object.keys(copy.Rules).length === 0) delete copy.Rules;
  }
  return copy;
}

// compare(baseDir, headDir, out, allow): prints the diffs to `out`; returns { violations, allowed, changed }.
export function compare(baseDir, headDir, out = process.stdout, allow = new Set()) {
  const base = loadStacks(baseDir);
  const head = loadStacks(headDir);
  const names = [...new Set([...base.keys(), ...head.keys()])].sort();
  const violations = [];
  const allowed = [];
  const rekeyed = [];
  let changed = 0;
  for (const name of names) {
    const before = base.get(name);
    const after = head.get(name);
    const diff = cfnDiff.fullDiff(unstrict(before?.template), unstrict(after?.template));
    if (diff.isEmpty) continue;
    changed++;
    const label = (after ?? before).displayName;
    const status = !before ? ' (new stack)' : !after ? ' (stack removed from the app)' : '';
    out.write(`\nStack ${name} [${label}]${status}\n`);
    cfnDiff.formatDifferences(out, diff, { ...before?.paths, ...after?.paths });
    diff.resources.forEachDifference((logicalId, change) => {
      const type = change.oldResourceType;
      if (!type || !STATEFUL_TYPES.has(type)) return;
      let what = DANGEROUS.get(change.changeImpact);
      if (change.resourceTypeChanged) what = `would change type to ${change.newResourceType} (replaced)`;
      const overwritten = change.isUpdate && !what ? valueChanges(type, change, VALUE_PROPERTIES) : [];
      if (overwritten.length) what = `would get a new value (${overwritten.join(', ')} changed: the stored value is overwritten)`;
      const constructPath = (before?.paths ?? {})[logicalId];
      const keys = change.isUpdate && !what ? valueChanges(type, change, KEY_PROPERTIES) : [];
      if (keys.length) rekeyed.push({ stack: name, logicalId, path: constructPath, type, properties: keys });
      if (!what) return;
      const entry = { stack: name, logicalId, path: constructPath, type, what, impact: change.changeImpact };
      if (change.isUpdate && !overwritten.length) {
        entry.properties = Object.entries(change.propertyUpdates)
          .filter(([, p]) => p.changeImpact === ResourceImpact.WILL_REPLACE || p.changeImpact === ResourceImpact.MAY_REPLACE)
          .map(([k]) => k);
      }
      (allow.has(`${name}/${logicalId}`) ? allowed : violations).push(entry);
    });
  }
  return { violations, allowed, rekeyed, changed, compared: names.length };
}

// valueChanges: the properties (of VALUE_PROPERTIES or KEY_PROPERTIES) of the resource's type that the update
// changes, adds or removes.
function valueChanges(type, change, properties) {
  return (properties.get(type) ?? []).filter((name) => change.propertyUpdates[name]?.isDifferent);
}

function describe(v) {
  const props = v.properties?.length ? ` (${v.properties.join(', ')})` : '';
  const where = v.path ? ` (${v.path})` : '';
  return `${v.stack}: ${v.logicalId}${where} ${v.type} ${v.what}${props}`;
}

function main(argv) {
  if (argv.length !== 2 || argv.some((a) => a === '-h' || a === '--help')) {
    process.stderr.write('usage: guard.mjs <base-assembly-dir> <head-assembly-dir>\n');
    return 2;
  }
  const allow = new Set((process.env.GUARD_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  let result;
  try {
    result = compare(argv[0], argv[1], process.stdout, allow);
  } catch (err) {
    process.stderr.write(`guard: ${err.message}\n`);
    return 2;
  }
  const { violations, allowed, rekeyed, changed, compared } = result;
  process.stdout.write('\n');
  for (const r of rekeyed) {
    const where = r.path ? ` (${r.path})` : '';
    process.stdout.write(
      `guard: RE-KEYED: ${r.stack}: ${r.logicalId}${where} ${r.type} is re-encrypted in place (${r.properties.join(', ')} changed): ` +
        'its value stays (as documented, unverified), but every reader needs kms:Decrypt on the new key before this deploys\n',
    );
  }
  for (const v of allowed) process.stdout.write(`guard: allowed by GUARD_ALLOW: ${describe(v)}\n`);
  if (violations.length) {
    for (const v of violations) process.stdout.write(`guard: STATEFUL: ${describe(v)}\n`);
    process.stdout.write(
      `guard: FAILED: ${violations.length} stateful resource(s) would be destroyed, replaced or overwritten. Keep the ` +
        'logical ID (construct id and path), replacement-forcing properties and a secret\'s GenerateSecretString/' +
        'SecretString unchanged, or, if the loss is intended, migrate the data first and list the resources in ' +
        'GUARD_ALLOW=<stack>/<logicalId>.\n',
    );
    return 1;
  }
  process.stdout.write(`guard: OK: ${compared} stack(s) compared, ${changed} changed, no stateful resource destroyed or replaced, no secret value overwritten\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
