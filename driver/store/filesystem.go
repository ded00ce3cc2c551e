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
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cert-manager/csi-lib/metadata"
	"github.com/cert-manager/csi-lib/storage"
	atomicwriter "github.com/cert-manager/csi-lib/third_party/util"
	"golang.org/x/sys/unix"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/mount-utils"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/volume"
)

const (
	// TmpfsDir is the directory under the data root where the tmpfs is
	// mounted, as in csi-lib.
	TmpfsDir = "inmemfs"

	metadataFile = "metadata.json"
	dataDir      = "data"
	// atomicDataLink is the atomic writer's link to the current files.
	atomicDataLink = "..data"
)

// tmpfsOptions harden the tmpfs: nothing on it is a device or executable,
// and only root may list it.
var tmpfsOptions = []string{"nosuid", "nodev", "noexec", "mode=0700"}

// Filesystem stores volumes on a tmpfs.
type Filesystem struct {
	root string
}

var _ Interface = &Filesystem{}

// OpenFilesystem returns a Filesystem under dataRoot/inmemfs. Unless that
// directory is already on a tmpfs (a previous run of the driver mounted it,
// and volumes live there), it mounts a new tmpfs there with m; it never
// unmounts it, because pods keep using their volumes while the driver
// restarts. mounted reports whether it mounted one now.
func OpenFilesystem(dataRoot string, m mount.Interface) (fsys *Filesystem, mounted bool, err error) {
	if !filepath.IsAbs(dataRoot) {
		return nil, false, fmt.Errorf("failed to open store: data root %q is not an absolute path", dataRoot)
	}
	root := filepath.Join(dataRoot, TmpfsDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, false, fmt.Errorf("failed to create data directory %q: %w", root, err)
	}
	onTmpfs, err := IsTmpfs(root)
	if err != nil {
		return nil, false, err
	}
	if !onTmpfs {
		if err := m.Mount("tmpfs", root, "tmpfs", tmpfsOptions); err != nil {
			return nil, false, fmt.Errorf("failed to mount a tmpfs on %q: %w", root, err)
		}
		mounted = true
	}
	return &Filesystem{root: root}, mounted, nil
}

// IsTmpfs reports whether path is on a tmpfs.
func IsTmpfs(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("failed to statfs %q: %w", path, err)
	}
	return st.Type == unix.TMPFS_MAGIC, nil
}

// Root returns the directory holding the volumes (the tmpfs).
func (f *Filesystem) Root() string { return f.root }

// PathForVolume returns the volume's data directory, the source of the bind
// mount into the pod.
func (f *Filesystem) PathForVolume(volumeID string) string {
	return filepath.Join(f.root, volumeID, dataDir)
}

// RemoveVolume deletes the volume's metadata and files.
func (f *Filesystem) RemoveVolume(volumeID string) error {
	if err := ValidateVolumeID(volumeID); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(f.root, volumeID)); err != nil {
		return fmt.Errorf("failed to remove volume %q: %w", volumeID, err)
	}
	return nil
}

// ListVolumes returns the IDs of the volumes that have metadata. Directories
// without metadata are left-overs of an interrupted publish and are removed,
// as csi-lib does.
func (f *Filesystem) ListVolumes() ([]string, error) {
	entries, err := os.ReadDir(f.root)
	if err != nil {
		return nil, fmt.Errorf("failed to list volumes in %q: %w", f.root, err)
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() || ValidateVolumeID(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(f.root, e.Name(), metadataFile)); errors.Is(err, fs.ErrNotExist) {
			if err := f.RemoveVolume(e.Name()); err != nil {
				return nil, err
			}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("failed to stat metadata of volume %q: %w", e.Name(), err)
		}
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// ReadMetadata reads the volume's metadata; the error wraps
// storage.ErrNotFound when there is none.
func (f *Filesystem) ReadMetadata(volumeID string) (metadata.Metadata, error) {
	if err := ValidateVolumeID(volumeID); err != nil {
		return metadata.Metadata{}, err
	}
	data, err := os.ReadFile(filepath.Join(f.root, volumeID, metadataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return metadata.Metadata{}, fmt.Errorf("failed to read metadata of volume %q: %w", volumeID, storage.ErrNotFound)
	}
	if err != nil {
		return metadata.Metadata{}, fmt.Errorf("failed to read metadata of volume %q: %w", volumeID, err)
	}
	var meta metadata.Metadata
	if err := json.Unmarshal(data, &meta); err != nil {
		return metadata.Metadata{}, fmt.Errorf("failed to read metadata of volume %q: %w: %v", volumeID, storage.ErrInvalidJSON, err)
	}
	return meta, nil
}

// WriteMetadata replaces the volume's metadata atomically (it holds the
// pod's token: mode 0600). The volume's directory must exist.
func (f *Filesystem) WriteMetadata(volumeID string, meta metadata.Metadata) error {
	if err := ValidateVolumeID(volumeID); err != nil {
		return err
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("failed to encode metadata of volume %q: %w", volumeID, err)
	}
	dir := filepath.Join(f.root, volumeID)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("failed to write metadata of volume %q: %w", volumeID, storage.ErrNotFound)
	}
	return writeFileAtomic(filepath.Join(dir, metadataFile), data, 0o600)
}

// RegisterMetadata creates the volume's directories and writes its metadata
// if there is none or its volume context changed; it reports whether it
// wrote.
func (f *Filesystem) RegisterMetadata(meta metadata.Metadata) (bool, error) {
	existing, err := f.ReadMetadata(meta.VolumeID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if err := f.ensureVolumeDirectory(meta.VolumeID); err != nil {
			return false, err
		}
		return true, f.WriteMetadata(meta.VolumeID, meta)
	case err != nil:
		return false, err
	case apiequality.Semantic.DeepEqual(existing.VolumeContext, meta.VolumeContext):
		return false, nil
	}
	existing.VolumeContext = meta.VolumeContext
	return true, f.WriteMetadata(meta.VolumeID, existing)
}

func (f *Filesystem) ensureVolumeDirectory(volumeID string) error {
	if err := ValidateVolumeID(volumeID); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(f.root, volumeID), 0o700); err != nil {
		return fmt.Errorf("failed to create directory of volume %q: %w", volumeID, err)
	}
	// Owner and group may read and enter the data directory; its group is
	// set on every write.
	if err := os.MkdirAll(f.PathForVolume(volumeID), 0o550); err != nil {
		return fmt.Errorf("failed to create data directory of volume %q: %w", volumeID, err)
	}
	return nil
}

// WriteFiles atomically replaces the volume's files with files (mode 0440),
// owned by root and by the group of the volume (see volume.FSGroup): a reader
// sees either all old or all new files, never a certificate with another
// key. Files not in files are removed.
func (f *Filesystem) WriteFiles(meta metadata.Metadata, files map[string][]byte) error {
	if err := f.ensureVolumeDirectory(meta.VolumeID); err != nil {
		return err
	}
	group, err := volume.FSGroup(meta.VolumeContext)
	if err != nil {
		return err
	}
	gid := 0
	if group != nil {
		gid = int(*group)
	}
	dir := f.PathForVolume(meta.VolumeID)
	if err := os.Chown(dir, 0, gid); err != nil {
		return fmt.Errorf("failed to set group %d on data directory of volume %q: %w", gid, meta.VolumeID, err)
	}
	if err := os.Chmod(dir, 0o550); err != nil {
		return fmt.Errorf("failed to set mode of data directory of volume %q: %w", meta.VolumeID, err)
	}
	w, err := atomicwriter.NewAtomicWriter(dir, "volume "+meta.VolumeID)
	if err != nil {
		return fmt.Errorf("failed to open data directory of volume %q: %w", meta.VolumeID, err)
	}
	payload := make(map[string]atomicwriter.FileProjection, len(files))
	for name, data := range files {
		payload[name] = atomicwriter.FileProjection{Data: data, Mode: FileMode}
	}
	setGroup := func(tsDir string) error {
		for name := range files {
			if err := os.Chown(filepath.Join(dir, tsDir, name), 0, gid); err != nil {
				return err
			}
		}
		return nil
	}
	if err := w.Write(payload, setGroup); err != nil {
		return fmt.Errorf("failed to write files of volume %q: %w", meta.VolumeID, err)
	}
	return nil
}

// ReadFiles returns the files currently published in the volume.
func (f *Filesystem) ReadFiles(volumeID string) (map[string][]byte, error) {
	if err := ValidateVolumeID(volumeID); err != nil {
		return nil, err
	}
	current := filepath.Join(f.PathForVolume(volumeID), atomicDataLink)
	entries, err := os.ReadDir(current)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, err)
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(current, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("failed to read file %q of volume %q: %w", e.Name(), volumeID, err)
		}
		files[e.Name()] = data
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("failed to read files of volume %q: %w", volumeID, storage.ErrNotFound)
	}
	return files, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("failed to create temporary file for %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to write %q: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to set mode of %q: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to close %q: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to rename %q to %q: %w", tmp.Name(), path, err)
	}
	return nil
}
