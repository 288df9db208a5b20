package detect

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Baselines kept across restarts: a versioned JSON snapshot.

// snapshotVersion is bumped whenever the snapshot layout changes.
const snapshotVersion = 1

type snapshot struct {
	Version int           `json:"version"`
	Window  int           `json:"window"`
	Keys    []snapshotKey `json:"keys"` // least recently observed first
}

type snapshotKey struct {
	Pipeline string   `json:"pipeline"`
	Node     string   `json:"node"`
	Duration []uint32 `json:"duration_ms"` // oldest first
	Tokens   []uint32 `json:"tokens"`
	Bytes    []uint32 `json:"output_bytes"`
}

// Snapshot encodes the baselines as versioned JSON, for Restore after a
// restart.
func (b *Baselines) Snapshot() ([]byte, error) {
	b.mu.Lock()
	b.ready()
	snap := snapshot{Version: snapshotVersion, Window: b.window, Keys: make([]snapshotKey, 0, len(b.keys))}
	for k := b.lru.prev; k != &b.lru; k = k.prev {
		snap.Keys = append(snap.Keys, snapshotKey{
			Pipeline: k.pipeline, Node: k.node,
			Duration: k.series[metricDuration].ordered(make([]uint32, 0, len(k.series[metricDuration].buf))),
			Tokens:   k.series[metricTokens].ordered(make([]uint32, 0, len(k.series[metricTokens].buf))),
			Bytes:    k.series[metricBytes].ordered(make([]uint32, 0, len(k.series[metricBytes].buf))),
		})
	}
	b.mu.Unlock()
	return json.Marshal(snap)
}

// Restore replaces the baselines with a snapshot. On any error the current
// baselines are left untouched. Series longer than this window keep their
// most recent samples; keys beyond maxKeys keep the most recently observed
// (the dropped ones count as evictions).
func (b *Baselines) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("baselines: decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("baselines: snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	if snap.Keys == nil {
		return errors.New("baselines: snapshot has no keys list")
	}
	seen := make(map[string]bool, len(snap.Keys))
	for i, k := range snap.Keys {
		id := baseKeyID(k.Pipeline, k.Node)
		if seen[id] {
			return fmt.Errorf("baselines: snapshot key %d (%q, %q) is duplicated", i, k.Pipeline, k.Node)
		}
		seen[id] = true
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready()
	b.keys = make(map[string]*baseKey, min(len(snap.Keys), b.maxKeys))
	b.lru.next, b.lru.prev = &b.lru, &b.lru
	for _, sk := range snap.Keys {
		k := b.touch(sk.Pipeline, sk.Node)
		for j, samples := range [numMetrics][]uint32{sk.Duration, sk.Tokens, sk.Bytes} {
			for _, v := range samples[max(len(samples)-b.window, 0):] {
				k.series[j].push(v, b.window)
			}
		}
	}
	return nil
}
