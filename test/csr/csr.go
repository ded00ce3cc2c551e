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

// Package csr builds PKCS #10 certificate signing requests for tests: the
// request the driver sends (empty subject, a single critical URI SAN, an
// ECDSA P-521 key) and every deviation from it that an attacker could try,
// down to the raw attributes of the request.
package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
)

// Object identifiers of the extensions and attributes a test may need.
var (
	OIDExtensionRequest       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	OIDChallengePassword      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}
	OIDSubjectAltName         = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDKeyUsage               = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtKeyUsage            = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDBasicConstraints       = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDNameConstraints        = asn1.ObjectIdentifier{2, 5, 29, 30}
	OIDSubjectKeyIdentifier   = asn1.ObjectIdentifier{2, 5, 29, 14}
	OIDExtKeyUsageServerAuth  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	OIDExtKeyUsageClientAuth  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	OIDExtKeyUsageCodeSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
)

var (
	oidSignatureECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSignatureECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidSignatureECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSignatureSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSignatureEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}

	emptySubject      = []byte{0x30, 0x00}
	errUnsupportedKey = errors.New("unsupported key type")
)

// Tags of the GeneralName choices (RFC 5280, section 4.2.1.6).
const (
	tagOtherName    = 0
	tagEmail        = 1
	tagDNS          = 2
	tagURI          = 6
	tagIP           = 7
	tagRegisteredID = 8
)

// GeneralName is one entry of a subjectAltName extension.
type GeneralName = asn1.RawValue

// URI is a uniformResourceIdentifier SAN.
func URI(s string) GeneralName {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagURI, Bytes: []byte(s)}
}

// DNS is a dNSName SAN.
func DNS(s string) GeneralName {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDNS, Bytes: []byte(s)}
}

// Email is an rfc822Name SAN.
func Email(s string) GeneralName {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagEmail, Bytes: []byte(s)}
}

// IP is an iPAddress SAN.
func IP(ip net.IP) GeneralName {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIP, Bytes: ip}
}

// RegisteredID is a registeredID SAN, a kind Go's parser silently skips.
func RegisteredID(oid asn1.ObjectIdentifier) GeneralName {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err) // a constant OID always marshals
	}
	// [8] IMPLICIT OBJECT IDENTIFIER: keep the contents, replace the tag.
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		panic(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagRegisteredID, Bytes: raw.Bytes}
}

// OtherName is an otherName SAN (such as a Microsoft UPN), a kind Go's
// parser silently skips but cert-manager copies into the certificate.
func OtherName(typeID asn1.ObjectIdentifier, utf8Value string) GeneralName {
	value, err := asn1.MarshalWithParams(utf8Value, "utf8")
	if err != nil {
		panic(err)
	}
	inner, err := asn1.Marshal(struct {
		TypeID asn1.ObjectIdentifier
		Value  asn1.RawValue `asn1:"tag:0,explicit"`
	}{TypeID: typeID, Value: asn1.RawValue{FullBytes: value}})
	if err != nil {
		panic(err)
	}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(inner, &seq); err != nil {
		panic(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagOtherName, IsCompound: true, Bytes: seq.Bytes}
}

// SAN is a subjectAltName extension holding names, in order.
func SAN(critical bool, names ...GeneralName) pkix.Extension {
	value, err := asn1.Marshal(names)
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: OIDSubjectAltName, Critical: critical, Value: value}
}

// KeyUsage is a keyUsage extension with the given bits.
func KeyUsage(critical bool, usage x509.KeyUsage) pkix.Extension {
	var b [2]byte
	bitLen := 0
	for i := range 16 {
		if usage&(1<<uint(i)) != 0 {
			b[i/8] |= 0x80 >> uint(i%8)
			bitLen = i + 1
		}
	}
	nbytes := (bitLen + 7) / 8
	value, err := asn1.Marshal(asn1.BitString{Bytes: b[:nbytes], BitLength: bitLen})
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: OIDKeyUsage, Critical: critical, Value: value}
}

// ExtKeyUsage is an extKeyUsage extension listing oids, in order.
func ExtKeyUsage(oids ...asn1.ObjectIdentifier) pkix.Extension {
	value, err := asn1.Marshal(oids)
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: OIDExtKeyUsage, Value: value}
}

// BasicConstraints is a basicConstraints extension. A negative pathLen
// leaves the path length out.
func BasicConstraints(ca bool, pathLen int) pkix.Extension {
	type basicConstraints struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	value, err := asn1.Marshal(basicConstraints{IsCA: ca, MaxPathLen: pathLen})
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: OIDBasicConstraints, Critical: true, Value: value}
}

// Attribute is a raw PKCS #10 attribute: a type and its set of values.
func Attribute(typ asn1.ObjectIdentifier, values ...asn1.RawValue) asn1.RawValue {
	der, err := asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.RawValue `asn1:"set"`
	}{Type: typ, Values: values})
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: der}
}

// ExtensionRequest is the extensionRequest attribute value listing exts.
func ExtensionRequest(exts ...pkix.Extension) asn1.RawValue {
	if exts == nil {
		exts = []pkix.Extension{}
	}
	der, err := asn1.Marshal(exts)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: der}
}

// Spec describes a certificate signing request.
type Spec struct {
	// Key signs the request and is its public key. Default: a new ECDSA
	// P-521 key.
	Key crypto.Signer
	// Subject is the subject. Default: empty, as the driver sends.
	Subject pkix.Name
	// Extensions are the requested extensions, in order, carried in one
	// extensionRequest attribute (left out when there are none).
	Extensions []pkix.Extension
	// Attributes, when not nil, replace the attributes derived from
	// Extensions, for requests no honest client would build.
	Attributes []asn1.RawValue
	// Version is the PKCS #10 version; 0 (v1) is the only valid one.
	Version int
}

// Driver returns the Spec of the request the driver sends for the SPIFFE ID
// id: a new ECDSA P-521 key, an empty subject and a single critical URI SAN.
func Driver(id string) Spec {
	return Spec{Extensions: []pkix.Extension{SAN(true, URI(id))}}
}

// WithDriverUsages returns a copy of s that also carries the keyUsage and
// extKeyUsage extensions matching the driver's spec.usages (key
// encipherment, digital signature, server auth, client auth in that order).
func (s Spec) WithDriverUsages() Spec {
	s.Extensions = append(append([]pkix.Extension{}, s.Extensions...),
		KeyUsage(true, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment),
		ExtKeyUsage(OIDExtKeyUsageServerAuth, OIDExtKeyUsageClientAuth))
	return s
}

// WithKey returns a copy of s with key.
func (s Spec) WithKey(key crypto.Signer) Spec {
	s.Key = key
	return s
}

// NewKey returns a new ECDSA P-521 key, the driver's default.
func NewKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// TBS returns the DER CertificationRequestInfo of s and the key that must
// sign it.
func (s Spec) TBS() ([]byte, crypto.Signer, error) {
	key := s.Key
	if key == nil {
		key = NewKey()
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("failed to marshal public key: %w", err)
	}
	subject := emptySubject
	if len(s.Subject.ToRDNSequence()) > 0 {
		if subject, err = asn1.Marshal(s.Subject.ToRDNSequence()); err != nil {
			return nil, nil, fmt.Errorf("failed to marshal subject: %w", err)
		}
	}
	attrs := s.Attributes
	if attrs == nil {
		attrs = []asn1.RawValue{}
		if len(s.Extensions) > 0 {
			attrs = append(attrs, Attribute(OIDExtensionRequest, ExtensionRequest(s.Extensions...)))
		}
	}
	tbs, err := asn1.Marshal(struct {
		Version       int
		Subject       asn1.RawValue
		PublicKey     asn1.RawValue
		RawAttributes []asn1.RawValue `asn1:"tag:0"`
	}{
		Version:       s.Version,
		Subject:       asn1.RawValue{FullBytes: subject},
		PublicKey:     asn1.RawValue{FullBytes: spki},
		RawAttributes: attrs,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to marshal request info: %w", err)
	}
	return tbs, key, nil
}

// DER returns the signed request in DER.
func (s Spec) DER() ([]byte, error) {
	tbs, key, err := s.TBS()
	if err != nil {
		return nil, err
	}
	return Sign(key, tbs)
}

// PEM returns the signed request in PEM, as spec.request holds it.
func (s Spec) PEM() ([]byte, error) {
	der, err := s.DER()
	if err != nil {
		return nil, err
	}
	return EncodePEM(der), nil
}

// MustPEM is PEM that panics on error, for test tables.
func (s Spec) MustPEM() []byte {
	b, err := s.PEM()
	if err != nil {
		panic(err)
	}
	return b
}

// EncodePEM wraps a DER request in a CERTIFICATE REQUEST PEM block.
func EncodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Sign signs the DER CertificationRequestInfo tbs with key, whatever tbs
// holds, and returns the DER CertificationRequest.
func Sign(key crypto.Signer, tbs []byte) ([]byte, error) {
	var (
		alg    pkix.AlgorithmIdentifier
		digest []byte
		opts   crypto.SignerOpts
	)
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			alg.Algorithm, opts = oidSignatureECDSAWithSHA256, crypto.SHA256
			h := sha256.Sum256(tbs)
			digest = h[:]
		case elliptic.P384():
			alg.Algorithm, opts = oidSignatureECDSAWithSHA384, crypto.SHA384
			h := sha512.Sum384(tbs)
			digest = h[:]
		default:
			alg.Algorithm, opts = oidSignatureECDSAWithSHA512, crypto.SHA512
			h := sha512.Sum512(tbs)
			digest = h[:]
		}
	case *rsa.PublicKey:
		alg.Algorithm, alg.Parameters, opts = oidSignatureSHA256WithRSA, asn1.NullRawValue, crypto.SHA256
		h := sha256.Sum256(tbs)
		digest = h[:]
	case ed25519.PublicKey:
		alg.Algorithm, opts, digest = oidSignatureEd25519, crypto.Hash(0), tbs
	default:
		return nil, errUnsupportedKey
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("failed to sign request: %w", err)
	}
	return asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{
		TBS:       asn1.RawValue{FullBytes: tbs},
		Algorithm: alg,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}
