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
	"fmt"
	"sort"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// cond is the status, reason and message of one condition.
type cond struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// issuerLookup finds a cert-manager issuer of the spec's kind and name in a
// namespace ("" for a ClusterIssuer). It returns nil, nil when there is none.
type issuerLookup func(namespace string) (cmapi.GenericIssuer, error)

// issuerCondition evaluates IssuerReady. Only cert-manager's own issuers are
// checked: an external issuer's kind must be served (res non-nil) but its
// objects are not read, as the operator cannot be granted read access to
// every possible issuer type. A namespaced Issuer is checked in every
// namespace that spec.requesterNamespaceSelector matches; without a
// selector the operator cannot know which namespaces need one, and says so
// (Unknown).
func issuerCondition(ref spiffev1alpha1.IssuerReference, res *operand.IssuerResource, selectorSet bool, namespaces []string, lookup issuerLookup) (cond, error) {
	if ref.Group != certManagerGroup {
		if res == nil {
			return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound,
				fmt.Sprintf("the API server serves no kind %s in group %s: install the external issuer (its CRDs), or fix spec.issuerRef; the configuration is published and takes effect once the issuer exists", ref.Kind, ref.Group)}, nil
		}
		return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonExternalIssuer,
			fmt.Sprintf("%s %q (%s) is an external issuer: the operator does not check that it exists or is ready; it must sign requests with a URI SAN from a CSR", ref.Kind, ref.Name, ref.Group)}, nil
	}

	if !res.Namespaced {
		iss, err := lookup("")
		if err != nil {
			return cond{}, err
		}
		if iss == nil {
			return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound,
				fmt.Sprintf("%s %q not found: create it; the configuration is published and takes effect once the issuer exists", ref.Kind, ref.Name)}, nil
		}
		if c, ok := checkIssuer(iss); !ok {
			c.Message = fmt.Sprintf("%s %q %s", ref.Kind, ref.Name, c.Message)
			return c, nil
		}
		return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady, fmt.Sprintf("%s %q is ready", ref.Kind, ref.Name)}, nil
	}

	if !selectorSet {
		return cond{metav1.ConditionUnknown, spiffev1alpha1.ReasonIssuerNotChecked,
			fmt.Sprintf("%s %q is namespaced and spec.requesterNamespaceSelector is not set, so the operator cannot tell which namespaces need it: one must exist in every namespace whose pods mount the volume", ref.Kind, ref.Name)}, nil
	}
	if len(namespaces) == 0 {
		return cond{metav1.ConditionUnknown, spiffev1alpha1.ReasonIssuerNotChecked,
			fmt.Sprintf("no namespace matches spec.requesterNamespaceSelector, so no %s %q is needed yet", ref.Kind, ref.Name)}, nil
	}
	var missing, unsupported, notReady []string
	var firstUnsupported, firstNotReady cond
	for _, ns := range namespaces {
		iss, err := lookup(ns)
		if err != nil {
			return cond{}, err
		}
		if iss == nil {
			missing = append(missing, ns)
			continue
		}
		if c, ok := checkIssuer(iss); !ok {
			if c.Reason == spiffev1alpha1.ReasonIssuerUnsupported {
				if len(unsupported) == 0 {
					firstUnsupported = c
				}
				unsupported = append(unsupported, ns)
			} else {
				if len(notReady) == 0 {
					firstNotReady = c
				}
				notReady = append(notReady, ns)
			}
		}
	}
	switch {
	case len(unsupported) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerUnsupported,
			fmt.Sprintf("%s %q in namespace %s %s", ref.Kind, ref.Name, listNamespaces(unsupported), firstUnsupported.Message)}, nil
	case len(missing) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotFound,
			fmt.Sprintf("%s %q not found in namespace %s: create it there (every namespace matching spec.requesterNamespaceSelector needs one)", ref.Kind, ref.Name, listNamespaces(missing))}, nil
	case len(notReady) > 0:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotReady,
			fmt.Sprintf("%s %q in namespace %s %s", ref.Kind, ref.Name, listNamespaces(notReady), firstNotReady.Message)}, nil
	}
	return cond{metav1.ConditionTrue, spiffev1alpha1.ReasonReady,
		fmt.Sprintf("%s %q is ready in all %d namespaces matching spec.requesterNamespaceSelector", ref.Kind, ref.Name, len(namespaces))}, nil
}

// checkIssuer checks one cert-manager issuer. The message it returns
// follows the issuer's kind and name.
func checkIssuer(iss cmapi.GenericIssuer) (cond, bool) {
	spec := iss.GetSpec()
	switch {
	case spec.SelfSigned != nil:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerUnsupported,
			"is a SelfSigned issuer, which signs with the requester's own key and cannot issue SVIDs of a trust domain: use a CA, Vault, Venafi or external issuer"}, false
	case spec.ACME != nil:
		return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerUnsupported,
			"is an ACME issuer, which cannot sign certificates with SPIFFE URI SANs: use a CA, Vault, Venafi or external issuer"}, false
	}
	for _, c := range iss.GetStatus().Conditions {
		if c.Type != cmapi.IssuerConditionReady {
			continue
		}
		if c.Status != cmmeta.ConditionTrue {
			return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotReady,
				fmt.Sprintf("is not ready (%s): %s", c.Reason, c.Message)}, false
		}
		if c.ObservedGeneration != 0 && c.ObservedGeneration < iss.GetGeneration() {
			return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotReady,
				"has not been checked by cert-manager since its last change"}, false
		}
		return cond{}, true
	}
	return cond{metav1.ConditionFalse, spiffev1alpha1.ReasonIssuerNotReady,
		"is not ready: it has no Ready condition yet (is cert-manager running?)"}, false
}

// listNamespaces names up to five namespaces.
func listNamespaces(ns []string) string {
	sort.Strings(ns)
	const maxListed = 5
	if len(ns) <= maxListed {
		return strings.Join(ns, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ns[:maxListed], ", "), len(ns)-maxListed)
}
