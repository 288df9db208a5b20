package report_test

import (
	"context"
	"testing"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

// BenchmarkBuildPageLongRun: the first and the last page of a 100,000-step
// run (the last page folds every output before it into the merged state),
// on SQLite and PostgreSQL.
func BenchmarkBuildPageLongRun(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{{"sqlite", reporttest.SQLite}, {"postgres", reporttest.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			st, _ := db.open(b)
			reporttest.Seed(b, st, reporttest.Long(100_000, 600))
			ctx := context.Background()
			for _, c := range []struct {
				name  string
				after int
			}{{"first", 0}, {"last", 99_900}} {
				b.Run(c.name, func(b *testing.B) {
					for range b.N {
						if _, err := report.BuildPage(ctx, st, reporttest.LongID, store.StepWindow{After: c.after}, report.Options{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
