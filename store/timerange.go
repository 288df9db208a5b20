package store

import (
	"fmt"
	"time"
)

// The one range of times the store accepts from clients (span times,
// audit timestamps): both databases hold them, RFC 3339 writes them with a
// four-digit year (so SQLite's text sorts in time order and JSON encodes
// them), and OTLP's nanoseconds since 1970 reach them. A time outside is
// refused as out of range, never stored, so no stored value can make a
// read fail.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
)

// CheckTime returns an error naming what and the range when t is outside
// [MinTime, MaxTime].
func CheckTime(what string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("%s %s is out of range (%s to %s)", what, t.UTC().Format(time.RFC3339Nano),
			MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339Nano))
	}
	return nil
}

// checkTime is CheckTime as an ErrInvalidArgument.
func checkTime(what string, t time.Time) error {
	if err := CheckTime(what, t); err != nil {
		return invalidf("%v", err)
	}
	return nil
}

// checkSetTime is checkTime for a time that may be unset (zero: the store
// picks one, or keeps it unset).
func checkSetTime(what string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return checkTime(what, t)
}

// clampTime keeps a stored time inside the range on read: a row written
// before the range was enforced (or by hand) still reads and encodes.
func clampTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Before(MinTime):
		return MinTime
	case t.After(MaxTime):
		return MaxTime
	}
	return t
}
