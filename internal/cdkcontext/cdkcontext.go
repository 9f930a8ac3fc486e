// Package cdkcontext reads cdk.json's context, so tests build the app with the same feature flags as
// `cdk synth` (several flags change what constructs render, e.g. how access-log buckets are granted).
package cdkcontext

import (
	"encoding/json"
	"os"
)

// Load returns the "context" object of the cdk.json at path.
func Load(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, err
	}
	return file.Context, nil
}
