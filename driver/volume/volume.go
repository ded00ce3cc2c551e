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

// Package volume reads what kubelet tells the driver about a pod in the volume
// context of NodePublishVolume: the pod, its ServiceAccount, the token kubelet
// requested for the driver (CSIDriver tokenRequests, audience ""), and the
// volume attributes of the pod's manifest.
package volume

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/spiffe"
)

// Keys kubelet sets in the volume context (podInfoOnMount and tokenRequests
// of the CSIDriver object).
const (
	PodNameKey            = "csi.storage.k8s.io/pod.name"
	PodNamespaceKey       = "csi.storage.k8s.io/pod.namespace"
	PodUIDKey             = "csi.storage.k8s.io/pod.uid"
	ServiceAccountNameKey = "csi.storage.k8s.io/serviceAccount.name"
	EphemeralKey          = "csi.storage.k8s.io/ephemeral"
	TokensKey             = "csi.storage.k8s.io/serviceAccount.tokens"
)

// MountGroupKey is where the driver keeps the fsGroup kubelet passed in
// volume_mount_group, in the volume context it stores with the volume's
// metadata. The driver sets or removes it on every publish, so a value from
// the pod's own volumeAttributes never survives.
const MountGroupKey = "internal.spiffe.csi.cert-manager.io/volume-mount-group"

// maxTokenLength bounds the token the driver parses; kubelet's tokens are a
// few kilobytes.
const maxTokenLength = 64 << 10

// Error is a problem with the volume context: the request is refused with
// InvalidArgument, or PermissionDenied when Denied is set (the token names a
// different identity than the pod).
type Error struct {
	Msg    string
	Denied bool
}

func (e *Error) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

func denied(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Denied: true}
}

// Pod is the pod a volume is published for and the identity it asks for.
type Pod struct {
	Name      string
	Namespace string
	UID       string
	// ServiceAccount is the name of the pod's ServiceAccount, in Namespace.
	ServiceAccount string
	// Token is the pod's ServiceAccount token for audience "" (the API
	// server). Never log it.
	Token string
}

// String names the pod without its token.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// ParsePod reads the pod and its token from a volume context and checks that
// the token's claims name the same namespace, ServiceAccount (and, for a
// token bound to a pod, the same pod) as kubelet's pod information.
//
// The token's signature is not verified here: the driver only uses its
// claims to build the SPIFFE ID it asks for, and it sends the token to the
// API server, which verifies it when the driver creates the
// CertificateRequest with it. The approver then checks that the requested ID
// is the one of the authenticated ServiceAccount.
func ParsePod(ctx map[string]string) (Pod, error) {
	p := Pod{
		Name:           ctx[PodNameKey],
		Namespace:      ctx[PodNamespaceKey],
		UID:            ctx[PodUIDKey],
		ServiceAccount: ctx[ServiceAccountNameKey],
	}
	var missing []string
	for _, key := range []string{PodNameKey, PodNamespaceKey, ServiceAccountNameKey} {
		if ctx[key] == "" {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return Pod{}, invalid("the volume context lacks %s: the CSIDriver object must set podInfoOnMount: true", strings.Join(missing, ", "))
	}
	token, err := EmptyAudienceToken(ctx)
	if err != nil {
		return Pod{}, err
	}
	claims, err := ParseTokenClaims(token)
	if err != nil {
		return Pod{}, err
	}
	if claims.Namespace != p.Namespace {
		return Pod{}, denied("the ServiceAccount token is for namespace %q but the pod is in namespace %q", claims.Namespace, p.Namespace)
	}
	if claims.ServiceAccount != p.ServiceAccount {
		return Pod{}, denied("the ServiceAccount token is for ServiceAccount %q but the pod runs as %q", claims.ServiceAccount, p.ServiceAccount)
	}
	if claims.PodName != "" && claims.PodName != p.Name {
		return Pod{}, denied("the ServiceAccount token is bound to pod %q, not to pod %q", claims.PodName, p.Name)
	}
	if claims.PodUID != "" && p.UID != "" && claims.PodUID != p.UID {
		return Pod{}, denied("the ServiceAccount token is bound to pod UID %q, not to %q", claims.PodUID, p.UID)
	}
	p.Token = token
	return p, nil
}

// EmptyAudienceToken returns the token for audience "" from
// csi.storage.k8s.io/serviceAccount.tokens.
func EmptyAudienceToken(ctx map[string]string) (string, error) {
	raw, ok := ctx[TokensKey]
	if !ok || raw == "" {
		return "", invalid("the volume context lacks %s: the CSIDriver object must request a token with tokenRequests: [{audience: \"\"}]", TokensKey)
	}
	var tokens map[string]struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(raw), &tokens); err != nil {
		// The message must not quote the value: it holds tokens.
		return "", invalid("%s is not a JSON map of audience to token", TokensKey)
	}
	t, ok := tokens[""]
	if !ok || t.Token == "" {
		return "", invalid("%s has no token for audience \"\": the CSIDriver object must request a token with tokenRequests: [{audience: \"\"}]", TokensKey)
	}
	return t.Token, nil
}

// Claims are the Kubernetes claims of a ServiceAccount token.
type Claims struct {
	Namespace      string
	ServiceAccount string
	// PodName and PodUID are set for tokens bound to a pod.
	PodName string
	PodUID  string
}

// ParseTokenClaims decodes the claims of a ServiceAccount JWT without
// verifying its signature (see ParsePod) and checks that the namespace and
// ServiceAccount are valid names, so they cannot inject anything into a
// SPIFFE ID.
func ParseTokenClaims(token string) (Claims, error) {
	if len(token) > maxTokenLength {
		return Claims{}, invalid("the ServiceAccount token is longer than %d bytes", maxTokenLength)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, invalid("the ServiceAccount token is not a JWT (want three dot-separated parts, got %d)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, invalid("the ServiceAccount token's payload is not base64url: %v", err)
	}
	var c struct {
		Subject    string `json:"sub"`
		Kubernetes *struct {
			Namespace      string `json:"namespace"`
			ServiceAccount *struct {
				Name string `json:"name"`
			} `json:"serviceaccount"`
			Pod *struct {
				Name string `json:"name"`
				UID  string `json:"uid"`
			} `json:"pod"`
		} `json:"kubernetes.io"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, invalid("the ServiceAccount token's claims are not a JSON object: %v", err)
	}
	if c.Kubernetes == nil || c.Kubernetes.Namespace == "" || c.Kubernetes.ServiceAccount == nil || c.Kubernetes.ServiceAccount.Name == "" {
		return Claims{}, invalid("the ServiceAccount token lacks the kubernetes.io namespace and serviceaccount claims: is it a bound ServiceAccount token?")
	}
	out := Claims{Namespace: c.Kubernetes.Namespace, ServiceAccount: c.Kubernetes.ServiceAccount.Name}
	if c.Kubernetes.Pod != nil {
		out.PodName, out.PodUID = c.Kubernetes.Pod.Name, c.Kubernetes.Pod.UID
	}
	if msgs := validation.IsDNS1123Label(out.Namespace); len(msgs) > 0 {
		return Claims{}, invalid("the ServiceAccount token names an invalid namespace %q: %s", out.Namespace, msgs[0])
	}
	if msgs := validation.IsDNS1123Subdomain(out.ServiceAccount); len(msgs) > 0 {
		return Claims{}, invalid("the ServiceAccount token names an invalid ServiceAccount %q: %s", out.ServiceAccount, msgs[0])
	}
	if c.Subject != "" && c.Subject != spiffe.ServiceAccountUsername(out.Namespace, out.ServiceAccount) {
		return Claims{}, invalid("the ServiceAccount token's subject %q disagrees with its kubernetes.io claims (%s/%s)", c.Subject, out.Namespace, out.ServiceAccount)
	}
	return out, nil
}

// IsEphemeral reports whether kubelet publishes the volume as a CSI inline
// ephemeral volume, the only kind the driver serves.
func IsEphemeral(ctx map[string]string) bool {
	return ctx[EphemeralKey] == "true"
}

// FSGroup returns the group that must own the volume's files: the
// spiffe.csi.cert-manager.io/fs-group attribute when set, else the pod's
// fsGroup that kubelet passed as volume_mount_group (kept under
// MountGroupKey), else nil (root).
func FSGroup(ctx map[string]string) (*int64, error) {
	if v, ok := ctx[spiffe.FSGroupAttribute]; ok {
		gid, err := ParseGroup(v)
		if err != nil {
			return nil, invalid("volume attribute %s: %v", spiffe.FSGroupAttribute, err)
		}
		return &gid, nil
	}
	if v, ok := ctx[MountGroupKey]; ok {
		gid, err := ParseGroup(v)
		if err != nil {
			return nil, invalid("volume_mount_group: %v", err)
		}
		return &gid, nil
	}
	return nil, nil
}

// ParseGroup parses a group ID: a decimal integer from 1 to 4294967294
// (4294967295 is (gid_t)-1, "no change", to the kernel).
func ParseGroup(s string) (int64, error) {
	gid, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a group ID: want a positive integer", s)
	}
	if gid <= 0 || gid >= 4294967295 {
		return 0, fmt.Errorf("group ID %d is out of range: want 1 to 4294967294", gid)
	}
	return gid, nil
}

// IsError reports whether err is a volume context Error.
func IsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
