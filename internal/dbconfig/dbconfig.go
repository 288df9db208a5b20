// Package dbconfig is the database section of the collector config, shared by
// the argus exporter and the argusapi extension so both read the same keys
// with the same defaults and can point at one store.
package dbconfig

import (
	"context"
	"fmt"
	"path/filepath"

	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/arguslabs/argus-otel/store"
)

// Config selects the database. Components embed it with `mapstructure:",squash"`.
type Config struct {
	// Driver is sqlite (default) or postgres.
	Driver string `mapstructure:"driver"`
	// Path is the SQLite file; its directory is created on open.
	Path string `mapstructure:"path"`
	// DSN is the PostgreSQL connection string (opaque: never printed).
	DSN configopaque.String `mapstructure:"dsn"`
	// CreateSchema creates or migrates the schema on start.
	CreateSchema bool `mapstructure:"create_schema"`
}

// Default is SQLite at .argus/traces.db with schema creation on.
func Default() Config {
	return Config{Driver: store.DriverSQLite, Path: store.DefaultSQLitePath, CreateSchema: true}
}

// Storage is what Open passes to store.Open. Path has a default, so it is
// passed only with sqlite; a dsn given with sqlite is passed on and rejected
// by storage's Validate, as it most likely means a forgotten
// `driver: postgres`. Validate errors name the same keys as this config.
func (c Config) Storage() store.Config {
	sc := store.Config{Driver: c.Driver, DSN: string(c.DSN)}
	if c.Driver != store.DriverPostgres {
		sc.Path = c.Path
	}
	return sc
}

// Open opens the store with open (store.Open, or a test's wrapper) and
// runs the migrations when CreateSchema is set.
func (c Config) Open(ctx context.Context, open func(context.Context, store.Config) (store.Store, error)) (store.Store, error) {
	st, err := open(ctx, c.Storage())
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", c.Driver, err)
	}
	if c.CreateSchema {
		if err := st.Migrate(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("create schema: %w", err)
		}
	}
	return st, nil
}

// Key names the database c writes: the absolute SQLite path (so
// "traces.db" and "./traces.db" are one file), or the PostgreSQL DSN.
// Components that share a database meet by it.
func (c Config) Key() string {
	sc := c.Storage()
	if sc.Driver == store.DriverPostgres {
		return "postgres\x00" + sc.DSN
	}
	path := sc.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return sc.Driver + "\x00" + path
}
