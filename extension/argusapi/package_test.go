package argusapi

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running, as the
// collector's generated tests do.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
