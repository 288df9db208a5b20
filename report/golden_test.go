package report_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the SQLite fixtures")

// fixedClock is the "generated at" of every golden report.
var fixedClock = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

var goldenFormats = []struct {
	f   report.Format
	ext string
}{
	{report.FormatJSON, "json"},
	{report.FormatHTML, "html"},
	{report.FormatMarkdown, "md"},
	{report.FormatText, "txt"},
}

// TestGolden renders every fixture in every format from a real SQLite and
// a real PostgreSQL store: both must produce byte-identical output, equal
// to the golden files (go test ./report -run TestGolden -update rewrites
// them from SQLite; PostgreSQL is then compared to the same files).
func TestGolden(t *testing.T) {
	stores := []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{
		{"sqlite", reporttest.SQLite},
		{"postgres", reporttest.Postgres},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st, _ := s.open(t)
			reporttest.Seed(t, st)
			for _, fx := range reporttest.Names {
				full, err := st.GetTrace(context.Background(), fx.ID)
				if err != nil {
					t.Fatalf("GetTrace(%s): %v", fx.Name, err)
				}
				for _, gf := range goldenFormats {
					var buf bytes.Buffer
					if err := report.Render(&buf, full, gf.f, report.Options{GeneratedAt: fixedClock}); err != nil {
						t.Fatalf("render %s as %s: %v", fx.Name, gf.f, err)
					}
					path := filepath.Join("testdata", "golden", fx.Name+"."+gf.ext)
					if *update && s.name == "sqlite" {
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("read golden (run with -update to create): %v", err)
					}
					if !bytes.Equal(buf.Bytes(), want) {
						t.Errorf("%s: %s output differs from %s:\n%s", s.name, gf.f, path, testutil.FirstDiff(string(want), buf.String()))
					}
				}
			}
		})
	}
}
