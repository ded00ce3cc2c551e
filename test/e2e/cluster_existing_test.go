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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// existingCluster runs the suite against the cluster of KUBECONFIG, where
// real kubelets run real pods. The operator must be installed there (make
// deploy, or the OLM bundle) with cert-manager and the documentation's demo
// ClusterIssuer; pods use the image E2E_POD_IMAGE (default busybox).
type existingCluster struct {
	cfg        *rest.Config
	cl         client.Client
	cs         kubernetes.Interface
	kubeconfig string
}

func (c *existingCluster) Config() *rest.Config  { return c.cfg }
func (c *existingCluster) Client() client.Client { return c.cl }
func (c *existingCluster) Kubeconfig() string    { return c.kubeconfig }

func (c *existingCluster) Mount(ctx context.Context, pod *corev1.Pod) (svidVolume, error) {
	pod = pod.DeepCopy()
	image := os.Getenv("E2E_POD_IMAGE")
	if image == "" {
		image = "busybox:1.36"
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Image = image
		pod.Spec.Containers[i].Command = []string{"sleep", "1000000"}
	}
	if err := c.cl.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		if err := c.cl.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return nil, err
		}
		if pod.Status.Phase == corev1.PodRunning {
			return &existingVolume{c: c, pod: pod}, nil
		}
		// kubelet reports a failed publish as a FailedMount event with the
		// driver's message.
		events, err := c.cs.CoreV1().Events(pod.Namespace).List(ctx, fieldSelectorFor(pod))
		if err == nil {
			for _, e := range events.Items {
				if e.Reason == "FailedMount" {
					_ = c.cl.Delete(context.WithoutCancel(ctx), pod)
					return nil, errors.New(e.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pod %s/%s did not start: %w", pod.Namespace, pod.Name, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

type existingVolume struct {
	c   *existingCluster
	pod *corev1.Pod
}

func (v *existingVolume) Pod() *corev1.Pod { return v.pod }

// mountPath is where the pod's container mounts the CSI volume.
func (v *existingVolume) mountPath() string {
	for _, vol := range v.pod.Spec.Volumes {
		if vol.CSI == nil {
			continue
		}
		for _, m := range v.pod.Spec.Containers[0].VolumeMounts {
			if m.Name == vol.Name {
				return m.MountPath
			}
		}
	}
	return ""
}

func (v *existingVolume) exec(ctx context.Context, cmd ...string) (string, error) {
	req := v.c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(v.pod.Namespace).Name(v.pod.Name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: v.pod.Spec.Containers[0].Name, Command: cmd, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(v.c.cfg, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return "", fmt.Errorf("%s in pod %s: %w: %s", strings.Join(cmd, " "), v.pod.Name, err, stderr.String())
	}
	return stdout.String(), nil
}

func (v *existingVolume) ReadFile(ctx context.Context, name string) ([]byte, error) {
	out, err := v.exec(ctx, "cat", path.Join(v.mountPath(), name))
	return []byte(out), err
}

func (v *existingVolume) Stat(ctx context.Context, name string) (fs.FileMode, uint32, uint32, error) {
	out, err := v.exec(ctx, "stat", "-L", "-c", "%a %u %g", path.Join(v.mountPath(), name))
	if err != nil {
		return 0, 0, 0, err
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("unexpected stat output %q", out)
	}
	mode, err1 := strconv.ParseUint(f[0], 8, 32)
	uid, err2 := strconv.ParseUint(f[1], 10, 32)
	gid, err3 := strconv.ParseUint(f[2], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, fmt.Errorf("unexpected stat output %q: %w", out, err)
	}
	return fs.FileMode(mode), uint32(uid), uint32(gid), nil
}

func (v *existingVolume) Names(ctx context.Context) ([]string, error) {
	out, err := v.exec(ctx, "ls", v.mountPath())
	return strings.Fields(out), err
}

func (v *existingVolume) Unmount(ctx context.Context) error {
	if err := v.c.cl.Delete(ctx, v.pod); err != nil {
		return client.IgnoreNotFound(err)
	}
	for {
		err := v.c.cl.Get(ctx, client.ObjectKeyFromObject(v.pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s was not deleted: %w", v.pod.Namespace, v.pod.Name, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
