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

package spiffetrustdomain

import (
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// buildServiceAccount returns the ServiceAccount of a component (driver or
// approver) of td, in the operator's namespace.
func buildServiceAccount(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, component string) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(operand.ServiceAccountName(td.Name, component), opts.Namespace).
		WithLabels(childLabels(td.Name, component)).
		WithOwnerReferences(ownerReference(td))
}
