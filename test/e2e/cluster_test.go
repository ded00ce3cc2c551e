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

package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/harness"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// cluster is where the suite runs: the local control plane with the node
// and cert-manager stand-ins (the default), or an existing cluster with real
// nodes, kubelets and cert-manager (USE_EXISTING_CLUSTER=true).
type cluster interface {
	// Config and Client authenticate as a cluster administrator.
	Config() *rest.Config
	Client() client.Client
	// Kubeconfig is an administrator kubeconfig file, for kubectl.
	Kubeconfig() string
	// Mount runs the pod on a node and returns its SPIFFE volume once the
	// volume is mounted, or the error kubelet got from the driver.
	Mount(ctx context.Context, pod *corev1.Pod) (svidVolume, error)
}

// svidVolume is a pod's mounted SPIFFE volume, as the pod sees it.
type svidVolume interface {
	Pod() *corev1.Pod
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// Stat returns a file's permission bits, owner and group.
	Stat(ctx context.Context, name string) (mode fs.FileMode, uid, gid uint32, err error)
	// Names lists the files of the volume.
	Names(ctx context.Context) ([]string, error)
	// Unmount deletes the pod, which unmounts the volume.
	Unmount(ctx context.Context) error
}

// localCluster is the harness: a local control plane and one node stand-in
// whose kubelet stand-in publishes volumes through the driver's socket.
type localCluster struct {
	h        *harness.Harness
	kubelets map[string]*kubelet.Kubelet
}

func (c *localCluster) Config() *rest.Config  { return c.h.Env.Config }
func (c *localCluster) Client() client.Client { return c.h.Env.Client }
func (c *localCluster) Kubeconfig() string    { return c.h.Kubeconfig }

func (c *localCluster) kubelet(ctx context.Context, driver string) (*kubelet.Kubelet, error) {
	if k, ok := c.kubelets[driver]; ok {
		return k, nil
	}
	k, err := c.h.Kubelet(ctx, driver)
	if err != nil {
		return nil, err
	}
	c.kubelets[driver] = k
	return k, nil
}

func (c *localCluster) Mount(ctx context.Context, pod *corev1.Pod) (svidVolume, error) {
	driver := ""
	for _, v := range pod.Spec.Volumes {
		if v.CSI != nil {
			driver = v.CSI.Driver
		}
	}
	if driver == "" {
		return nil, fmt.Errorf("pod %s has no CSI volume", pod.Name)
	}
	k, err := c.kubelet(ctx, driver)
	if err != nil {
		return nil, err
	}
	pod = pod.DeepCopy()
	pod.Spec.NodeName = harness.NodeName
	if err := c.h.Env.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	v, err := k.Publish(ctx, pod)
	if err != nil {
		// kubelet unpublishes a volume whose publish failed.
		if v != nil {
			_ = v.Unpublish(ctx)
		}
		_ = c.h.Env.Client.Delete(ctx, pod)
		return nil, err
	}
	return &localVolume{v: v, cl: c.h.Env.Client}, nil
}

func (c *localCluster) close() {
	for _, k := range c.kubelets {
		_ = k.UnpublishAll(context.Background())
		_ = k.Close()
	}
}

type localVolume struct {
	v  *kubelet.Volume
	cl client.Client
}

func (l *localVolume) Pod() *corev1.Pod { return l.v.Pod }

func (l *localVolume) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(l.v.File(name))
}

func (l *localVolume) Stat(_ context.Context, name string) (fs.FileMode, uint32, uint32, error) {
	fi, err := os.Stat(l.v.File(name))
	if err != nil {
		return 0, 0, 0, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().Perm(), st.Uid, st.Gid, nil
}

func (l *localVolume) Names(_ context.Context) ([]string, error) {
	entries, err := os.ReadDir(l.v.TargetPath)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if name := e.Name(); name[0] != '.' {
			names = append(names, name)
		}
	}
	return names, nil
}

func (l *localVolume) Unmount(ctx context.Context) error {
	if err := l.v.Unpublish(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(l.v.TargetPath, "tls.crt")); err == nil {
		return fmt.Errorf("%s still holds tls.crt after unpublish", l.v.TargetPath)
	}
	return client.IgnoreNotFound(l.cl.Delete(ctx, l.v.Pod))
}
