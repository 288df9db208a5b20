package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestIsDuplicate(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		row := func(id string) AuditLog {
			return AuditLog{ID: id, Timestamp: t0, Status: "SUCCESS", ActorType: "user", ActorID: "x", TargetType: "report"}
		}
		if err := s.InsertAuditLogs(ctx, []AuditLog{row("dup-1")}); err != nil {
			t.Fatal(err)
		}
		err := s.InsertAuditLogs(ctx, []AuditLog{row("dup-1")})
		if !IsDuplicate(err) || !IsPermanent(err) {
			t.Errorf("stored id again: err = %v, IsDuplicate = %v, IsPermanent = %v", err, IsDuplicate(err), IsPermanent(err))
		}
		// The same id twice in one call is a duplicate too.
		err = s.InsertAuditLogs(ctx, []AuditLog{row("dup-2"), row("dup-2")})
		if !IsDuplicate(err) {
			t.Errorf("id twice in one call: err = %v, IsDuplicate = false", err)
		}
		// Other refused data is permanent but not a duplicate.
		err = s.InsertAuditLogs(ctx, []AuditLog{{ID: "bad", Timestamp: t0, Status: "SUCCESS",
			ActorType: "user", ActorID: "x", TargetType: "report", Metadata: []byte(`[1]`)}})
		if err == nil || IsDuplicate(err) {
			t.Errorf("invalid metadata: err = %v, IsDuplicate = %v", err, IsDuplicate(err))
		}
	})
	for _, err := range []error{nil, errors.New("duplicate key"), fmt.Errorf("wrapped: %w", ErrInvalidArgument)} {
		if IsDuplicate(err) {
			t.Errorf("IsDuplicate(%v) = true", err)
		}
	}
}
