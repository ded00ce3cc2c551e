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

package store

import (
	"fmt"
	"maps"
	"sync"

	"github.com/cert-manager/csi-lib/metadata"
	"github.com/cert-manager/csi-lib/storage"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

// Memory is an in-memory store for tests: csi-lib's storage.MemoryFS, which
// keeps each file (and metadata.json) of a volume in a map, plus the group
// each volume's files would be owned by.
type Memory struct {
	*storage.MemoryFS

	mu     sync.Mutex
	groups map[string]*int64
}

var _ Interface = &Memory{}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{MemoryFS: storage.NewMemoryFS(), groups: map[string]*int64{}}
}

// WriteFiles checks the volume's group as Filesystem does and stores files.
func (m *Memory) WriteFiles(meta metadata.Metadata, files map[string][]byte) error {
	group, err := volume.FSGroup(meta.VolumeContext)
	if err != nil {
		return err
	}
	if err := m.MemoryFS.WriteFiles(meta, files); err != nil {
		return fmt.Errorf("failed to write files of volume %q: %w", meta.VolumeID, err)
	}
	m.mu.Lock()
	m.groups[meta.VolumeID] = group
	m.mu.Unlock()
	return nil
}

// ReadFiles returns the volume's files, without its metadata.
func (m *Memory) ReadFiles(volumeID string) (map[string][]byte, error) {
	all, err := m.MemoryFS.ReadFiles(volumeID)
	if err != nil {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, err)
	}
	files := maps.Clone(all)
	delete(files, metadataFile)
	if len(files) == 0 {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, storage.ErrNotFound)
	}
	return files, nil
}

// Group returns the group the volume's files were last written with.
func (m *Memory) Group(volumeID string) *int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groups[volumeID]
}
