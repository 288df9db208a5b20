package testutil

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// ChromiumPath is the browser the HTML tests load pages in (Debian's
// chromium, which make test-deps installs).
const ChromiumPath = "/usr/bin/chromium"

// RequireChromium skips the test when the browser is absent, unless
// ARGUS_REQUIRE_CHROMIUM=1 (set by make test): then it fails.
func RequireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("ARGUS_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("%s is missing but ARGUS_REQUIRE_CHROMIUM=1 (make test-deps installs it)", ChromiumPath)
		}
		t.Skipf("%s not installed; set ARGUS_REQUIRE_CHROMIUM=1 to make this a failure", ChromiumPath)
	}
}

// RunChromium runs headless Chromium with args (e.g. --dump-dom URL,
// --screenshot=FILE URL) in a fresh profile and returns its stdout and its
// log, where the page's console messages are.
func RunChromium(t testing.TB, args ...string) (stdout, log string) {
	t.Helper()
	RequireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		// The browser's own autofill service queries a Google server for
		// pages with forms, under the page's network key: not the page's.
		"--disable-features=AutofillServerCommunication",
	}
	cmd := exec.CommandContext(ctx, ChromiumPath, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(errb.String(), 2000))
	}
	return out.String(), errb.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
