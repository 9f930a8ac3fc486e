package cfnpath

import "testing"

func TestGet(t *testing.T) {
	v := map[string]any{"Properties": map[string]any{"DesiredCount": 2.0, "List": []any{1.0}}}
	if got := Get(v, "Properties.DesiredCount"); got != 2.0 {
		t.Errorf("DesiredCount = %v", got)
	}
	for _, missing := range []string{"Properties.Nope", "Nope.DesiredCount", "Properties.List.0", "Properties.DesiredCount.X"} {
		if got := Get(v, missing); got != nil {
			t.Errorf("%s = %v, want nil", missing, got)
		}
	}
}
