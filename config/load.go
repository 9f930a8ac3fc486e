package config

import (
	"errors"
	"fmt"
	"strings"
)

// Lookup reads one CDK context value (`-c key=value` or cdk.json); ok is false when the key is absent.
type Lookup func(key string) (value string, ok bool)

// overrides are the fields that may be set at deploy time through CDK context. `-c <stage>.<key>=v` sets one
// stage only and wins over `-c <key>=v`, which sets every stage being built.
var overrides = map[string]func(*Config) *string{
	"account":            func(c *Config) *string { return &c.Account },
	"imageTag":           func(c *Config) *string { return &c.ImageTag },
	"alarmEmail":         func(c *Config) *string { return &c.AlarmEmail },
	"domainName":         func(c *Config) *string { return &c.DomainName },
	"hostedZoneId":       func(c *Config) *string { return &c.HostedZoneId },
	"cpuArchitecture":    func(c *Config) *string { return &c.CpuArchitecture },
	"wafMode":            func(c *Config) *string { return &c.WafMode },
	"frontendRepository": func(c *Config) *string { return &c.FrontendRepository },
	"slackWorkspaceId":   func(c *Config) *string { return &c.SlackWorkspaceId },
	"slackChannelId":     func(c *Config) *string { return &c.SlackChannelId },
}

// OverrideKeys lists the context keys Load reads, for documentation and tests.
func OverrideKeys() []string {
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	return keys
}

// Load returns the stage's config with context overrides applied, or every problem found, each naming the
// stage, the field or context key, the bad value and what is allowed.
func Load(stage string, lookup Lookup) (*Config, error) {
	apply, ok := stageDefaults[stage]
	if !ok {
		return nil, &FieldError{Stage: stage, Field: "stage", Value: stage,
			Allowed: "one of " + strings.Join(Stages(), ", ")}
	}
	c := defaults(stage)
	apply(&c)
	for key, field := range overrides {
		if v, ok := lookup(stage + "." + key); ok {
			*field(&c) = v
		} else if v, ok := lookup(key); ok {
			*field(&c) = v
		}
	}
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &c, nil
}

// LoadAll loads the named stages and joins all their problems into one error.
func LoadAll(stages []string, lookup Lookup) ([]*Config, error) {
	var (
		configs []*Config
		errs    []error
	)
	for _, s := range stages {
		c, err := Load(s, lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		configs = append(configs, c)
	}
	return configs, errors.Join(errs...)
}

// FieldError is one invalid config value.
type FieldError struct {
	Stage, Field, Value, Allowed string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("stage %q: %s = %q is invalid: want %s", e.Stage, e.Field, e.Value, e.Allowed)
}
