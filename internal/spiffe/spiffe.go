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

// Package spiffe holds what the driver and the approver must agree on: how a
// ServiceAccount maps to a SPIFFE ID, and the names they share.
package spiffe

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// Prefix is reserved for the driver's annotations and attributes.
	Prefix = "spiffe.csi.cert-manager.io/"

	// IdentityAnnotation is set by the driver on every CertificateRequest to
	// the SPIFFE ID it requests.
	IdentityAnnotation = Prefix + "identity"

	// VolumeAnnotation is set by the driver on every CertificateRequest to
	// the ID of the volume it serves, so requests can be cleaned up.
	VolumeAnnotation = Prefix + "volume-id"

	// ConfigGenerationAnnotation is set by the driver on every
	// CertificateRequest to the generation of the configuration
	// (status.config.generation) it built the request from.
	ConfigGenerationAnnotation = Prefix + "config-generation"

	// FSGroupAttribute is the volume attribute that sets the group of the
	// volume's files (reference manifests use it).
	FSGroupAttribute = Prefix + "fs-group"

	// ApprovalReason is the reason of the Approved and Denied conditions the
	// approver writes on CertificateRequests.
	ApprovalReason = "spiffe.csi.cert-manager.io"

	// serviceAccountUsernamePrefix starts the username of a ServiceAccount.
	serviceAccountUsernamePrefix = "system:serviceaccount:"
)

// ID returns the SPIFFE ID of a ServiceAccount:
// spiffe://<trustDomain>/ns/<namespace>/sa/<name>.
func ID(trustDomain, namespace, serviceAccount string) *url.URL {
	return &url.URL{
		Scheme: "spiffe",
		Host:   trustDomain,
		Path:   "/ns/" + namespace + "/sa/" + serviceAccount,
	}
}

// ParseServiceAccountUsername parses a Kubernetes username of the form
// system:serviceaccount:<namespace>:<name>, as the API server authenticates
// a ServiceAccount, and checks both parts are valid object names.
func ParseServiceAccountUsername(username string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(username, serviceAccountUsernamePrefix)
	if !ok {
		return "", "", fmt.Errorf("username %q is not a ServiceAccount (want %s<namespace>:<name>)", username, serviceAccountUsernamePrefix)
	}
	namespace, name, ok = strings.Cut(rest, ":")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", fmt.Errorf("username %q is not a ServiceAccount (want %s<namespace>:<name>)", username, serviceAccountUsernamePrefix)
	}
	if msgs := validation.IsDNS1123Label(namespace); len(msgs) > 0 {
		return "", "", fmt.Errorf("username %q has an invalid namespace %q: %s", username, namespace, msgs[0])
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return "", "", fmt.Errorf("username %q has an invalid ServiceAccount name %q: %s", username, name, msgs[0])
	}
	return namespace, name, nil
}

// ServiceAccountUsername returns system:serviceaccount:<namespace>:<name>.
func ServiceAccountUsername(namespace, name string) string {
	return serviceAccountUsernamePrefix + namespace + ":" + name
}
