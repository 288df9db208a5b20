package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// FileStorage is a storage extension keeping each client's keys in one JSON
// file of Dir, rewritten atomically on every change and read again for
// every Batch: a small stand-in for the contrib file_storage extension
// (not a dependency of this module), whose data survives a new instance
// the way a restarted process finds it.
type FileStorage struct {
	component.StartFunc
	component.ShutdownFunc
	Dir string
}

// GetClient implements storage.Extension.
func (f *FileStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	return &fileClient{path: filepath.Join(f.Dir, kind.String()+"_"+id.Type().String()+"_"+id.Name()+"_"+name+".json")}, nil
}

type fileClient struct {
	mu     sync.Mutex
	path   string
	closed bool
}

func (c *fileClient) load() (map[string][]byte, error) {
	m := map[string][]byte{}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(b, &m)
}

func (c *fileClient) store(m map[string][]byte) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.path)
}

func (c *fileClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *fileClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *fileClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *fileClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("client closed")
	}
	m, err := c.load()
	if err != nil {
		return err
	}
	dirty := false
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = m[op.Key]
		case storage.Set:
			m[op.Key] = append([]byte(nil), op.Value...)
			dirty = true
		case storage.Delete:
			delete(m, op.Key)
			dirty = true
		}
	}
	if dirty {
		return c.store(m)
	}
	return nil
}

func (c *fileClient) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
