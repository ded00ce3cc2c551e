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

package env

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ImpersonationConfig returns a copy of the administrator's config that
// impersonates the ServiceAccount ns/name, as the API server sees a request
// made with that ServiceAccount's token.
func (e *Environment) ImpersonationConfig(ns, name string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	return cfg
}

// TokenConfig returns a config that authenticates to the API server with the
// bearer token only (no client certificate): what a pod's token gives.
func (e *Environment) TokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            e.Config.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.Config.CAData},
		BearerToken:     token,
		QPS:             e.Config.QPS,
		Burst:           e.Config.Burst,
	}
}

// EnsureNamespace creates the namespace if it does not exist.
func (e *Environment) EnsureNamespace(ctx context.Context, name string, labels map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create namespace %q: %w", name, err)
	}
	return nil
}

// EnsureServiceAccount creates the namespace and ServiceAccount if they do
// not exist and returns the ServiceAccount. The test API server runs no
// controllers, so nothing else creates them.
func (e *Environment) EnsureServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if err := e.EnsureNamespace(ctx, ns, nil); err != nil {
		return nil, err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := e.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("failed to create serviceaccount %s/%s: %w", ns, name, err)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(sa), sa); err != nil {
		return nil, fmt.Errorf("failed to get serviceaccount %s/%s: %w", ns, name, err)
	}
	return sa, nil
}

// PodToken requests a ServiceAccount token bound to the pod, with the API
// server's default audiences, the way kubelet does for a CSIDriver whose
// tokenRequests has audience "".
func (e *Environment) PodToken(ctx context.Context, pod *corev1.Pod, expirationSeconds int64) (*authenticationv1.TokenRequestStatus, error) {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return nil, fmt.Errorf("failed to build clientset: %w", err)
	}
	tr := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To(expirationSeconds),
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1",
				Kind:       "Pod",
				Name:       pod.Name,
				UID:        pod.UID,
			},
		},
	}
	out, err := cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to create token for serviceaccount %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err)
	}
	return &out.Status, nil
}
