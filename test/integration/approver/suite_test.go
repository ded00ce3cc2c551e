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

// Package approver tests the approver end to end against a real
// kube-apiserver: the csi-driver-spiffe binary runs as its own process,
// authenticated as a ServiceAccount bound to exactly the permissions the
// operator grants it (internal/operand), and decides CertificateRequests that real
// (impersonated) ServiceAccounts create, with cert-manager's identity stamping
// and approval check reproduced by admission policies.
package approver

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
	approvertest "github.com/cert-manager/csi-driver-spiffe-operator/test/approver"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

const (
	// approverNamespace and approverServiceAccount run the approver.
	approverNamespace      = "csi-driver-spiffe"
	approverServiceAccount = "csi-driver-spiffe-approver"
	// sandbox is the namespace of the workloads.
	sandbox = "sandbox"
	// trustDomain is the trust domain of every SpiffeTrustDomain here.
	trustDomain = "foo.bar"
)

var (
	testEnv *env.Environment
	admin   client.Client
	binary  string
)

func TestApprover(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	RunSpecs(t, "Approver")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	testEnv, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	admin = testEnv.Client

	binary, err = process.Binary(ctx, testEnv.RepoRoot)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(process.RemoveBinary()).To(Succeed()) })

	Expect(certmanager.InstallIdentityStamping(ctx, admin)).To(Succeed())
	Expect(certmanager.InstallApprovalCheck(ctx, admin)).To(Succeed())
	for _, sa := range []string{"app-a", "app-b"} {
		_, err := testEnv.EnsureServiceAccount(ctx, sandbox, sa)
		Expect(err).NotTo(HaveOccurred())
	}
	_, err = testEnv.EnsureServiceAccount(ctx, approverNamespace, approverServiceAccount)
	Expect(err).NotTo(HaveOccurred())
	Expect(certmanager.WaitForIdentityStamping(ctx, admin, sandbox)).To(Succeed())
	Expect(certmanager.WaitForApprovalCheck(ctx, testEnv.Config, env.Scheme, sandbox)).To(Succeed())

	// Every ServiceAccount of the sandbox may create requests, as the
	// operator's requester binding grants.
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: sandbox, Name: "requester"},
		Rules:      operand.RequesterRules(),
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: sandbox, Name: "requester"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "requester"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: operand.RequesterGroup(sandbox)}},
	})).To(Succeed())
}, NodeTimeout(5*time.Minute))

// grantApprover binds the approver's ServiceAccount to exactly the rules
// the operator grants the approver of the SpiffeTrustDomain name
// (operand.ApproverClusterRules with signerNames, and
// operand.ApproverNamespaceRules in the Lease's namespace), under the
// operator's names, and updates the rules in place when called again.
func grantApprover(ctx context.Context, name string, signerNames ...string) {
	GinkgoHelper()
	roleName := operand.RBACName(name, operand.ComponentApprover)
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: approverNamespace, Name: approverServiceAccount}}
	objects := []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: roleName}, Rules: operand.ApproverClusterRules(name, signerNames)},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: approverNamespace, Name: roleName}, Rules: operand.ApproverNamespaceRules(name)},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: roleName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
			Subjects:   subjects,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: approverNamespace, Name: roleName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roleName},
			Subjects:   subjects,
		},
	}
	for _, obj := range objects {
		err := admin.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			existing := obj.DeepCopyObject().(client.Object)
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), existing)).To(Succeed())
			obj.SetResourceVersion(existing.GetResourceVersion())
			err = admin.Update(ctx, obj)
		}
		Expect(err).NotTo(HaveOccurred())
	}
}

// startApprover starts the approver of the SpiffeTrustDomain name as its
// ServiceAccount and stops it when the spec ends.
func startApprover(name string, args ...string) *process.Process {
	GinkgoHelper()
	kubeconfig := GinkgoT().TempDir() + "/kubeconfig"
	Expect(process.WriteKubeconfig(kubeconfig, testEnv.ImpersonationConfig(approverNamespace, approverServiceAccount))).To(Succeed())
	p, err := approvertest.Start(approvertest.Options{
		Binary:            binary,
		Kubeconfig:        kubeconfig,
		TrustDomainObject: name,
		Args:              append([]string{"--log-level=2"}, args...),
		Output:            GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(p.Stop(30 * time.Second)).To(Succeed()) })
	return p
}
