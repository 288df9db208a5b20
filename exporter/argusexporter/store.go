package argusexporter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/store"
)

// sharedStore is the one database handle of every exporter writing one
// database: the traces and logs halves of a configured exporter, and also
// several configured exporters on the same SQLite file or PostgreSQL DSN
// (config.yaml ships `argus` for traces and `argus/audit` for logs, which
// differ only in their sending queue). One handle means one SQLite writer
// connection, so the instances never wait on each other's locks or get
// SQLITE_BUSY, one migration and one purge loop. It is opened by the first
// Start and closed by the last Shutdown.
type sharedStore struct {
	key   string
	store store.Store
	refs  int
	// migrated: the schema was created or migrated by an instance with
	// create_schema set; a later one with it set need not do it again.
	migrated bool
	// retention of the purge loop (0: none runs).
	retention time.Duration
	cancel    context.CancelFunc
	done      chan struct{}
}

var (
	sharedMu     sync.Mutex
	sharedStores = map[string]*sharedStore{}
)

// openStore is store.Open; a variable so tests can count opens.
var openStore = store.Open

// storeKey names the database cfg writes.
func storeKey(cfg *Config) string { return cfg.Key() }

func acquireStore(ctx context.Context, cfg *Config, logger *zap.Logger, tel *telemetry) (*sharedStore, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	key := storeKey(cfg)
	s := sharedStores[key]
	if s == nil {
		// store.Open creates the SQLite file's directory.
		st, err := cfg.Open(ctx, openStore)
		if err != nil {
			return nil, fmt.Errorf("argus exporter: %w", err)
		}
		s = &sharedStore{key: key, store: st, migrated: cfg.CreateSchema}
		sharedStores[key] = s
	} else {
		if cfg.Retention > 0 && s.retention > 0 && cfg.Retention != s.retention {
			return nil, fmt.Errorf("argus exporter: retention: %s differs from the %s of another argus exporter on the same database; set it on one of them only", cfg.Retention, s.retention)
		}
		if cfg.CreateSchema && !s.migrated {
			if err := s.store.Migrate(ctx); err != nil {
				return nil, fmt.Errorf("argus exporter: create schema: %w", err)
			}
			s.migrated = true
		}
	}
	s.refs++
	if cfg.Retention > 0 && s.retention == 0 {
		loopCtx, cancel := context.WithCancel(context.Background())
		s.retention, s.cancel, s.done = cfg.Retention, cancel, make(chan struct{})
		go purgeLoop(loopCtx, s.done, s.store, cfg.Retention, cfg.RetentionCheckInterval, logger, tel)
	}
	return s, nil
}

// releaseStore drops one reference (cfg is the releasing instance's; the
// store knows its database).
func releaseStore(_ *Config, s *sharedStore) error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(sharedStores, s.key)
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return s.store.Close()
}

// purgeLoop deletes traces older than retention, once at start and then
// every interval, until ctx ends.
func purgeLoop(ctx context.Context, done chan struct{}, st store.Store, retention, interval time.Duration, logger *zap.Logger, tel *telemetry) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := st.Purge(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("argus exporter: retention purge failed", zap.Error(err))
		case n > 0:
			tel.TracesPurged.Add(ctx, n)
			logger.Debug("argus exporter: retention purge", zap.Int64("traces", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
