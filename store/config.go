package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Drivers accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DefaultSQLitePath is where the collector keeps its database unless told otherwise.
const DefaultSQLitePath = ".argus/traces.db"

// Defaults applied by Open when the Config leaves a value zero.
const (
	DefaultBusyTimeout = 5 * time.Second
	defaultSQLiteReads = 4
	defaultPGConns     = 10
)

// MaxLimit is the largest page a List call returns; larger limits are
// rejected rather than silently capped.
const MaxLimit = 1000

// Config selects and tunes a database.
type Config struct {
	Driver string // sqlite | postgres
	Path   string // sqlite file
	DSN    string // postgres connection string (URL or key=value)
	// BusyTimeout is how long a SQLite writer waits for a lock held by
	// another connection or process (0 = DefaultBusyTimeout).
	BusyTimeout time.Duration
	// MaxConns bounds the connections: the SQLite reader pool (the writer is
	// always one connection) or the PostgreSQL pool (0 = a default).
	MaxConns int
	// ReadOnly opens an existing SQLite file for reading only (no WAL switch,
	// no write probe), so readers such as the CLI work on read-only copies,
	// e.g. a CI artifact. Writes then fail. Ignored for PostgreSQL.
	ReadOnly bool
}

// Validate reports every bad key at once, each error naming its key.
func (c Config) Validate() error {
	var errs []error
	switch c.Driver {
	case DriverSQLite:
		if c.Path == "" {
			errs = append(errs, errors.New(`path: required for driver "sqlite"`))
		} else if strings.ContainsAny(c.Path, "?#") {
			// The SQLite DSN is "<path>?<options>": a '?' or '#' in the
			// path would be read as options.
			errs = append(errs, fmt.Errorf("path: %q must not contain '?' or '#'", c.Path))
		}
		if c.DSN != "" {
			errs = append(errs, errors.New(`dsn: only used with driver "postgres"`))
		}
	case DriverPostgres:
		if c.DSN == "" {
			errs = append(errs, errors.New(`dsn: required for driver "postgres"`))
		}
		if c.Path != "" {
			errs = append(errs, errors.New(`path: only used with driver "sqlite"`))
		}
	case "":
		errs = append(errs, errors.New(`driver: required ("sqlite" or "postgres")`))
	default:
		errs = append(errs, fmt.Errorf(`driver: unknown driver %q (want "sqlite" or "postgres")`, c.Driver))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("busy_timeout: must not be negative, got %s", c.BusyTimeout))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max_conns: must not be negative, got %d", c.MaxConns))
	}
	return errors.Join(errs...)
}

// Open connects to the database described by cfg and checks that it can be
// written. It does not create the schema: call Store.Migrate.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage: invalid config: %w", err)
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Driver == DriverSQLite {
		return openSQLite(ctx, cfg)
	}
	return openPostgres(ctx, cfg)
}
