package testutil

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// CollectorBinary is the otelcol-argus built by `make build`, which make test
// passes in ARGUS_BINARY. Without it the test skips (what names what needs
// the binary), unless the run demands the full suite (ARGUS_REQUIRE_POSTGRES=1,
// as make test sets): then it fails.
func CollectorBinary(t testing.TB, what string) string {
	t.Helper()
	bin := os.Getenv("ARGUS_BINARY")
	if bin == "" {
		if os.Getenv("ARGUS_REQUIRE_POSTGRES") == "1" {
			t.Fatal("ARGUS_BINARY is not set: run `make test`, which builds otelcol-argus first")
		}
		t.Skip(what + " need ARGUS_BINARY (make test builds the collector and sets it)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("ARGUS_BINARY %s: %v", bin, err)
	}
	return bin
}

// FreePort is a loopback TCP port nothing listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
