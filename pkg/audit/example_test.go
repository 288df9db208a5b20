package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/arguslabs/argus-otel/pkg/audit"
)

// A service logs an audit event for each invoice update. The client never
// blocks the handler and never fails it when the audit service is down.
func Example() {
	// Empty ARGUS_API_URL: a disabled client, LogEvent does nothing.
	client := audit.NewClient(os.Getenv("ARGUS_API_URL"),
		audit.WithAuthToken(os.Getenv("ARGUS_API_TOKEN")))
	defer func() {
		// Deliver what is queued before the process exits.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	}()

	http.HandleFunc("PUT /invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		// ... update the invoice ...
		client.LogEvent(r.Context(), &audit.AuditLogRequest{
			Status:     audit.StatusSuccess,
			EventType:  "MANAGEMENT_EVENT",
			Action:     "UPDATE",
			ActorType:  "USER",
			ActorID:    r.Header.Get("X-User"),
			TargetType: "RESOURCE",
			TargetID:   r.PathValue("id"),
			Metadata:   map[string]any{"ip": r.RemoteAddr},
		})
		w.WriteHeader(http.StatusNoContent)
	})
}

// MockAuditor records events in tests of code that audits.
type MockAuditor struct {
	mu     sync.Mutex
	Events []audit.AuditLogRequest
}

func (m *MockAuditor) LogEvent(_ context.Context, e *audit.AuditLogRequest) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Events = append(m.Events, *e)
	return true
}

func (m *MockAuditor) IsEnabled() bool             { return true }
func (m *MockAuditor) Close(context.Context) error { return nil }

// The global helper, with a MockAuditor in a test.
func ExampleInitializeGlobalAudit() {
	mock := &MockAuditor{}
	audit.InitializeGlobalAudit(mock)
	defer audit.InitializeGlobalAudit(nil)

	audit.LogAuditEvent(context.Background(), &audit.AuditLogRequest{
		Status: audit.StatusFailure, ActorType: "SERVICE", ActorID: "billing", TargetType: "RESOURCE",
	})
	fmt.Println(len(mock.Events), mock.Events[0].ActorID)
	// Output: 1 billing
}
