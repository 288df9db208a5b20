// Package audit is the Go client of the Argus audit-log API (the argusapi
// collector extension): services log audit events without ever blocking
// or failing on the audit service.
//
//	client := audit.NewClient(os.Getenv("ARGUS_API_URL"), audit.WithAuthToken(token))
//	defer client.Close(context.Background())
//	client.LogEvent(ctx, &audit.AuditLogRequest{Status: audit.StatusSuccess, ...})
package audit

import (
	"context"
	"sync/atomic"
)

// Auditor logs audit events. Implementations must be safe for concurrent
// use; tests substitute their own (see README.md, MockAuditor).
type Auditor interface {
	// LogEvent queues event for delivery and reports whether it was
	// queued. It never blocks and never fails the caller.
	LogEvent(ctx context.Context, event *AuditLogRequest) bool
	// IsEnabled reports whether events are delivered anywhere.
	IsEnabled() bool
	// Close delivers what is queued, within ctx, and stops.
	Close(ctx context.Context) error
}

type holder struct{ a Auditor }

var global atomic.Pointer[holder]

// InitializeGlobalAudit sets the Auditor used by LogAuditEvent (nil unsets
// it). Call it once at startup.
func InitializeGlobalAudit(a Auditor) {
	if a == nil {
		global.Store(nil)
		return
	}
	global.Store(&holder{a})
}

// GlobalAuditor returns the Auditor set by InitializeGlobalAudit, or nil.
func GlobalAuditor() Auditor {
	if h := global.Load(); h != nil {
		return h.a
	}
	return nil
}

// LogAuditEvent logs event with the global Auditor; without one it does
// nothing and returns false.
func LogAuditEvent(ctx context.Context, event *AuditLogRequest) bool {
	if a := GlobalAuditor(); a != nil {
		return a.LogEvent(ctx, event)
	}
	return false
}
