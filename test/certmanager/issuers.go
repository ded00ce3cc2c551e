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
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Issuers is a TEST STAND-IN for cert-manager's issuer and certificate
// controllers, doing just enough for the demo ClusterIssuer of the
// csi-driver-spiffe documentation (a self-signed root Certificate and a CA
// ClusterIssuer that uses it), so those manifests can be applied unchanged
// to the test control plane:
//
//   - a SelfSigned ClusterIssuer is marked Ready;
//   - a Certificate with isCA: true issued by a SelfSigned ClusterIssuer gets
//     its Secret (tls.crt, tls.key, ca.crt: a new self-signed root with the
//     Certificate's commonName) and is marked Ready;
//   - a CA ClusterIssuer is marked Ready once its Secret (in the cluster
//     resource namespace) holds a CA key pair, and a Signer signs the
//     approved requests of that issuer with it; when the Secret changes (a
//     CA rotation), the Signer signs with the new CA.
//
// A ClusterIssuer annotated with MaxLifetimeAnnotation (a Go duration) signs
// certificates of at most that lifetime, whatever duration is requested:
// tests of renewal need certificates of seconds, and the SpiffeTrustDomain
// CRD refuses durations under 10m.
//
// It polls every 200 ms instead of watching: it only follows a handful of
// objects.
type Issuers struct {
	// Client is an administrator client. Required.
	Client client.Client
	// CertManager is a cert-manager client for the Signers. Required.
	CertManager cmclient.Interface
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers. Default
	// "cert-manager", as in cert-manager.
	ClusterResourceNamespace string
	// Log receives one line per change. Default: discarded.
	Log io.Writer

	mu      sync.Mutex
	signers map[string]*runningSigner
	wg      sync.WaitGroup
}

// MaxLifetimeAnnotation caps the lifetime of the certificates a stand-in CA
// ClusterIssuer signs; it is read when the issuer's Signer starts.
const MaxLifetimeAnnotation = "test.spiffe.csi.cert-manager.io/max-certificate-lifetime"

type runningSigner struct {
	signer *Signer
	caPEM  []byte
	cancel context.CancelFunc
}

// Run reconciles until ctx is done, then stops every Signer.
func (i *Issuers) Run(ctx context.Context) {
	if i.ClusterResourceNamespace == "" {
		i.ClusterResourceNamespace = "cert-manager"
	}
	if i.Log == nil {
		i.Log = io.Discard
	}
	i.mu.Lock()
	i.signers = map[string]*runningSigner{}
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		for _, s := range i.signers {
			s.cancel()
		}
		i.mu.Unlock()
		i.wg.Wait()
	}()
	for {
		if err := i.sync(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(i.Log, "cert-manager stand-in: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (i *Issuers) sync(ctx context.Context) error {
	issuers := &cmapi.ClusterIssuerList{}
	if err := i.Client.List(ctx, issuers); err != nil {
		return fmt.Errorf("failed to list clusterissuers: %w", err)
	}
	selfSigned := map[string]bool{}
	var errs []error
	for idx := range issuers.Items {
		ci := &issuers.Items[idx]
		switch {
		case ci.Spec.SelfSigned != nil:
			selfSigned[ci.Name] = true
			errs = append(errs, i.setReady(ctx, ci, cmmeta.ConditionTrue, "IsReady", ""))
		case ci.Spec.CA != nil:
			errs = append(errs, i.syncCAIssuer(ctx, ci))
		}
	}
	certs := &cmapi.CertificateList{}
	if err := i.Client.List(ctx, certs); err != nil {
		return fmt.Errorf("failed to list certificates: %w", err)
	}
	for idx := range certs.Items {
		c := &certs.Items[idx]
		ref := c.Spec.IssuerRef
		if c.Spec.IsCA && ref.Kind == cmapi.ClusterIssuerKind && (ref.Group == "" || ref.Group == "cert-manager.io") && selfSigned[ref.Name] {
			errs = append(errs, i.syncRootCertificate(ctx, c))
		}
	}
	return errors.Join(errs...)
}

// syncRootCertificate issues a self-signed CA Certificate into its Secret.
func (i *Issuers) syncRootCertificate(ctx context.Context, c *cmapi.Certificate) error {
	secret := &corev1.Secret{}
	err := i.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.SecretName}, secret)
	if apierrors.IsNotFound(err) {
		ca, err := NewCA(c.Spec.CommonName)
		if err != nil {
			return err
		}
		keyPEM, err := pki.EncodePKCS8PrivateKey(ca.Key)
		if err != nil {
			return fmt.Errorf("failed to encode the key of %s/%s: %w", c.Namespace, c.Name, err)
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:   c.Namespace,
				Name:        c.Spec.SecretName,
				Annotations: map[string]string{cmapi.CertificateNameKey: c.Name},
			},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{
				corev1.TLSCertKey:       ca.PEM,
				corev1.TLSPrivateKeyKey: keyPEM,
				cmmeta.TLSCAKey:         ca.PEM,
			},
		}
		if err := i.Client.Create(ctx, secret); err != nil {
			return fmt.Errorf("failed to create secret %s/%s: %w", c.Namespace, c.Spec.SecretName, err)
		}
		fmt.Fprintf(i.Log, "cert-manager stand-in: issued self-signed CA %q into secret %s/%s\n", c.Spec.CommonName, c.Namespace, c.Spec.SecretName)
	} else if err != nil {
		return fmt.Errorf("failed to get secret %s/%s: %w", c.Namespace, c.Spec.SecretName, err)
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue {
			return nil
		}
	}
	now := metav1.Now()
	c.Status.Conditions = []cmapi.CertificateCondition{{
		Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, Reason: "Ready",
		Message: "Certificate is up to date and has not expired", LastTransitionTime: &now, ObservedGeneration: c.Generation,
	}}
	if err := i.Client.Status().Update(ctx, c); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to update certificate %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}

// syncCAIssuer marks a CA ClusterIssuer Ready when its Secret holds a CA, and
// runs (or re-keys) its Signer.
func (i *Issuers) syncCAIssuer(ctx context.Context, ci *cmapi.ClusterIssuer) error {
	secret := &corev1.Secret{}
	err := i.Client.Get(ctx, client.ObjectKey{Namespace: i.ClusterResourceNamespace, Name: ci.Spec.CA.SecretName}, secret)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return i.setReady(ctx, ci, cmmeta.ConditionFalse, "ErrGetKeyPair", fmt.Sprintf("Error getting keypair for CA issuer: secret %q not found", ci.Spec.CA.SecretName))
		}
		return fmt.Errorf("failed to get secret %s/%s: %w", i.ClusterResourceNamespace, ci.Spec.CA.SecretName, err)
	}
	ca, err := CAFromSecret(secret)
	if err != nil {
		return i.setReady(ctx, ci, cmmeta.ConditionFalse, "ErrInvalidKeyPair", fmt.Sprintf("Error getting keypair for CA issuer: %v", err))
	}
	i.mu.Lock()
	rs := i.signers[ci.Name]
	i.mu.Unlock()
	switch {
	case rs == nil:
		var maxLifetime time.Duration
		if v, ok := ci.Annotations[MaxLifetimeAnnotation]; ok {
			if maxLifetime, err = time.ParseDuration(v); err != nil {
				return i.setReady(ctx, ci, cmmeta.ConditionFalse, "InvalidAnnotation", fmt.Sprintf("%s: %v", MaxLifetimeAnnotation, err))
			}
		}
		s, err := NewSigner(SignerOptions{
			Client:      i.CertManager,
			IssuerRef:   cmmeta.IssuerReference{Name: ci.Name, Kind: cmapi.ClusterIssuerKind, Group: "cert-manager.io"},
			CA:          ca,
			MaxLifetime: maxLifetime,
		})
		if err != nil {
			return err
		}
		sctx, cancel := context.WithCancel(ctx)
		if err := s.Start(sctx); err != nil {
			cancel()
			return fmt.Errorf("failed to start the signer of clusterissuer %s: %w", ci.Name, err)
		}
		i.wg.Add(1)
		go func() { defer i.wg.Done(); s.Wait() }()
		i.mu.Lock()
		i.signers[ci.Name] = &runningSigner{signer: s, caPEM: ca.PEM, cancel: cancel}
		i.mu.Unlock()
		fmt.Fprintf(i.Log, "cert-manager stand-in: CA ClusterIssuer %s signs with %q\n", ci.Name, ca.Certs[0].Subject.CommonName)
	case !bytes.Equal(rs.caPEM, ca.PEM):
		rs.signer.SetCA(ca)
		rs.caPEM = ca.PEM
		fmt.Fprintf(i.Log, "cert-manager stand-in: CA ClusterIssuer %s now signs with a new CA %q\n", ci.Name, ca.Certs[0].Subject.CommonName)
	}
	return i.setReady(ctx, ci, cmmeta.ConditionTrue, "KeyPairVerified", "Signing CA verified")
}

func (i *Issuers) setReady(ctx context.Context, ci *cmapi.ClusterIssuer, status cmmeta.ConditionStatus, reason, message string) error {
	for _, c := range ci.Status.Conditions {
		if c.Type == cmapi.IssuerConditionReady && c.Status == status && c.Reason == reason && c.Message == message && c.ObservedGeneration == ci.Generation {
			return nil
		}
	}
	now := metav1.Now()
	ci.Status.Conditions = []cmapi.IssuerCondition{{
		Type: cmapi.IssuerConditionReady, Status: status, Reason: reason, Message: message,
		LastTransitionTime: &now, ObservedGeneration: ci.Generation,
	}}
	if err := i.Client.Status().Update(ctx, ci); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to update clusterissuer %s: %w", ci.Name, err)
	}
	return nil
}

// CAFromSecret reads a CA key pair from a kubernetes.io/tls Secret, as
// cert-manager's CA issuer does: tls.crt (the CA, possibly with its chain)
// and tls.key.
func CAFromSecret(secret *corev1.Secret) (*CA, error) {
	certs, err := pki.DecodeX509CertificateChainBytes(secret.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("failed to decode %s of secret %s/%s: %w", corev1.TLSCertKey, secret.Namespace, secret.Name, err)
	}
	key, err := pki.DecodePrivateKeyBytes(secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("failed to decode %s of secret %s/%s: %w", corev1.TLSPrivateKeyKey, secret.Namespace, secret.Name, err)
	}
	if len(certs) == 0 || !certs[0].IsCA {
		return nil, fmt.Errorf("secret %s/%s does not hold a CA certificate", secret.Namespace, secret.Name)
	}
	if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), certs[0]); err != nil || !ok {
		return nil, fmt.Errorf("the key of secret %s/%s does not match its certificate", secret.Namespace, secret.Name)
	}
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return &CA{Certs: certs, Key: key, PEM: buf.Bytes()}, nil
}
