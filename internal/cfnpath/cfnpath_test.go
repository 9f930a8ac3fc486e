package cfnpath

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestGet(t *testing.T) {
	v := map[string]any{"Properties": map[string]any{"DesiredCount": 2.0, "List": []any{1.0}}}
	for path, want := range map[string]any{"Properties.DesiredCount": 2.0, "Properties.List.0": 1.0} {
		if got := Get(v, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for _, missing := range []string{"Properties.Nope", "Nope.DesiredCount", "Properties.List.1", "Properties.DesiredCount.X"} {
		if got := Get(v, missing); got != nil {
			t.Errorf("%s = %v, want nil", missing, got)
		}
	}
}

func TestWalkNamesTheStepItCannotTake(t *testing.T) {
	// GIVEN template data WHEN a dotted path is walked THEN map keys and list indexes are followed, and a missing
	// step or a value of the wrong shape is reported with where it stopped instead of panicking
	var data any
	if err := json.Unmarshal([]byte(`{"Properties":{"Origins":[{"Id":"alb","Port":80}],"Name":"x"}}`), &data); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{"": data, "Properties.Origins.0.Id": "alb", "Properties.Origins.0.Port": float64(80)} {
		if got, err := Walk(data, path); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v (%v), want %v", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"Properties.Origin":        `no key "Origin" at Properties (keys [Name Origins])`,
		"Properties.Origins.1":     `no index "1" at Properties.Origins (a list of 1)`,
		"Properties.Origins.x":     `no index "x" at Properties.Origins (a list of 1)`,
		"Properties.Name.First":    `want a map or a list at Properties.Name, got string`,
		"Resources":                `no key "Resources" at the top (keys [Properties])`,
		"Properties.Origins.0.Id.": `want a map or a list at Properties.Origins.0.Id, got string`,
	} {
		if _, err := Walk(data, path); err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %s", path, err, want)
		}
	}
}
