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

package approvertest

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

// OperatorFieldManager stands in for the operator, which applies
// status.config and its own conditions.
const OperatorFieldManager = "csi-driver-spiffe-operator"

// Config returns the configuration the operator publishes for trustDomain
// and issuer with every other setting defaulted (1h, ECDSA P-521).
func Config(trustDomain string, issuer spiffev1alpha1.IssuerReference) *spiffev1alpha1.TrustDomainConfig {
	return &spiffev1alpha1.TrustDomainConfig{
		Generation:            1,
		TrustDomain:           trustDomain,
		IssuerRef:             issuer,
		Duration:              metav1.Duration{Duration: time.Hour},
		RenewBeforePercentage: 33,
		PrivateKey:            spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.ECDSAKeyAlgorithm, Size: 521},
		Files:                 spiffev1alpha1.FilesSpec{Certificate: "tls.crt", Key: "tls.key", CA: "ca.crt"},
		DriverName:            "spiffe.csi.cert-manager.io",
	}
}

// Publish does to the SpiffeTrustDomain name what the operator does when it
// publishes cfg: it applies status.config, with its own Ready condition,
// under OperatorFieldManager.
func Publish(ctx context.Context, cl client.Client, name string, cfg *spiffev1alpha1.TrustDomainConfig) error {
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spiffev1alpha1.SpiffeTrustDomainStatus{
		Config: cfg,
		Conditions: []metav1.Condition{{
			Type: spiffev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: spiffev1alpha1.ReasonReady,
			Message: "serving", LastTransitionTime: metav1.Now(), ObservedGeneration: cfg.Generation,
		}},
	})
	if err != nil {
		return fmt.Errorf("failed to convert the status: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": spiffev1alpha1.GroupVersion.String(),
		"kind":       spiffev1alpha1.Kind,
		"metadata":   map[string]any{"name": name},
		"status":     status,
	}}
	if err := cl.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(OperatorFieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to publish the configuration of SpiffeTrustDomain %q: %w", name, err)
	}
	return nil
}
