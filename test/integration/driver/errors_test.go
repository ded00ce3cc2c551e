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

package driver

import (
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/driverenv"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// wantStatus fails unless err is a gRPC error with code and a message
// holding every one of parts.
func wantStatus(t *testing.T, err error, code codes.Code, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s with %q", code, parts)
	}
	st := status.Convert(err)
	if st.Code() != code || !containsAll(st.Message(), parts...) {
		t.Fatalf("got %s: %q, want %s with %q", st.Code(), st.Message(), code, parts)
	}
}

// Publishing is refused, with an error that says why, for what the driver
// cannot or must not serve.
func TestPublishRefusals(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{
		Decide: func(cr *cmapi.CertificateRequest) (bool, string) {
			if strings.HasPrefix(cr.Name, "denied-") {
				return false, "ServiceAccount is not allowed an SVID by policy X"
			}
			return true, "ok"
		},
	})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := testEnv.EnsureServiceAccount(ctx, ns, "no-rbac"); err != nil {
		t.Fatal(err)
	}

	t.Run("a ServiceAccount without RBAC to create CertificateRequests", func(t *testing.T) {
		v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "no-rbac", ServiceAccount: "no-rbac"})
		wantStatus(t, err, codes.PermissionDenied, "ServiceAccount "+ns+"/no-rbac may not create CertificateRequests", `"create" on certificaterequests`, "forbidden")
		if crs := volumeRequests(t, ns, v.ID); len(crs) != 0 {
			t.Errorf("got %d CertificateRequests", len(crs))
		}
	})
	t.Run("a request the approver denies", func(t *testing.T) {
		_, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "denied-1", ServiceAccount: "app"})
		wantStatus(t, err, codes.PermissionDenied, "was denied", "ServiceAccount is not allowed an SVID by policy X")
	})
	t.Run("a writable volume", func(t *testing.T) {
		_, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "writable", ServiceAccount: "app", Writable: true})
		wantStatus(t, err, codes.InvalidArgument, "readOnly to true")
	})
	// volumeOf creates a pod and returns its volume, not yet published.
	volumeOf := func(t *testing.T, name, sa string) *kubelet.Volume {
		t.Helper()
		pod, err := f.Kubelet.CreatePod(ctx, kubelet.PodOptions{Namespace: ns, Name: name, ServiceAccount: sa})
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Kubelet.Volume(pod)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("a volume that is not ephemeral", func(t *testing.T) {
		v := volumeOf(t, "persistent", "app")
		token, err := testEnv.PodToken(ctx, v.Pod, 3600)
		if err != nil {
			t.Fatal(err)
		}
		req, err := v.Request(token)
		if err != nil {
			t.Fatal(err)
		}
		req.VolumeContext[kubelet.EphemeralKey] = "false"
		_, err = f.Kubelet.Node().NodePublishVolume(ctx, req)
		wantStatus(t, err, codes.InvalidArgument, "only CSI inline ephemeral volumes are supported")
	})
	t.Run("a volume without a token", func(t *testing.T) {
		err := volumeOf(t, "no-token", "app").PublishWithToken(ctx, nil)
		wantStatus(t, err, codes.InvalidArgument, "csi.storage.k8s.io/serviceAccount.tokens", `tokenRequests: [{audience: ""}]`)
	})
	t.Run("a token of another ServiceAccount", func(t *testing.T) {
		token, err := testEnv.PodToken(ctx, volumeOf(t, "other-sa", "no-rbac").Pod, 3600)
		if err != nil {
			t.Fatal(err)
		}
		err = volumeOf(t, "victim", "app").PublishWithToken(ctx, token)
		wantStatus(t, err, codes.PermissionDenied, `for ServiceAccount "no-rbac"`, `runs as "app"`)
	})
	t.Run("a bad fs-group attribute", func(t *testing.T) {
		for _, bad := range []string{"abc", "0", "-5", "4294967295"} {
			_, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "bad-group-" + strings.TrimPrefix(bad, "-"), ServiceAccount: "app", VolumeAttributes: map[string]string{"spiffe.csi.cert-manager.io/fs-group": bad}})
			wantStatus(t, err, codes.InvalidArgument, "spiffe.csi.cert-manager.io/fs-group")
		}
	})
	t.Run("another driver name in the configuration", func(t *testing.T) {
		if err := f.SetConfig(ctx, func(c *spiffev1alpha1.TrustDomainConfig) { c.DriverName = "other.csi.example.com" }); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the driver to see the new driver name", func() (bool, string) {
			_, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "wrong-name-" + randSuffix(), ServiceAccount: "app"})
			return status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), `"other.csi.example.com"`), status.Convert(err).Message()
		})
		probe, err := f.Kubelet.Identity().Probe(ctx, &csi.ProbeRequest{})
		if err != nil || probe.GetReady().GetValue() {
			t.Errorf("Probe = %v, %v; want not ready", probe, err)
		}
	})
}

// Before a configuration is published, NodePublishVolume fails with a
// retryable error saying why and Probe is not ready; once it is published,
// volumes are served without a restart.
func TestPublishWaitsForConfiguration(t *testing.T) {
	f := driverenv.Setup(t, testEnv, driverenv.Options{NoConfig: true})
	ctx := t.Context()
	ns := newNamespace(t)
	if err := f.GrantRequester(ctx, ns, "app"); err != nil {
		t.Fatal(err)
	}
	probe, err := f.Kubelet.Identity().Probe(ctx, &csi.ProbeRequest{})
	if err != nil || probe.GetReady().GetValue() {
		t.Fatalf("Probe = %v, %v; want not ready", probe, err)
	}
	v, err := f.Kubelet.PublishPod(ctx, kubelet.PodOptions{Namespace: ns, Name: "early", ServiceAccount: "app"})
	wantStatus(t, err, codes.Unavailable, "no configuration yet", "status.config is empty")

	if err := f.SetConfig(ctx, func(*spiffev1alpha1.TrustDomainConfig) {}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Probe to be ready", func() (bool, string) {
		probe, err := f.Kubelet.Identity().Probe(ctx, &csi.ProbeRequest{})
		return err == nil && probe.GetReady().GetValue(), probe.String()
	})
	if err := v.Republish(ctx); err != nil {
		t.Fatalf("NodePublishVolume after the configuration was published: %v", err)
	}
	loadSVID(t, f, v, f.CA)
}
