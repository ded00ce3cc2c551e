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

// Package harness runs the whole product on a local control plane, the way
// a user meets it: the operator installed from config/default, the driver and
// approver it deploys, a cert-manager stand-in (identity stamping and a CA
// ClusterIssuer that signs approved requests), and a node stand-in that runs
// the workloads as local processes. `make demo` and the end-to-end suite use
// it.
package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// OperatorNamespace is where config/default installs the operator.
const OperatorNamespace = "csi-driver-spiffe-system"

// KeepWorkDirEnv, set to "true", keeps the work directory (logs of every
// process, kubeconfigs) after Stop, for debugging a failed run.
const KeepWorkDirEnv = "CSI_DRIVER_SPIFFE_KEEP_WORKDIR"

// NodeName is the name of the stand-in node.
const NodeName = "node-1"

// Options configure a Harness.
type Options struct {
	// WorkDir holds everything the harness writes. Default: a new directory
	// under /var/tmp (not /tmp: the driver refuses a data root there),
	// with a short name: unix socket paths under it must stay within 107
	// bytes.
	WorkDir string
	// KeepWorkDir keeps a WorkDir the harness created after Stop, for
	// debugging (a WorkDir given by the caller is never removed).
	KeepWorkDir bool
	// Binary is a prebuilt csi-driver-spiffe; default: $CSI_DRIVER_SPIFFE_BINARY,
	// else built into WorkDir.
	Binary string
	// Log receives progress lines. Default: discarded.
	Log io.Writer
}

// Harness is the running product on a local control plane.
type Harness struct {
	Env *env.Environment
	// Node runs the operator, driver and approver workloads.
	Node *Node
	// WorkDir holds kubeconfigs, logs, the node's directories.
	WorkDir string
	// Kubeconfig is an administrator kubeconfig file.
	Kubeconfig string
	// Binary is the csi-driver-spiffe binary in use.
	Binary string

	opts    Options
	cancel  context.CancelFunc
	stopped chan struct{}
}

// Start brings everything up. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (h *Harness, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if os.Getenv(KeepWorkDirEnv) == "true" {
		opts.KeepWorkDir = true
	}
	h = &Harness{opts: opts, WorkDir: opts.WorkDir, Binary: opts.Binary}
	defer func() {
		if err != nil {
			err = errors.Join(err, h.Stop())
		}
	}()
	if h.WorkDir == "" {
		if h.WorkDir, err = os.MkdirTemp("/var/tmp", "spiffe-"); err != nil {
			return h, fmt.Errorf("failed to create work directory: %w", err)
		}
	}
	root, err := env.RepoRoot()
	if err != nil {
		return h, err
	}
	if h.Binary == "" {
		h.Binary = os.Getenv(process.BinaryEnv)
	}
	if h.Binary == "" {
		// Built into the work directory, so it goes away with it.
		h.progress("building csi-driver-spiffe")
		h.Binary = filepath.Join(h.WorkDir, "bin", "csi-driver-spiffe")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", h.Binary, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return h, fmt.Errorf("failed to build csi-driver-spiffe: %w\n%s", err, out)
		}
	}

	h.progress("starting etcd and kube-apiserver")
	if h.Env, err = env.Start(); err != nil {
		return h, err
	}
	if h.Kubeconfig, err = h.writeAdminKubeconfig(); err != nil {
		return h, err
	}

	h.progress("installing the cert-manager stand-in: identity stamping and the approval check of CertificateRequests")
	if err := certmanager.InstallStandIns(ctx, h.Env.Config, h.Env.Client, env.Scheme); err != nil {
		return h, err
	}
	cm, err := certmanager.NewClient(h.Env.Config)
	if err != nil {
		return h, err
	}

	h.progress("installing the operator: config/default")
	if _, err := kustomize.Apply(ctx, h.Env.Client, filepath.Join(root, "config", "default")); err != nil {
		return h, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.stopped = make(chan struct{})
	h.Node = &Node{
		Name:      NodeName,
		Namespace: OperatorNamespace,
		Binary:    h.Binary,
		WorkDir:   h.WorkDir,
		Env:       h.Env,
		Log:       opts.Log,
	}
	issuers := &certmanager.Issuers{Client: h.Env.Client, CertManager: cm, Log: opts.Log}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.Node.Run(runCtx) }()
	go func() { defer wg.Done(); issuers.Run(runCtx) }()
	go func() { wg.Wait(); close(h.stopped) }()
	return h, nil
}

// Kubelet returns a stand-in kubelet of the node, connected to the socket of
// the driver registered as driverName, once that socket exists.
func (h *Harness) Kubelet(ctx context.Context, driverName string) (*kubelet.Kubelet, error) {
	socket := h.Node.HostPath(filepath.Join("/var/lib/kubelet/plugins", driverName, "csi.sock"))
	if err := WaitFor(ctx, 2*time.Minute, "the socket of driver "+driverName, func(context.Context) (bool, error) {
		_, err := os.Stat(socket)
		return err == nil, nil
	}); err != nil {
		return nil, err
	}
	return kubelet.New(ctx, kubelet.Options{
		Endpoint:   "unix://" + socket,
		Client:     h.Env.Client,
		Tokens:     h.Env,
		NodeName:   NodeName,
		PodsDir:    h.Node.HostPath("/var/lib/kubelet/pods"),
		DriverName: driverName,
	})
}

// Stop stops every process, unmounts everything under the work directory,
// stops the control plane, and removes the work directory (unless
// KeepWorkDir).
func (h *Harness) Stop() error {
	var errs []error
	if h.cancel != nil {
		h.cancel()
		<-h.stopped
		h.cancel = nil
	}
	if h.WorkDir != "" {
		errs = append(errs, kubelet.UnmountUnder(h.WorkDir))
	}
	if h.Env != nil {
		errs = append(errs, h.Env.Stop())
		h.Env = nil
	}
	switch {
	case h.WorkDir == "" || h.opts.WorkDir != "":
		// The caller's directory is the caller's to remove.
	case h.opts.KeepWorkDir:
		fmt.Fprintf(h.opts.Log, "kept the work directory %s\n", h.WorkDir)
	default:
		errs = append(errs, os.RemoveAll(h.WorkDir))
	}
	return errors.Join(errs...)
}

func (h *Harness) progress(msg string) {
	fmt.Fprintf(h.opts.Log, "==> %s\n", msg)
}

func (h *Harness) writeAdminKubeconfig() (string, error) {
	path := filepath.Join(h.WorkDir, "kubeconfig")
	if err := os.WriteFile(path, h.Env.KubeConfig(), 0o600); err != nil {
		return "", fmt.Errorf("failed to write kubeconfig: %w", err)
	}
	return path, nil
}

// WaitFor polls cond until it returns true or an error, or timeout passes.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out waiting for %s: %w", what, last)
			}
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PodFromDeployment creates one pod of a Deployment on the node, as the
// Deployment and ReplicaSet controllers and the scheduler would (they do not
// run on the local control plane).
func (h *Harness) PodFromDeployment(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	d := &appsv1.Deployment{}
	if err := h.Env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		return nil, fmt.Errorf("failed to get deployment %s/%s: %w", ns, name, err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: name + "-", Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = NodeName
	if err := h.Env.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create a pod of deployment %s/%s: %w", ns, name, err)
	}
	return pod, nil
}
