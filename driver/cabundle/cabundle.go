/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package cabundle delivers the CA bundle the driver writes into every volume.
// File follows a file that the operator mounts from a ConfigMap: kubelet
// replaces such a file by swapping a symlink in its directory, so File
// watches the directory, not only the file. Memory is an in-memory source for
// tests.
package cabundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/broadcast"
)

// Source gives the current CA bundle and tells when it changes.
type Source interface {
	// Bundle returns the current PEM bundle; nil when there is none (no file,
	// or not read yet).
	Bundle() []byte
	// Subscribe returns a channel that receives a value, without blocking
	// the source (notifications coalesce), every time the bundle changes.
	Subscribe() <-chan struct{}
}

var (
	_ Source = &File{}
	_ Source = &Memory{}
)

// broadcaster holds the bundle; nil and empty differ (no file vs. an empty
// one).
type broadcaster struct {
	value *broadcast.Value[[]byte]
}

func newBroadcaster() broadcaster {
	return broadcaster{value: broadcast.New(nil, func(a, b []byte) bool {
		return bytes.Equal(a, b) && (a == nil) == (b == nil)
	})}
}

func (b *broadcaster) Bundle() []byte { return b.value.Get() }

func (b *broadcaster) Subscribe() <-chan struct{} { return b.value.Subscribe() }

// set stores bundle and reports whether it changed, notifying subscribers
// when it did.
func (b *broadcaster) set(bundle []byte) bool { return b.value.Set(bundle) }

// Memory is a Source whose bundle is set by the caller.
type Memory struct{ broadcaster }

// NewMemory returns a Memory source holding bundle (nil for none).
func NewMemory(bundle []byte) *Memory {
	m := &Memory{broadcaster: newBroadcaster()}
	m.set(bundle)
	return m
}

// Set replaces the bundle.
func (m *Memory) Set(bundle []byte) { m.set(bundle) }

// File is a Source that reads a file and follows its changes.
type File struct {
	broadcaster
	path   string
	resync time.Duration
	loaded chan struct{}
	once   sync.Once
}

// NewFile returns a File source for path. Call Run.
func NewFile(path string) *File {
	return &File{broadcaster: newBroadcaster(), path: path, resync: time.Minute, loaded: make(chan struct{})}
}

// Loaded is closed after the first read of the file, found or not.
func (f *File) Loaded() <-chan struct{} { return f.loaded }

// Run reads the file and re-reads it whenever its directory changes (and,
// as a safety net for missed events, every minute) until ctx is done.
func (f *File) Run(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithValues("caBundleFile", f.path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("failed to watch CA bundle file %q: %w", f.path, err)
	}
	defer w.Close()
	dir := filepath.Dir(f.path)
	// The directory may appear later (the volume is mounted by kubelet before
	// the container starts, so normally it exists).
	watching := w.Add(dir) == nil
	f.reload(log)
	ticker := time.NewTicker(f.resync)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return errors.New("the CA bundle file watcher stopped")
			}
			f.reload(log)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("the CA bundle file watcher stopped")
			}
			log.Error(err, "error watching the CA bundle file; it is re-read every minute")
		case <-ticker.C:
			if !watching {
				watching = w.Add(dir) == nil
			}
			f.reload(log)
		}
	}
}

func (f *File) reload(log logr.Logger) {
	defer f.once.Do(func() { close(f.loaded) })
	data, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if f.set(nil) {
			log.Info("the CA bundle file does not exist; volumes get no CA file until it does")
		}
		return
	case err != nil:
		// Keep the last good bundle.
		log.Error(err, "failed to read the CA bundle file; keeping the previous bundle")
		return
	case len(bytes.TrimSpace(data)) == 0:
		// A ConfigMap update in progress; keep the last good bundle.
		return
	}
	if f.set(data) {
		sum := sha256.Sum256(data)
		log.Info("loaded the CA bundle", "sha256", hex.EncodeToString(sum[:]))
	}
}
