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

// Package env starts a real Kubernetes control plane for tests: etcd and
// kube-apiserver built from source into bin/ by hack/build-controlplane.sh,
// run by controller-runtime's envtest, with our CRDs and cert-manager's CRDs
// installed. When USE_EXISTING_CLUSTER=true it uses the cluster of KUBECONFIG
// instead.
package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// Scheme knows the built-in kinds, cert-manager's kinds and ours.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(cmapi.AddToScheme(Scheme))
	utilruntime.Must(spiffev1alpha1.AddToScheme(Scheme))
}

// Environment is a running control plane with our CRDs and cert-manager's.
type Environment struct {
	// Config authenticates as a cluster administrator (system:masters).
	Config *rest.Config
	// Client is a client for Config with Scheme.
	Client client.Client
	// RepoRoot is the root of this repository.
	RepoRoot string

	env     *envtest.Environment
	certDir string
}

// Start starts etcd and kube-apiserver and installs the CRDs. It fails with
// an error naming the fix when the control-plane binaries are missing: tests
// never skip for lack of a control plane.
func Start() (*Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cmCRDs, err := CertManagerCRDDir(root)
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		Scheme:                Scheme,
		ErrorIfCRDPathMissing: true,
		// envtest's 20 s defaults were outlasted on a loaded 2-core machine
		// (kube-apiserver starting, or stopping gracefully with watches
		// open): a suite that passed then failed in its cleanup. These bound
		// a hang; they are not a measure of anything.
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		CRDDirectoryPaths: []string{
			filepath.Join(root, "config", "crd", "bases"),
			cmCRDs,
		},
	}
	e := &Environment{RepoRoot: root, env: te}
	if !UseExistingCluster() {
		dir, err := ControlPlaneBinDir(root)
		if err != nil {
			return nil, err
		}
		te.BinaryAssetsDirectory = dir
		// A certificate directory of our own survives an API server
		// restart (envtest's random one does not), so clients keep
		// trusting the server and tokens stay valid: see RestartAPIServer.
		if e.certDir, err = os.MkdirTemp("", "envtest-apiserver-"); err != nil {
			return nil, fmt.Errorf("failed to create the API server's certificate directory: %w", err)
		}
		te.ControlPlane.GetAPIServer().CertDir = e.certDir
	}
	cfg, err := te.Start()
	if err != nil {
		// Start may have started etcd before failing; never leave it behind.
		_ = e.Stop()
		return nil, fmt.Errorf("failed to start the control plane: %w", err)
	}
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: Scheme}); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("failed to build a client: %w", err)
	}
	if err := waitForCRDsServed(e.Client); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// waitForCRDsServed waits until the API server serves the kinds of the
// installed CRDs. envtest waits for discovery, but for a moment after that
// the API server can still answer 503 "Resource kind ... not found" while it
// builds the CRD's handler.
func waitForCRDsServed(cl client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, list := range []client.ObjectList{
		&spiffev1alpha1.SpiffeTrustDomainList{},
		&cmapi.CertificateRequestList{},
		&cmapi.CertificateList{},
		&cmapi.ClusterIssuerList{},
		&cmapi.IssuerList{},
	} {
		for {
			err := cl.List(ctx, list, client.Limit(1))
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the API server does not serve %T: %w", list, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// RestartAPIServer kills kube-apiserver, as a crash or a control-plane node
// failure would, and starts it again on the same address with the same
// certificates; etcd keeps running, so no data is lost. Clients see the API
// server go away and come back. (A graceful stop is not used: with many
// watches open it can outlast envtest's stop timeout.)
func (e *Environment) RestartAPIServer() error {
	if UseExistingCluster() {
		return errors.New("cannot restart the API server of an existing cluster")
	}
	pid, err := findProcess("kube-apiserver", "--cert-dir="+e.certDir)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("failed to kill kube-apiserver (pid %d): %w", pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		// envtest's child: gone from /proc once envtest has reaped it, or a
		// zombie until then, which Stop reaps.
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(data), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver (pid %d) did not die", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	as := e.env.ControlPlane.GetAPIServer()
	if err := as.Stop(); err != nil {
		return fmt.Errorf("failed to clean up after kube-apiserver: %w", err)
	}
	if err := as.Start(); err != nil {
		return fmt.Errorf("failed to start kube-apiserver again: %w", err)
	}
	return nil
}

// findProcess returns the PID of the process named name whose command line
// has the argument arg.
func findProcess(name, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("failed to list processes: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == name && slices.Contains(args, arg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s process with %s", name, arg)
}

// Run starts an Environment for a test and stops it when the test ends,
// failing the test (never skipping it) if the control plane cannot start.
func Run(t testing.TB) *Environment {
	t.Helper()
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("failed to stop the control plane: %v", err)
		}
	})
	return e
}

// Stop stops the control plane and removes its data.
func (e *Environment) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	err := e.env.Stop()
	if e.certDir != "" {
		err = errors.Join(err, os.RemoveAll(e.certDir))
	}
	return err
}

// KubeConfig returns a kubeconfig for the administrator.
func (e *Environment) KubeConfig() []byte { return e.env.KubeConfig }

// UseExistingCluster reports whether tests run against the cluster of
// KUBECONFIG instead of a local control plane.
func UseExistingCluster() bool {
	return strings.EqualFold(os.Getenv("USE_EXISTING_CLUSTER"), "true")
}

// RepoRoot finds the repository root: the nearest directory above the
// working directory whose go.mod declares our module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("failed to get working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/cert-manager/csi-driver-spiffe-operator\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("failed to find the repository root: no go.mod of module github.com/cert-manager/csi-driver-spiffe-operator above the working directory")
		}
		dir = parent
	}
}

// ControlPlaneBinDir returns the directory holding etcd and kube-apiserver:
// $KUBEBUILDER_ASSETS when set, else <repo>/bin. It errors, naming the
// command that builds them, when either is missing.
func ControlPlaneBinDir(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(root, "bin")
	}
	var missing []string
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("control-plane binaries missing from %s: %s; build them with `make controlplane` (hack/build-controlplane.sh), or set KUBEBUILDER_ASSETS", dir, strings.Join(missing, ", "))
	}
	return dir, nil
}

// CertManagerCRDDir returns deploy/crds of the cert-manager module this
// repository builds against, from the module cache.
func CertManagerCRDDir(root string) (string, error) {
	cmd := exec.CommandContext(context.Background(), "go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("failed to locate the cert-manager module: %w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("failed to locate the cert-manager module: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificaterequests.yaml")); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found in %s: %w", dir, err)
	}
	return dir, nil
}
