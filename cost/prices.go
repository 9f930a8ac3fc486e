package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultPriceFile is the dated us-east-1 price table, relative to the module root.
const DefaultPriceFile = "pricing/prices-us-east-1.json"

// Prices is the price table: every numeric key of the JSON file, with the unit in the key's name.
type Prices struct {
	AsOf     string
	Region   string
	Currency string
	Path     string
	values   map[string]float64
	used     map[string]bool
}

// LoadPrices reads a price table such as pricing/prices-us-east-1.json.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrices(data, path)
}

// ParsePrices parses the JSON of a price table; name is used in messages only.
func ParsePrices(data []byte, name string) (*Prices, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("price table %s: %w", name, err)
	}
	p := &Prices{Path: name, values: map[string]float64{}, used: map[string]bool{}}
	for k, v := range raw {
		var f float64
		if json.Unmarshal(v, &f) == nil {
			p.values[k] = f
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			switch k {
			case "as_of":
				p.AsOf = s
			case "region":
				p.Region = s
			case "currency":
				p.Currency = s
			}
		}
	}
	if p.AsOf == "" {
		return nil, fmt.Errorf("price table %s: no as_of date", name)
	}
	return p, nil
}

// Get returns the price under key; ok is false when the table has no such key.
func (p *Prices) Get(key string) (float64, bool) {
	v, ok := p.values[key]
	if ok {
		p.used[key] = true
	}
	return v, ok
}

// Used lists the keys read so far, sorted.
func (p *Prices) Used() []string {
	keys := make([]string, 0, len(p.used))
	for k := range p.used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FindPriceFile looks for rel in dir and its parents (so the command works from any directory of the repo).
func FindPriceFile(dir, rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return rel, nil
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(d, rel)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("price table %s not found in %s or its parents", rel, dir)
		}
		d = parent
	}
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// keyPart turns "db.t4g.micro" into "db_t4g_micro", for price keys built from template values.
func keyPart(s string) string {
	return strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(s), "_"), "_")
}
