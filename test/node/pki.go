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

package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// pki is the cluster's certificate authority and the files the components
// read: the CA, the API server's serving key pair, the service-account
// signing key, and one kubeconfig per identity (client certificates signed
// by the CA, as kubeadm makes them).
type pki struct {
	dir string
	ca  *certmanager.CA
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := certmanager.NewCA("csi-driver-spiffe-node-ca")
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, ca: ca}
	if err := os.WriteFile(p.path("ca.crt"), ca.PEM, 0o644); err != nil {
		return nil, err
	}
	// The API server's certificate names every address clients use: the
	// node address (host processes, kubelet), the kubernetes Service's IP
	// and DNS names (pods, through kube-proxy) and loopback.
	if err := p.issue("apiserver", pkix.Name{CommonName: "kube-apiserver"}, true,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP(NodeIP), net.ParseIP(KubernetesServiceIP), net.ParseIP("127.0.0.1")}); err != nil {
		return nil, err
	}
	// kube-apiserver's client identity towards kubelets (exec, logs).
	if err := p.issue("apiserver-kubelet-client", pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}}, false, nil, nil); err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.path("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// issue writes <name>.crt and <name>.key, signed by the CA.
func (p *pki) issue(name string, subject pkix.Name, server bool, dnsNames []string, ips []net.IP) error {
	certPEM, keyPEM, err := p.sign(subject, server, dnsNames, ips)
	if err != nil {
		return fmt.Errorf("failed to issue the certificate %s: %w", name, err)
	}
	if err := os.WriteFile(p.path(name+".crt"), certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(p.path(name+".key"), keyPEM, 0o600)
}

func (p *pki) sign(subject pkix.Name, server bool, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca.Certs[0], key.Public(), p.ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// userConfig returns a config for the API server that authenticates as user
// in groups with a client certificate, and writes it as kubeconfig
// <name>.kubeconfig.
func (p *pki) userConfig(name, user string, groups ...string) (*rest.Config, string, error) {
	certPEM, keyPEM, err := p.sign(pkix.Name{CommonName: user, Organization: groups}, false, nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("failed to issue the client certificate of %s: %w", user, err)
	}
	cfg := &rest.Config{
		Host:            "https://" + net.JoinHostPort(NodeIP, APIServerPort),
		TLSClientConfig: rest.TLSClientConfig{CAData: p.ca.PEM, CertData: certPEM, KeyData: keyPEM},
	}
	path := p.path(name + ".kubeconfig")
	return cfg, path, process.WriteKubeconfig(path, cfg)
}
