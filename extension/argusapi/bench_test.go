package argusapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
)

// BenchmarkCreateAuditLog: one POST /api/audit-logs per op, through the
// real server on SQLite (b.N records stored).
func BenchmarkCreateAuditLog(b *testing.B) {
	s := benchServer(b)
	body, _ := json.Marshal(event())
	b.ResetTimer()
	for range b.N {
		res, err := http.Post(s.base+"/api/audit-logs", "application/json", bytes.NewReader(body))
		if err != nil || res.StatusCode != http.StatusCreated {
			b.Fatalf("POST: %v %v", err, res)
		}
		res.Body.Close()
	}
}

// BenchmarkBulkAuditLogs: one bulk of 100 per op; records/s is the rate.
func BenchmarkBulkAuditLogs(b *testing.B) {
	s := benchServer(b)
	items := make([]map[string]any, 100)
	for i := range items {
		items[i] = event("actorId", fmt.Sprint("bench-", i))
	}
	body, _ := json.Marshal(items)
	b.ResetTimer()
	for range b.N {
		res, err := http.Post(s.base+"/api/audit-logs/bulk", "application/json", bytes.NewReader(body))
		if err != nil || res.StatusCode != http.StatusCreated {
			b.Fatalf("POST: %v %v", err, res)
		}
		res.Body.Close()
	}
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkListAuditLogs: a page of 100 out of 5000 stored, filtered.
func BenchmarkListAuditLogs(b *testing.B) {
	s := benchServer(b)
	for i := range 50 {
		items := make([]map[string]any, 100)
		for j := range items {
			items[j] = event("actorId", fmt.Sprint("a", j%7), "traceId", fmt.Sprint("t", i))
		}
		if r := s.post("/api/audit-logs/bulk", items); r.status != http.StatusCreated {
			b.Fatalf("seed: %s", r.body)
		}
	}
	b.ResetTimer()
	for range b.N {
		res, err := http.Get(s.base + "/api/audit-logs?actorId=a3&status=SUCCESS&limit=100")
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET: %v %v", err, res)
		}
		res.Body.Close()
	}
}

func benchServer(b *testing.B) *server {
	cfg := testConfig()
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	return startWith(b, cfg, newHost(nil), extensiontest.NewNopSettings(metadata.Type))
}
