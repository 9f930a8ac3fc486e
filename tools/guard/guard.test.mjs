// Tests of the review guard over the hand-made assemblies in testdata/: base/ is the reviewed branch's base,
// every other directory is a head with one change in the prod stage (dev is unchanged everywhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare, loadStacks } from './guard.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const data = (name) => path.join(here, 'testdata', name);

function guard(head, env = {}) {
  const r = spawnSync(process.execPath, [path.join(here, 'guard.mjs'), data('base'), data(head)], {
    encoding: 'utf8',
    env: { ...process.env, GUARD_ALLOW: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('stacks of nested assemblies are matched by stack name', () => {
  const stacks = loadStacks(data('base'));
  assert.deepEqual([...stacks.keys()].sort(), ['h2o-dev-data', 'h2o-dev-monitoring', 'h2o-prod-data', 'h2o-prod-monitoring']);
  assert.equal(stacks.get('h2o-prod-data').displayName, 'prod/data');
});

test('an unchanged assembly passes', () => {
  const r = guard('unchanged');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /guard: OK: 4 stack\(s\) compared, 0 changed/);
});

test('a renamed RDS instance (new logical ID) fails and shows the diff', () => {
  const r = guard('renamed-db');
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /Stack h2o-prod-data \[prod\/data\]/);
  assert.match(r.out, /\[-\] AWS::RDS::DBInstance .*DatabaseB269D8BB destroy/);
  assert.match(r.out, /guard: STATEFUL: h2o-prod-data: DatabaseB269D8BB \(\/prod\/data\/Database\/Resource\) AWS::RDS::DBInstance would be destroyed/);
  assert.doesNotMatch(r.out, /h2o-dev-data/);
});

test('a changed BucketName fails: the library classifies it as a replacement', () => {
  const r = guard('bucket-name');
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /BucketName \(requires replacement\)/);
  assert.match(r.out, /guard: STATEFUL: h2o-prod-data: PdfBucketFA9E115A .*AWS::S3::Bucket would be replaced .*\(BucketName\)/);
});

test('an alarm threshold change passes, with its diff printed', () => {
  const r = guard('alarm-threshold');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /Stack h2o-prod-monitoring/);
  assert.match(r.out, /Threshold/);
  assert.match(r.out, /guard: OK: 4 stack\(s\) compared, 1 changed/);
});

test('an in-place update of a stateful resource (instance class) passes', () => {
  const r = guard('db-instance-class');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /DBInstanceClass/);
});

test('GUARD_ALLOW accepts a listed resource on purpose and still reports it', () => {
  const r = guard('renamed-db', { GUARD_ALLOW: 'h2o-prod-data/DatabaseB269D8BB' });
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /allowed by GUARD_ALLOW: h2o-prod-data: DatabaseB269D8BB/);
});

test('a stack removed from the app counts as destroying its stateful resources', () => {
  const { violations } = compare(data('base'), data('base'), { write() {} });
  assert.equal(violations.length, 0);
  const r = spawnSync(process.execPath, [path.join(here, 'guard.mjs'), data('base'), path.join(data('base'), 'assembly-dev')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /Stack h2o-prod-data \[prod\/data\] \(stack removed from the app\)/);
  assert.match(r.stdout, /h2o-prod-data: DatabaseB269D8BB .*AWS::RDS::DBInstance would be destroyed/);
  // DeletionPolicy Retain: the bucket survives, orphaned, which still fails the review.
  assert.match(r.stdout, /h2o-prod-data: PdfBucketFA9E115A .*would be removed from the stack \(retained/);
  assert.match(r.stdout, /guard: FAILED: 3 stateful resource\(s\)/);
});

test('bad usage and a directory without manifest.json exit 2', () => {
  const usage = spawnSync(process.execPath, [path.join(here, 'guard.mjs'), data('base')], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  const r = guard('no-such-dir');
  assert.equal(r.code, 2);
  assert.match(r.err, /not a cloud assembly/);
});

test('CDK metadata and the bootstrap version rule are ignored, as cdk diff does', () => {
  const head = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-'));
  try {
    fs.cpSync(data('base'), head, { recursive: true });
    const file = path.join(head, 'assembly-prod', 'proddata.template.json');
    const template = JSON.parse(fs.readFileSync(file, 'utf8'));
    template.Resources.CDKMetadata = { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:changed' } };
    template.Rules = { CheckBootstrapVersion: { Assertions: [] } };
    fs.writeFileSync(file, JSON.stringify(template));
    const out = { text: '', write(s) { this.text += s; } };
    const result = compare(data('base'), head, out);
    assert.equal(result.changed, 0, out.text);
  } finally {
    fs.rmSync(head, { recursive: true, force: true });
  }
});

// variant copies base/ into a temporary assembly and lets edit() change the Resources of prod's data template.
function variant(edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-'));
  fs.cpSync(data('base'), dir, { recursive: true });
  const file = path.join(dir, 'assembly-prod', 'proddata.template.json');
  const template = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(template.Resources);
  fs.writeFileSync(file, JSON.stringify(template));
  return dir;
}

function guardDirs(baseDir, headDir, env = {}) {
  const r = spawnSync(process.execPath, [path.join(here, 'guard.mjs'), baseDir, headDir], {
    encoding: 'utf8',
    env: { ...process.env, GUARD_ALLOW: '', ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

// A secret as the app creates one: a generated value, never one in the template.
const generated = (length) => (res) => {
  res.AppSecretFAB5164C.Properties.GenerateSecretString = { ExcludePunctuation: true, PasswordLength: length };
};

test('a changed GenerateSecretString of an existing secret fails: CloudFormation would generate a new value', () => {
  const base = variant(generated(32));
  const head = variant(generated(40));
  try {
    const r = guardDirs(base, head);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /guard: STATEFUL: h2o-prod-data: AppSecretFAB5164C .*AWS::SecretsManager::Secret would get a new value \(GenerateSecretString changed/);
    assert.match(r.out, /guard: FAILED: 1 stateful resource\(s\) would be destroyed, replaced or overwritten/);
    // Waived on purpose, it still shows.
    const allowed = guardDirs(base, head, { GUARD_ALLOW: 'h2o-prod-data/AppSecretFAB5164C' });
    assert.equal(allowed.code, 0, allowed.out);
    assert.match(allowed.out, /allowed by GUARD_ALLOW: h2o-prod-data: AppSecretFAB5164C .*would get a new value/);
  } finally {
    for (const d of [base, head]) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a SecretString put into the template, or changed there, fails', () => {
  const base = variant(generated(32));
  const literal = (value) => (res) => {
    delete res.AppSecretFAB5164C.Properties.GenerateSecretString;
    res.AppSecretFAB5164C.Properties.SecretString = value;
  };
  const added = variant(literal('placeholder'));
  const before = variant(literal('one'));
  const after = variant(literal('two'));
  try {
    const r = guardDirs(base, added);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /AppSecretFAB5164C .*would get a new value \(GenerateSecretString, SecretString changed/);
    const changed = guardDirs(before, after);
    assert.equal(changed.code, 1, changed.out);
    assert.match(changed.out, /AppSecretFAB5164C .*would get a new value \(SecretString changed/);
  } finally {
    for (const d of [base, added, before, after]) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a new secret and a changed description leave every stored value alone and pass', () => {
  const base = variant(generated(32));
  const head = variant((res) => {
    generated(32)(res);
    res.AppSecretFAB5164C.Properties.Description = 'reworded';
    res.AppSecretOTHERKEY1234ABCD = {
      Type: 'AWS::SecretsManager::Secret',
      Properties: { Name: 'h2o/prod/app/OTHER_KEY', GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 32 } },
    };
  });
  try {
    const r = guardDirs(base, head);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /\[\+\] AWS::SecretsManager::Secret AppSecretOTHERKEY1234ABCD/);
    assert.match(r.out, /no secret value overwritten/);
  } finally {
    for (const d of [base, head]) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a secret moved to another KMS key passes, reported as re-keyed; with a new generator too it fails', () => {
  const keyed = (key, length = 32) => (res) => {
    generated(length)(res);
    if (key) res.AppSecretFAB5164C.Properties.KmsKeyId = key;
  };
  const base = variant(keyed(undefined));
  const stageKey = { 'Fn::ImportValue': 'h2o-prod-network:ExportsOutputFnGetAttStageKey93D93A71ArnA6E4E124' };
  const rekeyed = variant(keyed(stageKey));
  const both = variant(keyed(stageKey, 40));
  try {
    const r = guardDirs(base, rekeyed);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /guard: RE-KEYED: h2o-prod-data: AppSecretFAB5164C .*AWS::SecretsManager::Secret is re-encrypted in place \(KmsKeyId changed\)/);
    assert.match(r.out, /guard: OK: /);
    // Back to the AWS managed key is a re-key as well.
    const back = guardDirs(rekeyed, base);
    assert.equal(back.code, 0, back.out);
    assert.match(back.out, /RE-KEYED: h2o-prod-data: AppSecretFAB5164C/);
    const r2 = guardDirs(base, both);
    assert.equal(r2.code, 1, r2.out);
    assert.match(r2.out, /AppSecretFAB5164C .*would get a new value \(GenerateSecretString changed/);
    assert.doesNotMatch(r2.out, /RE-KEYED/);
  } finally {
    for (const d of [base, rekeyed, both]) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('an unchanged key reports no re-key', () => {
  const r = guard('alarm-threshold');
  assert.equal(r.code, 0, r.out + r.err);
  assert.doesNotMatch(r.out, /RE-KEYED/);
});
