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

package cabundle

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	atomicwriter "github.com/cert-manager/csi-lib/third_party/util"
)

// File follows a file that is replaced the way kubelet updates a ConfigMap
// volume: a new timestamped directory and an atomic swap of the ..data
// symlink in the directory, the file itself being a symlink into ..data.
func TestFileFollowsConfigMapUpdates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := atomicwriter.NewAtomicWriter(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	write := func(data string) {
		t.Helper()
		if err := w.Write(map[string]atomicwriter.FileProjection{"ca.crt": {Data: []byte(data), Mode: 0o644}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	write("bundle-1")
	f := NewFile(filepath.Join(dir, "ca.crt"))
	changed := f.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-f.Loaded()
	if got := string(f.Bundle()); got != "bundle-1" {
		t.Fatalf("Bundle = %q, want bundle-1", got)
	}
	<-changed // the first load

	for _, next := range []string{"bundle-2", "bundle-3"} {
		write(next)
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("no change notified for %s", next)
		}
		if got := string(f.Bundle()); got != next {
			t.Fatalf("Bundle = %q, want %s", got, next)
		}
	}
	// An empty file (an update in progress) keeps the last good bundle.
	write("")
	time.Sleep(100 * time.Millisecond)
	if got := string(f.Bundle()); got != "bundle-3" {
		t.Errorf("Bundle after an empty write = %q, want bundle-3", got)
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	m := NewMemory(nil)
	ch := m.Subscribe()
	m.Set([]byte("a"))
	select {
	case <-ch:
	default:
		t.Fatal("no notification")
	}
	m.Set([]byte("a"))
	select {
	case <-ch:
		t.Fatal("notified without a change")
	default:
	}
	if string(m.Bundle()) != "a" {
		t.Errorf("Bundle = %q", m.Bundle())
	}
}
