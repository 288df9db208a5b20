package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEListsEveryRule keeps the README's rule table true: every
// registered rule id appears there with its default severity.
func TestREADMEListsEveryRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, id := range RuleIDs() {
		row := "| `" + id + "` | " + Rules[id].Severity + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
