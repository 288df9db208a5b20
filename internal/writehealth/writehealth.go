// Package writehealth shares, inside one collector process, how the write
// path is doing: the exporters record each write to a database (stored,
// failed, rows quarantined), the detector registers its
// write-ahead log (acknowledged spans not stored yet), and the argusapi
// extension's /health reads it all. Components meet by database key
// (dbconfig.Config.Key), as they share the store.
package writehealth

import (
	"sync"
	"time"
)

// Database is how writes to one database have gone since start.
type Database struct {
	mu    sync.Mutex
	state State
}

// State is a snapshot of a Database.
type State struct {
	// Failing: the last write failed (after the last one that worked).
	Failing     bool      `json:"failing"`
	Failures    int64     `json:"failures"`
	Refused     int64     `json:"refusedRows"`
	LastError   string    `json:"lastError,omitempty"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastRefusal time.Time `json:"lastRefusal,omitzero"`
}

var (
	mu        sync.Mutex
	databases = map[string]*Database{}
	backlogs  = map[string]func() Backlog{}
)

// For returns the Database of key, created on first use.
func For(key string) *Database {
	mu.Lock()
	defer mu.Unlock()
	d := databases[key]
	if d == nil {
		d = &Database{}
		databases[key] = d
	}
	return d
}

// Wrote records a write that worked.
func (d *Database) Wrote() {
	d.mu.Lock()
	d.state.Failing = false
	d.state.LastSuccess = time.Now()
	d.mu.Unlock()
}

// Failed records a write that failed as a whole (it is retried, or was
// dropped).
func (d *Database) Failed(err error) {
	d.mu.Lock()
	d.state.Failing = true
	d.state.Failures++
	d.state.LastFailure = time.Now()
	if err != nil {
		d.state.LastError = err.Error()
	}
	d.mu.Unlock()
}

// Refused records n rows the database refused and the quarantine took (the
// rest of their write was stored).
func (d *Database) Refused(n int, err error) {
	if n <= 0 {
		return
	}
	d.mu.Lock()
	d.state.Refused += int64(n)
	d.state.LastRefusal = time.Now()
	if err != nil {
		d.state.LastError = err.Error()
	}
	d.mu.Unlock()
}

// State returns a snapshot.
func (d *Database) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Backlog is what a write-ahead log holds: spans acknowledged to clients
// and not stored yet.
type Backlog struct {
	Records int       `json:"records"`
	Bytes   int64     `json:"bytes"`
	Oldest  time.Time `json:"oldest,omitzero"` // when the oldest record was written
}

// AddBacklog registers a write-ahead log under name until remove is called.
func AddBacklog(name string, f func() Backlog) (remove func()) {
	mu.Lock()
	backlogs[name] = f
	mu.Unlock()
	return func() {
		mu.Lock()
		delete(backlogs, name)
		mu.Unlock()
	}
}

// Backlogs returns the registered write-ahead logs by name.
func Backlogs() map[string]Backlog {
	mu.Lock()
	fs := make(map[string]func() Backlog, len(backlogs))
	for k, f := range backlogs {
		fs[k] = f
	}
	mu.Unlock()
	out := make(map[string]Backlog, len(fs))
	for k, f := range fs {
		out[k] = f()
	}
	return out
}
