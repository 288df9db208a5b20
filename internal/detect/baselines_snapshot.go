package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Baselines kept across restarts: a versioned JSON snapshot.

// snapshotVersion is bumped whenever the snapshot layout changes. Version
// 1 (metric samples only) still restores, with no update shapes.
const snapshotVersion = 2

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
	// Updates is the node's update shape (version 2).
	Updates *snapshotUpdates `json:"updates,omitempty"`
}

type snapshotUpdates struct {
	N              uint32          `json:"n"`
	Empty          uint32          `json:"empty"`
	EmptyRetrieval uint32          `json:"empty_retrieval"`
	Echoes         uint32          `json:"echoes"`
	Fields         []snapshotField `json:"fields"`
}

type snapshotField struct {
	Name   string            `json:"name"`
	Writes uint32            `json:"writes"`
	Empty  uint32            `json:"empty"`
	Types  map[string]uint32 `json:"types"` // by JSON type name
}

func encodeShape(u *updateShape) *snapshotUpdates {
	if u.updates == 0 {
		return nil
	}
	su := &snapshotUpdates{N: u.updates, Empty: u.empty, EmptyRetrieval: u.emptyRetrieval, Echoes: u.echoes, Fields: make([]snapshotField, len(u.fields))}
	for i, f := range u.fields {
		sf := snapshotField{Name: f.name, Writes: f.writes, Empty: f.empty, Types: map[string]uint32{}}
		for t, n := range f.types {
			if n > 0 {
				sf.Types[shapeTypes[t]] = n
			}
		}
		su.Fields[i] = sf
	}
	return su
}

// decodeShape checks a snapshot's update shape: no count may exceed what
// contains it, no field or type may repeat or be unknown.
func decodeShape(su *snapshotUpdates) (updateShape, error) {
	var u updateShape
	if su == nil {
		return u, nil
	}
	if su.Empty > su.N || su.EmptyRetrieval > su.N || su.Echoes > su.N {
		return u, errors.New("more empty or echoed updates than updates")
	}
	if len(su.Fields) > maxShapeFields {
		return u, fmt.Errorf("%d fields, at most %d", len(su.Fields), maxShapeFields)
	}
	u = updateShape{updates: su.N, empty: su.Empty, emptyRetrieval: su.EmptyRetrieval, echoes: su.Echoes, fields: make([]fieldShape, 0, len(su.Fields))}
	for _, sf := range su.Fields {
		if u.field(sf.Name) != nil {
			return u, fmt.Errorf("field %q is duplicated", sf.Name)
		}
		if sf.Writes > su.N || sf.Empty > sf.Writes {
			return u, fmt.Errorf("field %q: counts exceed the updates", sf.Name)
		}
		f := fieldShape{name: sf.Name, writes: sf.Writes, empty: sf.Empty}
		var sum uint64
		for name, n := range sf.Types {
			t := slices.Index(shapeTypes[:], name)
			if t < 0 {
				return u, fmt.Errorf("field %q: unknown type %q", sf.Name, name)
			}
			f.types[t] = n
			sum += uint64(n)
		}
		if sum > uint64(sf.Writes) {
			return u, fmt.Errorf("field %q: more typed writes than writes", sf.Name)
		}
		u.fields = append(u.fields, f)
	}
	return u, nil
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
			Updates:  encodeShape(&k.shape),
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
	if snap.Version != snapshotVersion && snap.Version != 1 {
		return fmt.Errorf("baselines: snapshot version %d, want 1 or %d", snap.Version, snapshotVersion)
	}
	if snap.Keys == nil {
		return errors.New("baselines: snapshot has no keys list")
	}
	seen := make(map[string]bool, len(snap.Keys))
	shapes := make([]updateShape, len(snap.Keys))
	for i, k := range snap.Keys {
		id := baseKeyID(k.Pipeline, k.Node)
		if seen[id] {
			return fmt.Errorf("baselines: snapshot key %d (%q, %q) is duplicated", i, k.Pipeline, k.Node)
		}
		seen[id] = true
		var err error
		if shapes[i], err = decodeShape(k.Updates); err != nil {
			return fmt.Errorf("baselines: snapshot key %d (%q, %q) updates: %w", i, k.Pipeline, k.Node, err)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready()
	b.keys = make(map[string]*baseKey, min(len(snap.Keys), b.maxKeys))
	b.lru.next, b.lru.prev = &b.lru, &b.lru
	for i, sk := range snap.Keys {
		k := b.touch(sk.Pipeline, sk.Node)
		for j, samples := range [numMetrics][]uint32{sk.Duration, sk.Tokens, sk.Bytes} {
			for _, v := range samples[max(len(samples)-b.window, 0):] {
				k.series[j].push(v, b.window)
			}
		}
		k.shape = shapes[i]
		k.shape.fit(b.window)
	}
	return nil
}
