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
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

// Memory is an in-memory store for tests, like csi-lib's storage.MemoryFS,
// but whose WriteFiles replaces a volume's whole file set as Filesystem does
// (MemoryFS only adds files), and which records the group each volume's
// files would be owned by.
type Memory struct {
	mu      sync.Mutex
	volumes map[string]*memoryVolume
}

type memoryVolume struct {
	meta  metadata.Metadata
	files map[string][]byte
	group *int64
}

var _ Interface = &Memory{}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{volumes: map[string]*memoryVolume{}}
}

// PathForVolume returns the volume ID: there is no directory to mount.
func (m *Memory) PathForVolume(volumeID string) string { return volumeID }

// RemoveVolume forgets the volume.
func (m *Memory) RemoveVolume(volumeID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.volumes, volumeID)
	return nil
}

// ListVolumes returns the IDs of the stored volumes.
func (m *Memory) ListVolumes() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.volumes))
	for id := range m.volumes {
		ids = append(ids, id)
	}
	return ids, nil
}

// ReadMetadata returns the volume's metadata.
func (m *Memory) ReadMetadata(volumeID string) (metadata.Metadata, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.volumes[volumeID]
	if !ok {
		return metadata.Metadata{}, fmt.Errorf("failed to read metadata of volume %q: %w", volumeID, ErrNotFound)
	}
	return copyMeta(v.meta), nil
}

// WriteMetadata replaces the metadata of an existing volume.
func (m *Memory) WriteMetadata(volumeID string, meta metadata.Metadata) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.volumes[volumeID]
	if !ok {
		return fmt.Errorf("failed to write metadata of volume %q: %w", volumeID, ErrNotFound)
	}
	v.meta = copyMeta(meta)
	return nil
}

// RegisterMetadata stores the metadata of a new volume, or the new volume
// context of a known one, and reports whether it wrote.
func (m *Memory) RegisterMetadata(meta metadata.Metadata) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.volumes[meta.VolumeID]
	if !ok {
		m.volumes[meta.VolumeID] = &memoryVolume{meta: copyMeta(meta)}
		return true, nil
	}
	if apiequality.Semantic.DeepEqual(v.meta.VolumeContext, meta.VolumeContext) {
		return false, nil
	}
	v.meta.VolumeContext = maps.Clone(meta.VolumeContext)
	return true, nil
}

// WriteFiles checks the volume's group as Filesystem does and replaces its
// files.
func (m *Memory) WriteFiles(meta metadata.Metadata, files map[string][]byte) error {
	group, err := volume.FSGroup(meta.VolumeContext)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.volumes[meta.VolumeID]
	if !ok {
		return fmt.Errorf("failed to write files of volume %q: %w", meta.VolumeID, ErrNotFound)
	}
	v.files, v.group = maps.Clone(files), group
	return nil
}

// ReadFiles returns the volume's files.
func (m *Memory) ReadFiles(volumeID string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.volumes[volumeID]
	if !ok || len(v.files) == 0 {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, ErrNotFound)
	}
	return maps.Clone(v.files), nil
}

// Group returns the group the volume's files were last written with.
func (m *Memory) Group(volumeID string) *int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.volumes[volumeID]; ok {
		return v.group
	}
	return nil
}

func copyMeta(meta metadata.Metadata) metadata.Metadata {
	meta.VolumeContext = maps.Clone(meta.VolumeContext)
	if meta.NextIssuanceTime != nil {
		t := *meta.NextIssuanceTime
		meta.NextIssuanceTime = &t
	}
	return meta
}
