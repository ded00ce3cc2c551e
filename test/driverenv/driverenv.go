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

// Package driverenv sets up everything the driver needs on a test control
// plane and runs it as its own process, as its DaemonSet would: a
// SpiffeTrustDomain with a published status.config, the driver's
// ServiceAccount with exactly the RBAC the operator grants it, a stand-in CA
// issuer and approver, a CA bundle file updated the way kubelet updates
// ConfigMap volumes, the driver binary serving on a unix socket with its data
// on a real tmpfs, and a stand-in kubelet connected to it. Integration tests
// and the benchmark command share it.
package driverenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	atomicwriter "github.com/cert-manager/csi-lib/third_party/util"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/driver/registration"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// DriverNamespace holds the driver's ServiceAccounts.
const DriverNamespace = "csi-driver-spiffe"

// Options configure a Fixture. Zero values take the defaults.
type Options struct {
	// Name of the SpiffeTrustDomain. Default a random "td-xxxxx".
	Name string
	// TrustDomain. Default "foo.bar".
	TrustDomain string
	// DriverName. Default spiffe.csi.cert-manager.io.
	DriverName string
	// NodeID. Default "node-1".
	NodeID string
	// IssuerName is the name of the ClusterIssuer the stand-in signer stands
	// for. Default "csi-driver-spiffe-ca".
	IssuerName string
	// CABundle makes the trust domain have a CA bundle, written into a file
	// the driver follows (--ca-bundle-file).
	CABundle bool
	// NoConfig leaves status.config empty.
	NoConfig bool
	// Configure edits the published configuration before it is published.
	Configure func(*spiffev1alpha1.TrustDomainConfig)
	// MaxLifetime caps the lifetime of the certificates the signer signs.
	MaxLifetime time.Duration
	// Decide is the stand-in approver's rule. Default approve all.
	Decide func(cr *cmapi.CertificateRequest) (approve bool, message string)
	// DriverArgs are extra arguments of the driver.
	DriverArgs []string
	// Dir holds the data root, socket, pods directory and CA bundle. It
	// must not be on a tmpfs. Default a new temporary directory.
	Dir string
}

// Fixture is a driver running against a test control plane.
type Fixture struct {
	Env         *env.Environment
	Name        string
	TrustDomain string
	DriverName  string
	NodeID      string
	IssuerRef   cmmeta.IssuerReference
	CA          *certmanager.CA
	Signer      *certmanager.Signer
	Approver    *certmanager.Approver
	Driver      *Driver
	Kubelet     *kubelet.Kubelet
	// Dir, DataRoot, PodsDir, CABundleDir: where things live.
	Dir, DataRoot, PodsDir, CABundleDir string

	cancel  context.CancelFunc
	ownsDir bool
}

// CABundleFile is the file name of the CA bundle in CABundleDir.
const CABundleFile = "ca.crt"

// Setup starts a Fixture for a test and closes it when the test ends.
func Setup(t testing.TB, e *env.Environment, opts Options) *Fixture {
	t.Helper()
	f, err := Start(t.Context(), e, opts)
	if f != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("driver log:\n%s", f.Driver.Logs())
			}
			if err := f.Close(); err != nil {
				t.Errorf("failed to clean up the driver fixture: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Start sets everything up and starts the driver. On error the returned
// Fixture, if not nil, must still be closed.
func Start(ctx context.Context, e *env.Environment, opts Options) (*Fixture, error) {
	if opts.Name == "" {
		opts.Name = "td-" + utilrand.String(5)
	}
	if opts.TrustDomain == "" {
		opts.TrustDomain = "foo.bar"
	}
	if opts.DriverName == "" {
		opts.DriverName = "spiffe.csi.cert-manager.io"
	}
	if opts.NodeID == "" {
		opts.NodeID = "node-1"
	}
	if opts.IssuerName == "" {
		opts.IssuerName = "csi-driver-spiffe-ca"
	}
	f := &Fixture{
		Env:         e,
		Name:        opts.Name,
		TrustDomain: opts.TrustDomain,
		DriverName:  opts.DriverName,
		NodeID:      opts.NodeID,
		IssuerRef:   cmmeta.IssuerReference{Name: opts.IssuerName, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		Dir:         opts.Dir,
	}
	if f.Dir == "" {
		dir, err := os.MkdirTemp("", "csi-driver-spiffe-test-")
		if err != nil {
			return nil, err
		}
		f.Dir, f.ownsDir = dir, true
	}
	f.DataRoot = filepath.Join(f.Dir, "data")
	f.PodsDir = filepath.Join(f.Dir, "pods")
	f.CABundleDir = filepath.Join(f.Dir, "ca-bundle")
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	if err := f.start(ctx, runCtx, opts); err != nil {
		return f, err
	}
	return f, nil
}

func (f *Fixture) start(ctx, runCtx context.Context, opts Options) error {
	e := f.Env
	if err := certmanager.InstallIdentityStamping(ctx, e.Client); err != nil {
		return err
	}
	if err := e.EnsureNamespace(ctx, DriverNamespace, nil); err != nil {
		return err
	}
	// Right after the control plane starts, cert-manager's CRDs may not be
	// served yet: retry until they are.
	for attempt := 0; ; attempt++ {
		err := certmanager.WaitForIdentityStamping(ctx, e.Client, DriverNamespace)
		if err == nil {
			break
		}
		if !meta.IsNoMatchError(errors.Unwrap(err)) && !strings.Contains(err.Error(), "not found") || attempt == 100 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	var err error
	if f.CA, err = certmanager.NewCA("csi-driver-spiffe-ca " + f.Name); err != nil {
		return err
	}

	// The SpiffeTrustDomain and its published configuration (no operator
	// runs here: the test publishes status.config itself).
	td := &spiffev1alpha1.SpiffeTrustDomain{
		ObjectMeta: metav1.ObjectMeta{Name: f.Name},
		Spec: spiffev1alpha1.SpiffeTrustDomainSpec{
			TrustDomain: f.TrustDomain,
			IssuerRef:   spiffev1alpha1.IssuerReference{Name: f.IssuerRef.Name, Kind: f.IssuerRef.Kind, Group: f.IssuerRef.Group},
			Driver:      spiffev1alpha1.DriverSpec{Name: f.DriverName},
		},
	}
	if err := e.Client.Create(ctx, td); err != nil {
		return fmt.Errorf("failed to create SpiffeTrustDomain %q: %w", f.Name, err)
	}
	if opts.CABundle {
		if err := f.WriteCABundle(f.CA.PEM); err != nil {
			return err
		}
	}
	if !opts.NoConfig {
		if err := f.SetConfig(ctx, func(c *spiffev1alpha1.TrustDomainConfig) {
			if !opts.CABundle {
				c.CABundle = nil
			}
			if opts.Configure != nil {
				opts.Configure(c)
			}
		}); err != nil {
			return err
		}
	}

	// Stand-ins for cert-manager's CA issuer and an approver.
	cm, err := certmanager.NewClient(e.Config)
	if err != nil {
		return err
	}
	if f.Signer, err = certmanager.NewSigner(certmanager.SignerOptions{Client: cm, IssuerRef: f.IssuerRef, CA: f.CA, MaxLifetime: opts.MaxLifetime}); err != nil {
		return err
	}
	if err := f.Signer.Start(runCtx); err != nil {
		return err
	}
	if f.Approver, err = certmanager.NewApprover(certmanager.ApproverOptions{Client: cm, IssuerRef: f.IssuerRef, Decide: opts.Decide}); err != nil {
		return err
	}
	if err := f.Approver.Start(runCtx); err != nil {
		return err
	}

	// The driver, with its own ServiceAccount and exactly its RBAC.
	kubeconfig, err := f.driverKubeconfig(ctx)
	if err != nil {
		return err
	}
	binary, err := process.Binary(ctx, e.RepoRoot)
	if err != nil {
		return err
	}
	metricsAddr, err := process.FreeAddr()
	if err != nil {
		return err
	}
	healthAddr, err := process.FreeAddr()
	if err != nil {
		return err
	}
	socket := filepath.Join(f.Dir, "plugin", "csi.sock")
	registrationDir := filepath.Join(f.Dir, "plugins_registry")
	if err := os.MkdirAll(registrationDir, 0o750); err != nil {
		return err
	}
	args := []string{
		"driver",
		"--trust-domain-object=" + f.Name,
		"--driver-name=" + f.DriverName,
		"--node-id=" + f.NodeID,
		"--endpoint=unix://" + socket,
		"--plugin-registration-dir=" + registrationDir,
		"--data-root=" + f.DataRoot,
		"--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=" + healthAddr,
		"--log-level=2",
		"--log-format=text",
	}
	if opts.CABundle {
		args = append(args, "--ca-bundle-file="+filepath.Join(f.CABundleDir, CABundleFile))
	}
	args = append(args, opts.DriverArgs...)
	f.Driver = &Driver{
		Process: &process.Process{
			Name:        "the driver",
			Binary:      binary,
			Args:        args,
			LogFile:     filepath.Join(f.Dir, "driver.log"),
			HealthAddr:  healthAddr,
			MetricsAddr: metricsAddr,
		},
		Socket:             socket,
		RegistrationSocket: filepath.Join(registrationDir, registration.SocketName(f.DriverName)),
	}
	if opts.NoConfig {
		// It cannot become ready; start it and wait for its socket only.
		if err := f.Driver.StartUnready(ctx); err != nil {
			return err
		}
	} else if err := f.Driver.Start(ctx); err != nil {
		return err
	}
	f.Kubelet, err = kubelet.New(ctx, kubelet.Options{
		Endpoint:   socket,
		Client:     e.Client,
		Tokens:     e,
		NodeName:   f.NodeID,
		PodsDir:    f.PodsDir,
		DriverName: f.DriverName,
	})
	return err
}

// DefaultConfig is the configuration the fixture publishes, before
// Options.Configure.
func (f *Fixture) DefaultConfig() *spiffev1alpha1.TrustDomainConfig {
	sum := sha256.Sum256(f.CA.PEM)
	return &spiffev1alpha1.TrustDomainConfig{
		Generation:            1,
		TrustDomain:           f.TrustDomain,
		IssuerRef:             spiffev1alpha1.IssuerReference{Name: f.IssuerRef.Name, Kind: f.IssuerRef.Kind, Group: f.IssuerRef.Group},
		Duration:              metav1.Duration{Duration: time.Hour},
		RenewBeforePercentage: 33,
		PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
		Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
		CABundle:              &spiffev1alpha1.CABundleStatus{SHA256: hex.EncodeToString(sum[:]), Certificates: 1},
		DriverName:            f.DriverName,
	}
}

// SetConfig publishes a configuration, as the operator does: the current one
// (or DefaultConfig when there is none) edited by edit.
func (f *Fixture) SetConfig(ctx context.Context, edit func(*spiffev1alpha1.TrustDomainConfig)) error {
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	if err := f.Env.Client.Get(ctx, client.ObjectKey{Name: f.Name}, td); err != nil {
		return fmt.Errorf("failed to get SpiffeTrustDomain %q: %w", f.Name, err)
	}
	cfg := td.Status.Config
	if cfg == nil {
		cfg = f.DefaultConfig()
	}
	cfg = cfg.DeepCopy()
	edit(cfg)
	cfg.Generation++
	td.Status.Config = cfg
	if err := f.Env.Client.Status().Update(ctx, td); err != nil {
		return fmt.Errorf("failed to publish the configuration of SpiffeTrustDomain %q: %w", f.Name, err)
	}
	return nil
}

// ClearConfig removes the published configuration.
func (f *Fixture) ClearConfig(ctx context.Context) error {
	td := &spiffev1alpha1.SpiffeTrustDomain{}
	if err := f.Env.Client.Get(ctx, client.ObjectKey{Name: f.Name}, td); err != nil {
		return fmt.Errorf("failed to get SpiffeTrustDomain %q: %w", f.Name, err)
	}
	td.Status.Config = nil
	return f.Env.Client.Status().Update(ctx, td)
}

// WriteCABundle replaces the CA bundle file the way kubelet updates a
// ConfigMap volume: the files live in a timestamped directory behind a
// ..data symlink that is swapped atomically (csi-lib's copy of kubelet's
// atomic writer), and ca.crt is a symlink to ..data/ca.crt.
func (f *Fixture) WriteCABundle(pem []byte) error {
	if err := os.MkdirAll(f.CABundleDir, 0o755); err != nil {
		return fmt.Errorf("failed to create CA bundle directory: %w", err)
	}
	w, err := atomicwriter.NewAtomicWriter(f.CABundleDir, "ca bundle")
	if err != nil {
		return fmt.Errorf("failed to open CA bundle directory: %w", err)
	}
	return w.Write(map[string]atomicwriter.FileProjection{CABundleFile: {Data: pem, Mode: 0o644}}, nil)
}

// GrantRequester lets ServiceAccount ns/sa create CertificateRequests in its
// namespace (what the SpiffeTrustDomain's requester ClusterRole grants), and
// creates the ServiceAccount.
func (f *Fixture) GrantRequester(ctx context.Context, ns, sa string) error {
	if _, err := f.Env.EnsureServiceAccount(ctx, ns, sa); err != nil {
		return err
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spiffe-requester"},
		Rules:      operand.RequesterRules(),
	}
	if err := f.Env.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create Role %s/%s: %w", ns, role.Name, err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spiffe-requester-" + sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: sa}},
	}
	if err := f.Env.Client.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create RoleBinding %s/%s: %w", ns, rb.Name, err)
	}
	return nil
}

// driverKubeconfig creates the driver's ServiceAccount with exactly the
// permissions the operator grants the driver (operand.DriverClusterRules) and writes
// a kubeconfig that authenticates with a token of it.
func (f *Fixture) driverKubeconfig(ctx context.Context) (string, error) {
	e := f.Env
	sa := "driver-" + f.Name
	if _, err := e.EnsureServiceAccount(ctx, DriverNamespace, sa); err != nil {
		return "", err
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: f.Name + "-driver"},
		Rules:      operand.DriverClusterRules(f.Name),
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: f.Name + "-driver"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: DriverNamespace, Name: sa}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("failed to create %T %q: %w", obj, obj.GetName(), err)
		}
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return "", err
	}
	tr, err := cs.CoreV1().ServiceAccounts(DriverNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(24 * 3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("failed to create a token for the driver: %w", err)
	}
	path := filepath.Join(f.Dir, "driver.kubeconfig")
	return path, process.WriteKubeconfig(path, e.TokenConfig(tr.Status.Token))
}

// Close stops the driver, the kubelet and the stand-ins, unmounts everything
// under Dir and removes it (when the Fixture created it).
func (f *Fixture) Close() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if f.Kubelet != nil {
		if f.Driver != nil && f.Driver.PID() != 0 {
			if err := f.Kubelet.UnpublishAll(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, f.Kubelet.Close())
	}
	if f.Driver != nil {
		// Close cleans up: it does not judge how the driver exits (a test
		// that cares stops it itself), it only waits until it is gone.
		_ = f.Driver.Stop(10 * time.Second)
	}
	if f.cancel != nil {
		f.cancel()
	}
	if f.Signer != nil {
		f.Signer.Wait()
	}
	if f.Approver != nil {
		f.Approver.Wait()
	}
	if f.Dir != "" {
		errs = append(errs, kubelet.UnmountUnder(f.Dir))
		if f.ownsDir {
			if mounts, err := kubelet.MountsUnder(f.Dir); err == nil && len(mounts) == 0 {
				errs = append(errs, os.RemoveAll(f.Dir))
			} else {
				errs = append(errs, fmt.Errorf("not removing %s: still mounted: %s", f.Dir, strings.Join(mounts, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// Pods returns the pods of namespace ns.
func (f *Fixture) Pods(ctx context.Context, ns string) ([]corev1.Pod, error) {
	var list corev1.PodList
	if err := f.Env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	return list.Items, nil
}
