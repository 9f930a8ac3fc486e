package stacks

// Contracts between layers: what one layer tells or expects of another equals what that layer enforces or serves.
// Each test reads both sides from the synthesized templates of every contract build (forEachContractBuild: dev,
// prod, the all-options variant and dev and prod with every setting moved), follows cross-stack references
// (exports and weak outputs) to the resource they name, and repeats no value from the code under test: a change
// to either side alone fails it. README "Tests" lists them.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"h2o-infra/config"
)

// refTarget is the resource a template value designates: a Ref (attr "") or an Fn::GetAtt, in the stack that holds it.
type refTarget struct {
	stack awscdk.Stack
	id    string
	attr  string
}

func (r refTarget) String() string {
	if r.stack == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s %s.%s", *r.stack.StackName(), r.id, r.attr)
}

// same is whether two targets designate the same attribute of the same resource.
func (r refTarget) same(o refTarget) bool {
	return r.stack != nil && o.stack != nil && *r.stack.StackName() == *o.stack.StackName() && r.id == o.id && r.attr == o.attr
}

// resource is the template resource a target designates.
func (r refTarget) resource(t *testing.T) map[string]interface{} {
	t.Helper()
	res, ok := allResources(t, r.stack)[r.id]
	if !ok {
		t.Fatalf("%s: no such resource", r)
	}
	return res
}

// resolveRef follows a value of a template of stack `from` (one of s's stacks) to the resource it designates: a Ref
// or Fn::GetAtt of a resource, directly or through another stack's export (Fn::ImportValue) or output
// (Fn::GetStackOutput). ok is false for anything else: a literal, a join, a parameter.
func resolveRef(t *testing.T, s *H2oStage, from awscdk.Stack, v interface{}) (refTarget, bool) {
	t.Helper()
	m, isMap := v.(map[string]interface{})
	if !isMap || len(m) != 1 {
		return refTarget{}, false
	}
	switch {
	case m["Ref"] != nil:
		id, _ := m["Ref"].(string)
		if _, ok := allResources(t, from)[id]; ok {
			return refTarget{from, id, ""}, true
		}
	case m["Fn::GetAtt"] != nil:
		parts := list(m["Fn::GetAtt"])
		if len(parts) == 2 {
			id, _ := parts[0].(string)
			attr, _ := parts[1].(string)
			if _, ok := allResources(t, from)[id]; ok {
				return refTarget{from, id, attr}, true
			}
		}
	case m["Fn::ImportValue"] != nil:
		name, _ := m["Fn::ImportValue"].(string)
		for _, stack := range s.Stacks() {
			for _, out := range outputsOf(t, stack) {
				if exported, _ := lookup(out, "Export.Name"); exported == name {
					return resolveRef(t, s, stack, out["Value"])
				}
			}
		}
		t.Errorf("%s imports %s, which no stack of the stage exports", *from.StackName(), name)
	case m["Fn::GetStackOutput"] != nil:
		ref := atMap(t, m, "Fn::GetStackOutput")
		for _, stack := range s.Stacks() {
			if *stack.StackName() == ref["StackName"] {
				if out, ok := outputsOf(t, stack)[fmt.Sprint(ref["OutputName"])]; ok {
					return resolveRef(t, s, stack, out["Value"])
				}
			}
		}
		t.Errorf("%s reads output %v, which no stack of the stage has", *from.StackName(), mustJSON(ref))
	}
	return refTarget{}, false
}

// outputsOf is a stack's Outputs by name.
func outputsOf(t *testing.T, stack awscdk.Stack) map[string]map[string]interface{} {
	t.Helper()
	out := map[string]map[string]interface{}{}
	raw, ok := templateJSON(stack)["Outputs"].(map[string]interface{})
	if !ok {
		return out
	}
	for name := range raw {
		out[name] = atMap(t, raw, name)
	}
	return out
}

// stageResource is one resource of a stage with the stack that holds it.
type stageResource struct {
	stack awscdk.Stack
	id    string
	r     map[string]interface{}
}

func (sr stageResource) target(attr string) refTarget { return refTarget{sr.stack, sr.id, attr} }

// stageResources lists the resources of a type across the stage's stacks, in deploy order then logical ID.
func stageResources(t *testing.T, s *H2oStage, typ string) []stageResource {
	t.Helper()
	var out []stageResource
	for _, stack := range s.Stacks() {
		found := allResources(t, stack)
		for _, id := range sortedKeys(found) {
			if found[id]["Type"] == typ {
				out = append(out, stageResource{stack, id, found[id]})
			}
		}
	}
	return out
}

// onlyOf is the one resource of a type in the stage.
func onlyOf(t *testing.T, s *H2oStage, typ string) stageResource {
	t.Helper()
	found := stageResources(t, s, typ)
	if len(found) != 1 {
		t.Fatalf("want one %s in the stage, got %d", typ, len(found))
	}
	return found[0]
}

// container is one container definition with the task definition and stack that hold it.
type container struct {
	task stageResource
	def  map[string]interface{}
	env  map[string]interface{}
	// secrets are the container's ECS secrets by variable name: the secret they designate, and the JSON key read
	// ("" for the whole secret).
	secrets map[string]secretRead
}

type secretRead struct {
	secret refTarget
	key    string
}

func (c container) String() string {
	return fmt.Sprintf("%s %s container %v", *c.task.stack.StackName(), c.task.id, c.def["Name"])
}

// containers lists every container of every task definition of the stage.
func containers(t *testing.T, s *H2oStage) []container {
	t.Helper()
	var out []container
	for _, task := range stageResources(t, s, "AWS::ECS::TaskDefinition") {
		for _, def := range optMaps(t, task.r, "Properties.ContainerDefinitions") {
			c := container{task: task, def: def, env: envOf(t, def), secrets: map[string]secretRead{}}
			for _, sec := range optMaps(t, def, "Secrets") {
				c.secrets[atString(t, sec, "Name")] = readSecret(t, s, task.stack, sec["ValueFrom"])
			}
			out = append(out, c)
		}
	}
	return out
}

// readSecret parses an ECS secret's ValueFrom: the secret's ARN, or "<ARN>:<json key>:<version stage>:<version id>"
// (ECS developer guide, "Pass Secrets Manager secrets through Amazon ECS environment variables").
func readSecret(t *testing.T, s *H2oStage, from awscdk.Stack, valueFrom interface{}) secretRead {
	t.Helper()
	if target, ok := resolveRef(t, s, from, valueFrom); ok {
		return secretRead{secret: target}
	}
	parts, ok := lookup(valueFrom, "Fn::Join.1")
	if pl := list(parts); ok && len(pl) == 2 {
		suffix, _ := pl[1].(string)
		fields := strings.Split(suffix, ":")
		if target, ok := resolveRef(t, s, from, pl[0]); ok && len(fields) == 4 && fields[0] == "" {
			return secretRead{secret: target, key: fields[1]}
		}
	}
	t.Errorf("ValueFrom %s names no secret of the stage", mustJSON(valueFrom))
	return secretRead{}
}

// envTarget resolves a container's environment variable to the resource attribute it is set from.
func envTarget(t *testing.T, s *H2oStage, c container, name string) (refTarget, bool) {
	t.Helper()
	return resolveRef(t, s, c.task.stack, c.env[name])
}

// consumers are the containers told anything with the prefix (DB_, REDIS_): an environment variable or a secret.
func consumers(t *testing.T, s *H2oStage, prefix string) []container {
	t.Helper()
	var out []container
	for _, c := range containers(t, s) {
		told := false
		for name := range c.env {
			told = told || strings.HasPrefix(name, prefix)
		}
		for name := range c.secrets {
			told = told || strings.HasPrefix(name, prefix)
		}
		if told {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no container is told any %s* setting: the contract checks nothing", prefix)
	}
	return out
}

// libpqTLSModes are the sslmode values with which libpq never connects without TLS (PostgreSQL documentation,
// "SSL Support", table "SSL Mode Descriptions"): disable, allow and prefer may fall back to (or only use) plain text.
var libpqTLSModes = map[string]bool{"require": true, "verify-ca": true, "verify-full": true}

// TestContainersReachTheDatabaseAsItServes: every container told a DB_* setting is told the instance's endpoint
// address and port, its database name, a TLS mode that uses TLS exactly when the instance's parameter group forces it
// (rds.force_ssl: RDS user guide, "Requiring an SSL/TLS connection to a PostgreSQL DB instance"; a client without
// TLS is refused, and a forced TLS the app does not use is refused the same), reads its credentials from the
// instance's RDS-managed secret, and the instance's security group admits the tasks on the port they are told.
func TestContainersReachTheDatabaseAsItServes(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		// GIVEN the stage's database instance and every container told a DB_* setting
		db := onlyOf(t, s, "AWS::RDS::DBInstance")
		// The engine's default parameter group sets rds.force_ssl by major version (RDS user guide, "Using SSL with a
		// PostgreSQL DB instance": "Requiring an SSL connection"), which no template shows: the stage's own group
		// must state it, or the contract has nothing to read.
		group, ok := resolveRef(t, s, db.stack, props(db.r)["DBParameterGroupName"])
		if !ok {
			t.Fatalf("%s: no parameter group of the stage (DBParameterGroupName %v): whether TLS is forced is not in the template", db.id, props(db.r)["DBParameterGroupName"])
		}
		force, stated := atMap(t, group.resource(t), "Properties.Parameters")["rds.force_ssl"]
		if !stated {
			t.Fatalf("%s: its parameter group %s does not state rds.force_ssl: whether TLS is forced is not in the template", db.id, group)
		}
		forced := force == "1"
		for _, c := range consumers(t, s, "DB_") {
			// WHEN what it is told is followed to the resources it names THEN they are the instance's
			if host, _ := envTarget(t, s, c, "DB_HOST"); !host.same(db.target("Endpoint.Address")) {
				t.Errorf("%s: DB_HOST is %s, want the instance's endpoint address", c, host)
			}
			port, _ := envTarget(t, s, c, "DB_PORT")
			if !port.same(db.target("Endpoint.Port")) {
				t.Errorf("%s: DB_PORT is %s, want the instance's endpoint port", c, port)
			}
			if c.env["DB_NAME"] == nil || c.env["DB_NAME"] != props(db.r)["DBName"] {
				t.Errorf("%s: DB_NAME %v, the instance creates database %v", c, c.env["DB_NAME"], props(db.r)["DBName"])
			}
			mode, _ := c.env["DB_SSLMODE"].(string)
			if libpqTLSModes[mode] != forced {
				t.Errorf("%s: DB_SSLMODE %q (TLS only: %v) while the parameter group forces TLS: %v", c, mode, libpqTLSModes[mode], forced)
			}
			for _, key := range []string{"username", "password"} {
				found := false
				for _, read := range c.secrets {
					found = found || (read.secret.same(db.target("MasterUserSecret.SecretArn")) && read.key == key)
				}
				if !found {
					t.Errorf("%s reads no %s from the instance's RDS-managed secret", c, key)
				}
			}
			groups := list(props(db.r)["VPCSecurityGroups"])
			if len(groups) == 0 || !anyAdmits(t, s, db.stack, groups, taskSecurityGroups(t, s), port) {
				t.Errorf("%s: no security group of the instance admits the tasks on DB_PORT (%s)", c, port)
			}
		}
	})
}

// TestContainersReachTheCacheAsItServes: every container told a REDIS_* setting is told the replication group's
// primary endpoint and port, uses TLS exactly when the group requires it (TransitEncryptionEnabled, and no
// "preferred" mode, which also admits plain text: ElastiCache user guide, "Enabling in-transit encryption"), reads the
// AUTH token the group was created with, and the group's security group admits the tasks on that port.
func TestContainersReachTheCacheAsItServes(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		// GIVEN the stage's replication group and every container told a REDIS_* setting
		cache := onlyOf(t, s, "AWS::ElastiCache::ReplicationGroup")
		p := props(cache.r)
		tlsRequired := p["TransitEncryptionEnabled"] == true && p["TransitEncryptionMode"] != "preferred"
		auth, hasAuth := authTokenSecret(t, s, cache)
		for _, c := range consumers(t, s, "REDIS_") {
			// WHEN what it is told is followed THEN it is the group's endpoint, port, TLS and token
			if host, _ := envTarget(t, s, c, "REDIS_HOST"); !host.same(cache.target("PrimaryEndPoint.Address")) {
				t.Errorf("%s: REDIS_HOST is %s, want the group's primary endpoint", c, host)
			}
			told := c.env["REDIS_PORT"]
			if port, ok := envTarget(t, s, c, "REDIS_PORT"); ok {
				if !port.same(cache.target("PrimaryEndPoint.Port")) {
					t.Errorf("%s: REDIS_PORT is %s, want the group's primary endpoint port", c, port)
				}
			} else if told == nil || number(told) != number(p["Port"]) {
				t.Errorf("%s: REDIS_PORT %v, the group listens on %v", c, told, p["Port"])
			}
			if tls := c.env["REDIS_TLS"]; tls != fmt.Sprint(tlsRequired) {
				t.Errorf("%s: REDIS_TLS %v while the group requires TLS: %v", c, tls, tlsRequired)
			}
			token, reads := c.secrets["REDIS_AUTH_TOKEN"]
			if reads != hasAuth || (hasAuth && (!token.secret.same(auth) || token.key != "")) {
				t.Errorf("%s: REDIS_AUTH_TOKEN from %s (key %q), the group's AUTH token is %s", c, token.secret, token.key, auth)
			}
			var portValue interface{} = p["Port"]
			if pt, ok := envTarget(t, s, c, "REDIS_PORT"); ok {
				portValue = pt
			}
			groups := list(p["SecurityGroupIds"])
			if len(groups) == 0 || !anyAdmits(t, s, cache.stack, groups, taskSecurityGroups(t, s), portValue) {
				t.Errorf("%s: no security group of the cache admits the tasks on port %v", c, portValue)
			}
		}
	})
}

// authTokenSecret is the secret a replication group's AuthToken resolves ({{resolve:secretsmanager:<secret>...}}).
func authTokenSecret(t *testing.T, s *H2oStage, cache stageResource) (refTarget, bool) {
	t.Helper()
	token := props(cache.r)["AuthToken"]
	if token == nil {
		return refTarget{}, false
	}
	parts := list(at(t, token, "Fn::Join.1"))
	if len(parts) != 3 || !strings.HasPrefix(fmt.Sprint(parts[0]), "{{resolve:secretsmanager:") || fmt.Sprint(parts[2]) != ":SecretString:::}}" {
		t.Fatalf("AuthToken %s is not a whole-secret dynamic reference", mustJSON(token))
	}
	secret, ok := resolveRef(t, s, cache.stack, parts[1])
	if !ok {
		t.Fatalf("AuthToken %s names no secret of the stage", mustJSON(token))
	}
	return secret, true
}

// taskSecurityGroups are the security groups the stage's ECS services run their tasks in (the migration task runs
// in the service's group too: the TaskSecurityGroupId output).
func taskSecurityGroups(t *testing.T, s *H2oStage) []refTarget {
	t.Helper()
	var out []refTarget
	for _, svc := range stageResources(t, s, "AWS::ECS::Service") {
		for _, g := range optList(t, svc.r, "Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups") {
			if target, ok := resolveRef(t, s, svc.stack, g); ok {
				out = append(out, target)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no ECS service runs its tasks in a security group of the stage")
	}
	return out
}

// optList is the list at path, or nothing when the last key is missing.
func optList(t *testing.T, v interface{}, path string) []interface{} {
	t.Helper()
	found, ok := lookup(v, path)
	if !ok {
		return nil
	}
	return list(found)
}

// anyAdmits is whether an ingress rule of one of the groups (values of stack `from`) admits a source group on port:
// port is a number, a template value or a refTarget; a rule's FromPort..ToPort covers a number, or names the same
// attribute.
func anyAdmits(t *testing.T, s *H2oStage, from awscdk.Stack, groups []interface{}, sources []refTarget, port interface{}) bool {
	t.Helper()
	var targets []refTarget
	for _, g := range groups {
		if target, ok := resolveRef(t, s, from, g); ok {
			targets = append(targets, target)
		}
	}
	covers := func(rule map[string]interface{}, ruleStack awscdk.Stack) bool {
		lo, _ := resolveRef(t, s, ruleStack, rule["FromPort"])
		hi, _ := resolveRef(t, s, ruleStack, rule["ToPort"])
		if want, isRef := port.(refTarget); isRef {
			return lo.same(want) && hi.same(want)
		}
		n := number(port)
		return n > 0 && number(rule["FromPort"]) <= n && n <= number(rule["ToPort"])
	}
	fromSource := func(rule map[string]interface{}, ruleStack awscdk.Stack) bool {
		src, _ := resolveRef(t, s, ruleStack, rule["SourceSecurityGroupId"])
		return slices.ContainsFunc(sources, src.same)
	}
	for _, in := range stageResources(t, s, "AWS::EC2::SecurityGroupIngress") {
		group, _ := resolveRef(t, s, in.stack, props(in.r)["GroupId"])
		if slices.ContainsFunc(targets, group.same) && fromSource(props(in.r), in.stack) && covers(props(in.r), in.stack) {
			return true
		}
	}
	for _, g := range targets {
		for _, rule := range optMaps(t, g.resource(t), "Properties.SecurityGroupIngress") {
			if fromSource(rule, g.stack) && covers(rule, g.stack) {
				return true
			}
		}
	}
	return false
}

// TestEverySecretAContainerReadsHoldsTheKeyItReads: every ECS secret of every container names a secret of the
// stage that has the JSON key it reads: a generated secret's template (or its generated key), the RDS-managed master
// secret's username or password (RDS user guide, "Password management with Amazon RDS and AWS Secrets Manager"), and
// a whole-secret read only of a secret that is not JSON. A key the secret does not hold stops the task at start
// (ResourceInitializationError).
func TestEverySecretAContainerReadsHoldsTheKeyItReads(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		read := 0
		for _, c := range containers(t, s) {
			for name, sec := range c.secrets {
				read++
				if sec.secret.stack == nil {
					continue // readSecret reported it
				}
				res := sec.secret.resource(t)
				switch {
				case res["Type"] == "AWS::RDS::DBInstance" && sec.secret.attr == "MasterUserSecret.SecretArn":
					if sec.key != "username" && sec.key != "password" {
						t.Errorf("%s: %s reads key %q of the RDS-managed secret, which holds username and password", c, name, sec.key)
					}
				case res["Type"] == "AWS::SecretsManager::Secret" && sec.secret.attr == "":
					keys := generatedKeys(t, res)
					if (sec.key == "" && keys != nil) || (sec.key != "" && !slices.Contains(keys, sec.key)) {
						t.Errorf("%s: %s reads key %q of %s, whose value has keys %v", c, name, sec.key, sec.secret, keys)
					}
				default:
					t.Errorf("%s: %s reads %s, which is not a secret", c, name, sec.secret)
				}
			}
		}
		if read == 0 {
			t.Error("no container reads a secret: the contract checks nothing")
		}
	})
}

// generatedKeys are the JSON keys a Secrets Manager secret's generated value has (its template's and the generated
// one), or nil when the value is a plain string.
func generatedKeys(t *testing.T, secret map[string]interface{}) []string {
	t.Helper()
	gen, ok := props(secret)["GenerateSecretString"].(map[string]interface{})
	if !ok || gen["SecretStringTemplate"] == nil {
		return nil
	}
	var shape map[string]interface{}
	if err := json.Unmarshal([]byte(fmt.Sprint(gen["SecretStringTemplate"])), &shape); err != nil {
		t.Fatalf("SecretStringTemplate is not a JSON object: %v", err)
	}
	keys := sortedKeys(shape)
	if k, ok := gen["GenerateStringKey"].(string); ok {
		keys = append(keys, k)
	}
	return keys
}

// healthURLRe finds the URL a container health check requests of the container itself.
var healthURLRe = regexp.MustCompile(`https?://(?:localhost|127\.0\.0\.1):(\d+)(/[^'"\s]*)`)
