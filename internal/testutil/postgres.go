// Package testutil has helpers shared by the test suites.
package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns the DSN of a fresh, empty database on the test
// PostgreSQL server (ARGUS_TEST_POSTGRES_DSN, which `make test` sets after
// starting scripts/testpg.sh). The database is dropped when the test ends.
// Without the variable the test is skipped, unless ARGUS_REQUIRE_POSTGRES=1
// (set by `make test` and CI), where a missing server fails the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ARGUS_TEST_POSTGRES_DSN")
	if base == "" {
		if os.Getenv("ARGUS_REQUIRE_POSTGRES") == "1" {
			t.Fatal("ARGUS_TEST_POSTGRES_DSN is not set but ARGUS_REQUIRE_POSTGRES=1; run scripts/testpg.sh start")
		}
		t.Skip("PostgreSQL tests need ARGUS_TEST_POSTGRES_DSN (make test sets it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL %q: %v", base, err)
	}
	defer conn.Close(ctx)
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	name := "argus_t_" + hex.EncodeToString(buf)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
