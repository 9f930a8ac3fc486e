package docsection

import "testing"

func TestReplace(t *testing.T) {
	got, err := Replace("intro\n<!-- b -->\nold\n<!-- e -->\nrest\n", "<!-- b -->", "<!-- e -->", "new\n")
	if want := "intro\n<!-- b -->\nnew\n<!-- e -->\nrest\n"; err != nil || got != want {
		t.Errorf("got %q (%v), want %q", got, err, want)
	}
	for _, doc := range []string{"no markers", "<!-- e --> before <!-- b -->"} {
		if _, err := Replace(doc, "<!-- b -->", "<!-- e -->", "x\n"); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
}
