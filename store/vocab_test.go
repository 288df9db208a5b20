package store

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/vocab"
)

// TestVocabularyIsTheSchema holds the CHECK constraints of both drivers'
// migrations to internal/vocab: every `column IN ('...')` constraint on a
// vocabulary column lists exactly the vocabulary's words, and each of them
// is there. A new word needs a migration that changes the constraint.
func TestVocabularyIsTheSchema(t *testing.T) {
	want := map[string][]string{
		"traces.status":       vocab.Statuses,
		"detections.layer":    vocab.Layers,
		"detections.severity": vocab.Severities,
	}
	table := regexp.MustCompile(`(?is)^\s*(?:CREATE TABLE(?: IF NOT EXISTS)?|ALTER TABLE)\s+(\w+)`)
	check := regexp.MustCompile(`(?is)CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\)`)
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		found := map[string][][]string{}
		for _, m := range migrations {
			stmts := m.sqlite
			if driver == DriverPostgres {
				stmts = m.postgres
			}
			for _, stmt := range stmts {
				tm := table.FindStringSubmatch(stmt)
				for _, cm := range check.FindAllStringSubmatch(stmt, -1) {
					if tm == nil {
						t.Fatalf("%s migration %d: a CHECK outside CREATE/ALTER TABLE: %s", driver, m.version, stmt)
					}
					var words []string
					for _, w := range strings.Split(cm[2], ",") {
						words = append(words, strings.Trim(strings.TrimSpace(w), "'"))
					}
					col := strings.ToLower(tm[1] + "." + cm[1])
					found[col] = append(found[col], words)
				}
			}
		}
		for col, words := range want {
			if len(found[col]) == 0 {
				t.Errorf("%s: no CHECK (%s IN (...)) in the migrations", driver, col)
			}
			for _, got := range found[col] {
				if !slices.Equal(got, words) {
					t.Errorf("%s: CHECK on %s lists %q, internal/vocab %q", driver, col, got, words)
				}
			}
		}
	}
}
