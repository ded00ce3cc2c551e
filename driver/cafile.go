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

package driver

import (
	"bytes"
	"fmt"
)

// updateCAFiles rewrites the CA file of every issued volume that does not
// hold the current bundle, carrying the certificate and key over unchanged.
func (m *manager) updateCAFiles() {
	cfg, err := m.currentConfig()
	if err != nil {
		return
	}
	name, bundle := m.caFile(cfg)
	for _, v := range m.list() {
		if err := m.updateCAFile(v, name, bundle); err != nil {
			m.metrics.failures.WithLabelValues(ReasonWriteFailed).Inc()
			m.logFor(v).Error(err, "failed to update the CA file of a volume")
		}
	}
}

func (m *manager) updateCAFile(v *managedVolume, name string, bundle []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed || !v.issued {
		return nil
	}
	meta, err := m.store.ReadMetadata(v.id)
	if err != nil {
		return err
	}
	old := meta.VolumeContext[CAFileKey]
	files, err := m.store.ReadFiles(v.id)
	if err != nil {
		return err
	}
	if old == name && (name == "" || bytes.Equal(files[name], bundle)) {
		return nil
	}
	if old != "" {
		delete(files, old)
	}
	delete(meta.VolumeContext, CAFileKey)
	if name != "" {
		if _, clash := files[name]; clash {
			return fmt.Errorf("the CA file name %q is the name of another file of the volume; the CA file follows at the next renewal", name)
		}
		files[name] = bundle
		meta.VolumeContext[CAFileKey] = name
	}
	if err := m.store.WriteFiles(meta, files); err != nil {
		return err
	}
	if err := m.store.WriteMetadata(v.id, meta); err != nil {
		return err
	}
	m.metrics.caFileUpdates.Inc()
	m.logFor(v).V(1).Info("updated the CA file", "file", name)
	return nil
}
