// The guard on the real synthesized app (cdk.out from `make synth`), not hand-made assemblies: a copy of it
// with one change each, made the way a refactor would show up in the templates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = path.resolve(process.env.GUARD_REAL_OUT || 'cdk.out');
const skip = fs.existsSync(path.join(base, 'manifest.json')) ? false : `no synthesized app in ${base} (make synth)`;

// head copies the assembly and lets change() edit the prod template that has the given logical ID.
function head(logicalId, change) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-real-'));
  fs.cpSync(base, dir, { recursive: true });
  const stageDir = path.join(dir, 'assembly-prod');
  const file = fs.readdirSync(stageDir).filter((f) => f.endsWith('.template.json'))
    .map((f) => path.join(stageDir, f))
    .find((f) => JSON.parse(fs.readFileSync(f, 'utf8')).Resources?.[logicalId]);
  assert.ok(file, `no prod template has ${logicalId}`);
  const template = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(template.Resources);
  fs.writeFileSync(file, JSON.stringify(template, null, 1));
  return dir;
}

function guard(headDir) {
  const r = spawnSync(process.execPath, [path.join(here, 'guard.mjs'), base, headDir],
    { encoding: 'utf8', env: { ...process.env, GUARD_ALLOW: '' } });
  fs.rmSync(headDir, { recursive: true, force: true });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('the synthesized app compared with itself passes', { skip }, () => {
  const r = guard(head('DatabaseB269D8BB', () => {}));
  assert.equal(r.code, 0, r.out);
});

test('a renamed database construct (new logical ID) fails', { skip }, () => {
  const r = guard(head('DatabaseB269D8BB', (res) => {
    res.DatabaseRenamed12345678 = res.DatabaseB269D8BB;
    delete res.DatabaseB269D8BB;
  }));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /DatabaseB269D8BB .*AWS::RDS::DBInstance would be destroyed/);
});

test('a changed bucket name fails (replacement)', { skip }, () => {
  const r = guard(head('PdfBucketFA9E115A', (res) => { res.PdfBucketFA9E115A.Properties.BucketName = 'h2o-prod-pdfs-renamed'; }));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /PdfBucketFA9E115A/);
});

test('an alarm threshold change passes', { skip }, () => {
  let changed = false;
  const r = guard(head('EcsCpuAlarm1D439C07', (res) => {
    for (const [, resource] of Object.entries(res)) {
      if (resource.Type === 'AWS::CloudWatch::Alarm' && resource.Properties.AlarmName === 'h2o-prod-ecs-cpu') {
        resource.Properties.Threshold = 90;
        changed = true;
      }
    }
  }));
  assert.ok(changed, 'no h2o-prod-ecs-cpu alarm in the prod templates');
  assert.equal(r.code, 0, r.out);
});

test('a PostgreSQL minor bump (config dbEngineVersion) is an in-place update and passes', { skip }, () => {
  const r = guard(head('DatabaseB269D8BB', (res) => {
    const [major, minor] = res.DatabaseB269D8BB.Properties.EngineVersion.split('.');
    res.DatabaseB269D8BB.Properties.EngineVersion = `${major}.${Number(minor) + 1}`;
  }));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /EngineVersion/);
});

test('a Valkey version bump (config cacheEngineVersion) is an in-place update and passes', { skip }, () => {
  // ElastiCache upgrades the same replication group; only Engine and Port force a new one (CloudFormation
  // AWS::ElastiCache::ReplicationGroup).
  const r = guard(head('Cache', (res) => { res.Cache.Properties.EngineVersion = '8.1'; }));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /EngineVersion/);
});

test('a changed generator of a real secret fails: its stored value would be regenerated', { skip }, () => {
  const r = guard(head('CacheAuthTokenAAA23466', (res) => {
    res.CacheAuthTokenAAA23466.Properties.GenerateSecretString.PasswordLength = 65;
  }));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /CacheAuthTokenAAA23466 .*would get a new value \(GenerateSecretString changed/);
});

test('an API key added (a secret of its own) passes: no stored value changes', { skip }, () => {
  const r = guard(head('AppSecretAIAPIKEY4EA8385C', (res) => {
    const added = structuredClone(res.AppSecretAIAPIKEY4EA8385C);
    added.Properties.Name = added.Properties.Name.replace(/AI_API_KEY$/, 'OTHER_KEY');
    res.AppSecretOTHERKEY0123ABCD = added;
  }));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /AppSecretOTHERKEY0123ABCD/);
});

test('a real secret moved back to the AWS managed key passes, reported as re-keyed (the reverse of the stage key move)', { skip }, () => {
  const r = guard(head('CacheAuthTokenAAA23466', (res) => {
    assert.ok(res.CacheAuthTokenAAA23466.Properties.KmsKeyId, 'the cache AUTH token is not on the stage key');
    delete res.CacheAuthTokenAAA23466.Properties.KmsKeyId;
  }));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /guard: RE-KEYED: h2o-prod-data: CacheAuthTokenAAA23466 .*KmsKeyId changed/);
});
