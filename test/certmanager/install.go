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

package certmanager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// InstallStandIns installs the admission parts of the cert-manager stand-in
// into a control plane that already serves cert-manager's CRDs (identity
// stamping and the approval check, see InstallIdentityStamping and
// InstallApprovalCheck), waits until they take effect, and creates the
// cert-manager namespace (where ClusterIssuers keep their Secrets). Run
// Issuers for the issuing part. admin must be a cluster administrator.
func InstallStandIns(ctx context.Context, admin *rest.Config, cl client.Client, scheme *runtime.Scheme) error {
	if err := InstallIdentityStamping(ctx, cl); err != nil {
		return err
	}
	if err := InstallApprovalCheck(ctx, cl); err != nil {
		return err
	}
	if err := WaitForIdentityStamping(ctx, cl, "default"); err != nil {
		return err
	}
	if err := WaitForApprovalCheck(ctx, admin, scheme, "default"); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cert-manager"}}
	if err := cl.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create namespace cert-manager: %w", err)
	}
	return nil
}
