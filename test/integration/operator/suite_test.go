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

// Package operator tests the operator against a real kube-apiserver: it
// runs the operator's own manager (cmd/operator.NewManager) as a
// ServiceAccount bound to exactly config/rbac/role.yaml, and checks the
// children, status, drift correction, conflicts, bad input, the RBAC it
// grants (SubjectAccessReview) and Pod Security admission of the pods it
// would run. The test API server runs no controllers: there is no garbage
// collector and no DaemonSet or Deployment controller, so the tests assert
// owner references and write workload status themselves.
package operator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest/komega"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator"
	"github.com/cert-manager/csi-driver-spiffe-operator/cmd/operator/options"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
)

const (
	// operatorNamespace is where the operator runs and puts its children.
	operatorNamespace = "csi-driver-spiffe-system"
	// operatorServiceAccount is the identity the operator runs as.
	operatorServiceAccount = "csi-driver-spiffe-operator"

	driverImage    = "example.com/csi-driver-spiffe:v1"
	kubeletRootDir = "/var/lib/kubelet"
)

var (
	testEnv *env.Environment
	cl      client.Client
	ctx     context.Context
)

func TestOperator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "operator on a real API server")
}

var _ = BeforeSuite(func() {
	log := zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true))
	logf.SetLogger(log)
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(logf.IntoContext(context.Background(), log))
	DeferCleanup(cancel)

	var err error
	testEnv, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	// The operator's scheme: the shared one lacks apiextensions.
	scheme, err := operator.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	cl, err = client.New(testEnv.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	komega.SetClient(cl)
	komega.SetContext(ctx)

	Expect(testEnv.EnsureNamespace(ctx, operatorNamespace, map[string]string{
		"pod-security.kubernetes.io/enforce": "privileged",
	})).To(Succeed())
	bindOperatorRole(filepath.Join(testEnv.RepoRoot, "config", "rbac", "role.yaml"))

	opts := &options.Options{
		Namespace:              operatorNamespace,
		Image:                  driverImage,
		KubeletRootDir:         kubeletRootDir,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
	}
	operatorConfig := testEnv.ImpersonationConfig(operatorNamespace, operatorServiceAccount)
	operatorConfig.Wrap(operatorRequests.wrap)
	mgr, err := operator.NewManager(ctx, operatorConfig, opts)
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	DeferCleanup(func() {
		stop()
		<-done
	})
})

// bindOperatorRole creates the operator's ClusterRole and Role exactly as
// generated into role.yaml (the Role moved from the "system" placeholder to
// the operator's namespace, as config/default does) and binds both to the
// operator's ServiceAccount. The operator gets no other permission.
func bindOperatorRole(path string) {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var clusterRoles, roles int
	for {
		var u map[string]any
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			Expect(err).NotTo(HaveOccurred())
		}
		if u == nil {
			continue
		}
		subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: operatorServiceAccount, Namespace: operatorNamespace}
		switch u["kind"] {
		case "ClusterRole":
			cr := &rbacv1.ClusterRole{}
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u, cr)).To(Succeed())
			Expect(cl.Create(ctx, cr)).To(Succeed())
			Expect(cl.Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "test-operator-" + cr.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
				Subjects:   []rbacv1.Subject{subject},
			})).To(Succeed())
			clusterRoles++
		case "Role":
			r := &rbacv1.Role{}
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u, r)).To(Succeed())
			Expect(r.Namespace).To(Equal("system"), "role.yaml's Role uses the placeholder namespace that config/default renames")
			r.Namespace = operatorNamespace
			Expect(cl.Create(ctx, r)).To(Succeed())
			Expect(cl.Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "test-operator-" + r.Name, Namespace: operatorNamespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name},
				Subjects:   []rbacv1.Subject{subject},
			})).To(Succeed())
			roles++
		default:
			Fail("unexpected object in role.yaml: " + u["kind"].(string))
		}
	}
	Expect(clusterRoles).To(Equal(1))
	Expect(roles).To(Equal(1))
}

// operatorRequests records the write requests the operator makes.
var operatorRequests = &requestLog{}

// requestLog records "METHOD path" of every non-GET request.
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			l.mu.Lock()
			l.requests = append(l.requests, req.Method+" "+req.URL.Path)
			l.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// since returns the requests made after the first n, and the new count.
func (l *requestLog) since(n int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.requests[n:]...), len(l.requests)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
