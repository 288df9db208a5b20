package argusdetector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/detect"
)

// baselineKey is the storage key of the serialized baselines.
const baselineKey = "argus_baselines"

// baselineStore owns the statistical baselines and, when a storage
// extension is configured, restores them at Start, saves them every
// save_interval and once more at Shutdown.
type baselineStore struct {
	p      *argusProcessor
	base   *detect.Baselines
	client storage.Client // nil: memory only

	stopSaver chan struct{}
	saverDone chan struct{}
	stopOnce  sync.Once
}

func startBaselines(ctx context.Context, host component.Host, p *argusProcessor) (*baselineStore, error) {
	cfg := p.cfg.Baselines
	bs := &baselineStore{p: p, base: detect.NewBaselines(cfg.Window, cfg.MaxKeys)}
	if cfg.Storage == nil {
		return bs, nil
	}
	ext, ok := host.GetExtensions()[*cfg.Storage]
	if !ok {
		return nil, fmt.Errorf("argusdetector: baselines.storage: extension %q not found", cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("argusdetector: baselines.storage: extension %q is not a storage extension", cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, p.set.ID, "")
	if err != nil {
		return nil, fmt.Errorf("argusdetector: baselines.storage: get client from %q: %w", cfg.Storage, err)
	}
	bs.client = client

	// A missing or unreadable snapshot is not fatal: detection starts from
	// empty baselines, as on a first start, and the failure is counted.
	data, err := client.Get(ctx, baselineKey)
	if err == nil && data != nil {
		err = bs.base.Restore(data)
	}
	if err != nil {
		p.tel.BaselineErrors.Add(ctx, 1, opAttr(opRestore))
		p.set.Logger.Warn("could not restore baselines; starting empty", zap.Error(err))
	}

	bs.stopSaver = make(chan struct{})
	bs.saverDone = make(chan struct{})
	go bs.saveLoop(cfg.SaveInterval)
	return bs, nil
}

// The operation attribute of baseline_errors and wal_write_errors.
const (
	opRestore = "restore"
	opSave    = "save"
	opAppend  = "append"
	opDelete  = "delete"
)

func opAttr(op string) metric.AddOption {
	return metric.WithAttributes(attribute.String("operation", op))
}

// analyze runs detection against the baselines (which it also updates).
func (bs *baselineStore) analyze(run *agentrun.Run, cfg *detect.Config) detect.Result {
	return detect.Analyze(run, cfg, bs.base)
}

func (bs *baselineStore) saveLoop(every time.Duration) {
	defer close(bs.saverDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			_ = bs.save(ctx)
			cancel()
		case <-bs.stopSaver:
			return
		}
	}
}

func (bs *baselineStore) save(ctx context.Context) error {
	data, err := bs.base.Snapshot()
	if err == nil {
		err = bs.client.Set(ctx, baselineKey, data)
	}
	if err != nil {
		bs.p.tel.BaselineErrors.Add(context.Background(), 1, opAttr(opSave))
		bs.p.logRarely("could not save baselines", zap.Error(err))
		return fmt.Errorf("argusdetector: save baselines: %w", err)
	}
	return nil
}

// stop ends the save loop, saves once more and closes the client.
func (bs *baselineStore) stop(ctx context.Context) error {
	if bs == nil || bs.client == nil {
		return nil
	}
	var errs []error
	bs.stopOnce.Do(func() {
		close(bs.stopSaver)
		<-bs.saverDone
		errs = append(errs, bs.save(ctx), bs.client.Close(ctx))
	})
	return errors.Join(errs...)
}
