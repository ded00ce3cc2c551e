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
	"errors"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
)

// What csi-driver-spiffe v0.9's approver writes: the same reason as our
// approver, a fixed message, under the field manager client-go derives from
// its binary's name (it sets none itself).
const (
	CSIDriverSPIFFEApproverFieldManager = "cert-manager-csi-driver-spiffe-approver"
	CSIDriverSPIFFEApproverReason       = "spiffe.csi.cert-manager.io"
	CSIDriverSPIFFEApproverMessage      = "Approved request"
)

// CSIDriverSPIFFEApprover is a TEST STAND-IN for the approver of cert-manager's
// csi-driver-spiffe v0.9 (the approver Deployment of its Helm chart), as it
// behaved next to ours in issue 16: it approves every undecided
// CertificateRequest that carries the SPIFFE identity annotation, whatever its
// issuer and whatever it asks for, with reason spiffe.csi.cert-manager.io and
// message "Approved request", by updating the status subresource (operation
// Update) under CSIDriverSPIFFEApproverFieldManager. It stands in for the real
// one because that cannot be a dependency of this module (it pins another
// cert-manager).
type CSIDriverSPIFFEApprover struct {
	ctrl controller
}

// NewCSIDriverSPIFFEApprover returns the stand-in; call Start.
func NewCSIDriverSPIFFEApprover(cl cmclient.Interface) (*CSIDriverSPIFFEApprover, error) {
	if cl == nil {
		return nil, errors.New("failed to build the csi-driver-spiffe approver stand-in: a client is required")
	}
	a := &CSIDriverSPIFFEApprover{}
	a.ctrl = controller{name: "csi-driver-spiffe-approver-stand-in", client: cl, anyIssuer: true, workers: 4, sync: a.sync}
	return a, nil
}

// Start approves requests until ctx is done; it returns once its cache has
// synced.
func (a *CSIDriverSPIFFEApprover) Start(ctx context.Context) error { return a.ctrl.start(ctx) }

// Wait blocks until it has stopped after its context ended.
func (a *CSIDriverSPIFFEApprover) Wait() { a.ctrl.wait() }

func (a *CSIDriverSPIFFEApprover) sync(ctx context.Context, cr *cmapi.CertificateRequest) error {
	if _, ok := cr.Annotations[spiffe.IdentityAnnotation]; !ok {
		return nil
	}
	if apiutil.CertificateRequestIsApproved(cr) || apiutil.CertificateRequestIsDenied(cr) {
		return nil
	}
	apiutil.SetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue,
		CSIDriverSPIFFEApproverReason, CSIDriverSPIFFEApproverMessage)
	_, err := a.ctrl.client.CertmanagerV1().CertificateRequests(cr.Namespace).UpdateStatus(ctx, cr,
		metav1.UpdateOptions{FieldManager: CSIDriverSPIFFEApproverFieldManager})
	return err
}
