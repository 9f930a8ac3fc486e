package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AccountStage is the name under which stacks outside any Stage (e.g. h2o-ci) are priced.
const AccountStage = "account"

// Assembly is a synthesized cloud assembly: the stacks of each stage.
type Assembly struct {
	Dir    string
	Stages map[string][]*Stack // stage name -> stacks, in manifest order
}

// StageNames lists the stages in a stable order: named stages sorted, the account entry last.
func (a *Assembly) StageNames() []string {
	var names []string
	for n := range a.Stages {
		if n != AccountStage {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if _, ok := a.Stages[AccountStage]; ok {
		names = append(names, AccountStage)
	}
	return names
}

type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		DisplayName string `json:"displayName"`
		Properties  struct {
			DirectoryName string `json:"directoryName"`
			TemplateFile  string `json:"templateFile"`
			StackName     string `json:"stackName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// LoadAssembly reads dir/manifest.json: nested assemblies (cdk:cloud-assembly, one per Stage, named
// assembly-<stage>) become stages; stacks at the top level go to the AccountStage entry. Without a manifest,
// every *.template.json of dir is read as the account entry.
func LoadAssembly(dir string) (*Assembly, error) {
	a := &Assembly{Dir: dir, Stages: map[string][]*Stack{}}
	if err := a.load(dir, ""); err != nil {
		return nil, err
	}
	if len(a.Stages) == 0 {
		return nil, fmt.Errorf("%s: no stack templates found", dir)
	}
	return a, nil
}

func (a *Assembly) load(dir, stage string) error {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if os.IsNotExist(err) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
		sort.Strings(files)
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".template.json")
			if err := a.addStack(orAccount(stage), f, name, name); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	for _, id := range sortedKeys(m.Artifacts) {
		art := m.Artifacts[id]
		switch art.Type {
		case "cdk:cloud-assembly":
			sub := art.Properties.DirectoryName
			if sub == "" {
				continue
			}
			name := strings.TrimPrefix(filepath.Base(sub), "assembly-")
			if stage != "" { // a Stage inside a Stage prices with its outer stage
				name = stage
			}
			if err := a.load(filepath.Join(dir, sub), name); err != nil {
				return err
			}
		case "aws:cloudformation:stack":
			tf := art.Properties.TemplateFile
			if tf == "" {
				continue
			}
			name := art.Properties.StackName
			if name == "" {
				name = id
			}
			display := art.DisplayName
			if display == "" {
				display = id
			}
			if err := a.addStack(orAccount(stage), filepath.Join(dir, tf), name, display); err != nil {
				return err
			}
		}
	}
	return nil
}

func orAccount(stage string) string {
	if stage == "" {
		return AccountStage
	}
	return stage
}

func (a *Assembly) addStack(stage, file, name, display string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	st := &Stack{Name: name, DisplayName: display, TemplateFile: file}
	if err := ParseTemplate(data, st); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	a.Stages[stage] = append(a.Stages[stage], st)
	return nil
}
