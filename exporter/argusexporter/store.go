package argusexporter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/storage"
)

// sharedStore is the one database handle of a configured exporter, shared by
// its traces and logs halves (one SQLite writer, one migration, one purge
// loop). It is opened by the first Start and closed by the last Shutdown.
type sharedStore struct {
	store  storage.Store
	refs   int
	cancel context.CancelFunc
	done   chan struct{}
}

var (
	sharedMu     sync.Mutex
	sharedStores = map[*Config]*sharedStore{}
)

// openStore is storage.Open; a variable so tests can count opens.
var openStore = storage.Open

func acquireStore(ctx context.Context, cfg *Config, logger *zap.Logger, tel *telemetry) (*sharedStore, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s := sharedStores[cfg]; s != nil {
		s.refs++
		return s, nil
	}
	// storage.Open creates the SQLite file's directory.
	st, err := cfg.Open(ctx, openStore)
	if err != nil {
		return nil, fmt.Errorf("argus exporter: %w", err)
	}
	s := &sharedStore{store: st, refs: 1}
	if cfg.Retention > 0 {
		loopCtx, cancel := context.WithCancel(context.Background())
		s.cancel, s.done = cancel, make(chan struct{})
		go purgeLoop(loopCtx, s.done, st, cfg.Retention, cfg.RetentionCheckInterval, logger, tel)
	}
	sharedStores[cfg] = s
	return s, nil
}

func releaseStore(cfg *Config, s *sharedStore) error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(sharedStores, cfg)
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return s.store.Close()
}

// purgeLoop deletes traces older than retention, once at start and then
// every interval, until ctx ends.
func purgeLoop(ctx context.Context, done chan struct{}, st storage.Store, retention, interval time.Duration, logger *zap.Logger, tel *telemetry) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := st.Purge(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("argus exporter: retention purge failed", zap.Error(err))
		case n > 0:
			tel.tracesPurged.Add(ctx, n)
			logger.Debug("argus exporter: retention purge", zap.Int64("traces", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
