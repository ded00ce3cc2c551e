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
	storagev1 "k8s.io/api/storage/v1"
	storagev1ac "k8s.io/client-go/applyconfigurations/storage/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// tokenExpirationSeconds is the lifetime of the pod ServiceAccount token
// kubelet hands the driver on every NodePublishVolume. The driver uses it
// once, to create the CertificateRequest as the pod; republishing
// (requiresRepublish) brings a fresh one before each renewal.
const tokenExpirationSeconds = 3600

// buildCSIDriver returns the CSIDriver of td.
//
//   - podInfoOnMount: the driver needs the pod's name, namespace, UID and
//     ServiceAccount to derive the SPIFFE ID.
//   - volumeLifecycleModes [Ephemeral]: the volume lives and dies with its pod.
//   - tokenRequests with audience "": kubelet passes a token of the pod's
//     ServiceAccount for the API server's own audiences, which the driver
//     uses to create the CertificateRequest as that ServiceAccount.
//   - requiresRepublish: kubelet calls NodePublishVolume periodically, which
//     brings fresh tokens for renewals.
//   - attachRequired false: there is nothing to attach.
//   - fsGroupPolicy None: kubelet must never chown/chmod the volume. The
//     driver writes the files 0440 and sets their group itself, from the
//     spiffe.csi.cert-manager.io/fs-group attribute (or, if the driver
//     advertises VOLUME_MOUNT_GROUP, from the fsGroup kubelet passes, which
//     kubelet does whatever the policy). With File, kubelet would
//     recursively chown a writable volume after every publish and race with
//     the driver's atomic renewals.
func buildCSIDriver(td *spiffev1alpha1.SpiffeTrustDomain) *storagev1ac.CSIDriverApplyConfiguration {
	return storagev1ac.CSIDriver(DriverName(td)).
		WithLabels(childLabels(td.Name, operand.ComponentDriver)).
		WithOwnerReferences(ownerReference(td)).
		WithSpec(storagev1ac.CSIDriverSpec().
			WithAttachRequired(false).
			WithPodInfoOnMount(true).
			WithVolumeLifecycleModes(storagev1.VolumeLifecycleEphemeral).
			WithTokenRequests(storagev1ac.TokenRequest().
				WithAudience("").
				WithExpirationSeconds(tokenExpirationSeconds)).
			WithRequiresRepublish(true).
			WithFSGroupPolicy(storagev1.NoneFSGroupPolicy))
}
