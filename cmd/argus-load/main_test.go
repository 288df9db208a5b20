package main

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-endpoint", "10.1.2.3:4317"}, // never a non-loopback target
		{"-workers", "0"},
		{"-nodes-min", "9", "-nodes-max", "3"},
		{"-no-such-flag"},
		{"run", "extra-argument"},
		{"drain"}, // -target is required
		{"drain", "-driver", "mysql", "-target", "x"},
	} {
		err := run(context.Background(), args, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
	if err := run(context.Background(), []string{"report", "-dir", t.TempDir()}, io.Discard); err == nil {
		t.Error("report over an empty directory must fail")
	}
}
