package store

import (
	"errors"
	"fmt"
)

// ErrInvalidArgument marks a bad filter or bad rows given to the store
// (unknown severity, negative limit, invalid JSON, missing id, a time out
// of range...). Such errors are permanent: retrying the same call cannot
// succeed.
var ErrInvalidArgument = errors.New("invalid argument")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("storage: %w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
