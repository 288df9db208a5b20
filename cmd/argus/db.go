package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// dbOpts are the database flags shared by every command.
type dbOpts struct {
	path, dsn       string
	pathSet, dsnSet bool
}

func (o *dbOpts) register(fs *flag.FlagSet) {
	fs.Func("db", "SQLite database file (default "+store.DefaultSQLitePath+")", func(v string) error {
		if v == "" {
			return errors.New("empty path")
		}
		o.path, o.pathSet = v, true
		return nil
	})
	fs.Func("dsn", "PostgreSQL connection string (default $ARGUS_DSN)", func(v string) error {
		if v == "" {
			return errors.New("empty DSN")
		}
		o.dsn, o.dsnSet = v, true
		return nil
	})
}

// openTimeout bounds connecting, so an unreachable server fails in one
// clear line instead of hanging a CI job.
const openTimeout = 15 * time.Second

// open connects to the store the flags and environment name: --dsn, then an
// explicit --db, then $ARGUS_DSN, then the default SQLite file. A missing
// SQLite file is an error: reading must never create an empty database.
// where describes the database for messages (never the DSN, which may hold
// a password).
func (c *cli) open(ctx context.Context) (st store.Store, where string, err error) {
	o := c.db
	if o.pathSet && o.dsnSet {
		return nil, "", usagef("--db and --dsn are exclusive: give one database")
	}
	// Read-only: the CLI works on read-only copies (CI artifacts) and never
	// switches a file's journal mode behind the collector's back.
	cfg := store.Config{Driver: store.DriverSQLite, Path: store.DefaultSQLitePath, ReadOnly: true}
	switch {
	case o.dsnSet:
		cfg = store.Config{Driver: store.DriverPostgres, DSN: o.dsn}
	case o.pathSet:
		cfg.Path = o.path
	case c.env.getenv("ARGUS_DSN") != "":
		cfg = store.Config{Driver: store.DriverPostgres, DSN: c.env.getenv("ARGUS_DSN")}
	}
	if cfg.Driver == store.DriverSQLite {
		where = cfg.Path
		fi, err := os.Stat(cfg.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, where, fmt.Errorf("no database at %s (the collector creates it on its first run; or pass --db PATH or --dsn)", cfg.Path)
		case err != nil:
			return nil, where, fmt.Errorf("cannot read database %s: %v", cfg.Path, errors.Unwrap(err))
		case fi.IsDir():
			return nil, where, fmt.Errorf("%s is a directory, not a database file", cfg.Path)
		}
	} else {
		where = "the PostgreSQL database"
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	st, err = store.Open(octx, cfg)
	if err != nil {
		return nil, where, fmt.Errorf("cannot open %s: %v", where, err)
	}
	return st, where, nil
}
