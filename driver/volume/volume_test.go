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

package volume

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// jwt returns an unsigned JWT with claims, as the driver only reads them.
func jwt(claims any) string {
	payload, _ := json.Marshal(claims)
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
}

func saClaims(ns, sa string) map[string]any {
	return map[string]any{
		"sub": "system:serviceaccount:" + ns + ":" + sa,
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]any{"name": sa, "uid": "1"},
			"pod":            map[string]any{"name": "app-1", "uid": "pod-uid"},
		},
	}
}

func volumeContext(token string) map[string]string {
	tokens, _ := json.Marshal(map[string]any{"": map[string]any{"token": token, "expirationTimestamp": "2030-01-01T00:00:00Z"}})
	return map[string]string{
		PodNameKey:            "app-1",
		PodNamespaceKey:       "sandbox",
		PodUIDKey:             "pod-uid",
		ServiceAccountNameKey: "app",
		EphemeralKey:          "true",
		TokensKey:             string(tokens),
	}
}

func TestParsePod(t *testing.T) {
	t.Parallel()
	good := jwt(saClaims("sandbox", "app"))
	tests := map[string]struct {
		ctx        map[string]string
		wantErr    string
		wantDenied bool
	}{
		"a token of the pod's ServiceAccount": {ctx: volumeContext(good)},
		"no pod information": {ctx: func() map[string]string {
			c := volumeContext(good)
			delete(c, PodNameKey)
			delete(c, ServiceAccountNameKey)
			return c
		}(), wantErr: "csi.storage.k8s.io/pod.name, csi.storage.k8s.io/serviceAccount.name: the CSIDriver object must set podInfoOnMount"},
		"no tokens":                            {ctx: func() map[string]string { c := volumeContext(good); delete(c, TokensKey); return c }(), wantErr: "lacks csi.storage.k8s.io/serviceAccount.tokens"},
		"tokens that are not JSON":             {ctx: func() map[string]string { c := volumeContext(good); c[TokensKey] = "{" + good; return c }(), wantErr: "is not a JSON map"},
		"no token for audience \"\"":           {ctx: func() map[string]string { c := volumeContext(good); c[TokensKey] = `{"vault":{"token":"x"}}`; return c }(), wantErr: `no token for audience ""`},
		"a token that is not a JWT":            {ctx: volumeContext("not-a-jwt"), wantErr: "not a JWT"},
		"a token with bad base64":              {ctx: volumeContext("a.!!!.c"), wantErr: "not base64url"},
		"a token with bad JSON":                {ctx: volumeContext("a." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + ".c"), wantErr: "not a JSON object"},
		"a token without kubernetes.io claims": {ctx: volumeContext(jwt(map[string]any{"sub": "system:serviceaccount:sandbox:app"})), wantErr: "lacks the kubernetes.io namespace and serviceaccount claims"},
		"a token of another namespace":         {ctx: volumeContext(jwt(saClaims("other", "app"))), wantErr: `for namespace "other" but the pod is in namespace "sandbox"`, wantDenied: true},
		"a token of another ServiceAccount":    {ctx: volumeContext(jwt(saClaims("sandbox", "admin"))), wantErr: `for ServiceAccount "admin" but the pod runs as "app"`, wantDenied: true},
		"a token bound to another pod": {ctx: func() map[string]string {
			c := saClaims("sandbox", "app")
			c["kubernetes.io"].(map[string]any)["pod"] = map[string]any{"name": "other", "uid": "x"}
			return volumeContext(jwt(c))
		}(), wantErr: `bound to pod "other"`, wantDenied: true},
		"a namespace that injects a path": {ctx: func() map[string]string {
			c := volumeContext(jwt(saClaims("sandbox/sa/admin", "app")))
			c[PodNamespaceKey] = "sandbox/sa/admin"
			return c
		}(), wantErr: "invalid namespace"},
		"a ServiceAccount name that injects a path": {ctx: func() map[string]string {
			c := volumeContext(jwt(saClaims("sandbox", "app/../admin")))
			c[ServiceAccountNameKey] = "app/../admin"
			return c
		}(), wantErr: "invalid ServiceAccount"},
		"a subject that disagrees with the claims": {ctx: func() map[string]string {
			c := saClaims("sandbox", "app")
			c["sub"] = "system:serviceaccount:kube-system:admin"
			return volumeContext(jwt(c))
		}(), wantErr: "disagrees with its kubernetes.io claims"},
		"a huge token": {ctx: volumeContext(strings.Repeat("a", maxTokenLength+1)), wantErr: "longer than"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pod, err := ParsePod(tc.ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if pod.Namespace != "sandbox" || pod.ServiceAccount != "app" || pod.Name != "app-1" || pod.UID != "pod-uid" || pod.Token != good {
					t.Errorf("ParsePod = %+v", pod)
				}
				if strings.Contains(pod.String(), good) {
					t.Error("Pod.String shows the token")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParsePod error %v, want %q", err, tc.wantErr)
			}
			e, ok := IsError(err)
			if !ok || e.Denied != tc.wantDenied {
				t.Errorf("error %#v: Denied = %v, want %v", err, ok && e.Denied, tc.wantDenied)
			}
			for _, secret := range []string{good, tc.ctx[TokensKey]} {
				if len(secret) > 20 && strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the token: %v", err)
				}
			}
		})
	}
}

func TestFSGroup(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ctx     map[string]string
		want    int64
		wantErr string
	}{
		"none":                           {ctx: map[string]string{}},
		"the attribute":                  {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "456"}, want: 456},
		"the mount group":                {ctx: map[string]string{MountGroupKey: "789"}, want: 789},
		"the attribute over the group":   {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "456", MountGroupKey: "789"}, want: 456},
		"the largest group":              {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "4294967294"}, want: 4294967294},
		"not a number":                   {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "root"}, wantErr: "not a group ID"},
		"zero":                           {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "0"}, wantErr: "out of range"},
		"negative":                       {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "-1"}, wantErr: "out of range"},
		"(gid_t)-1":                      {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "4294967295"}, wantErr: "out of range"},
		"too large":                      {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "99999999999999999999"}, wantErr: "not a group ID"},
		"empty":                          {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": ""}, wantErr: "not a group ID"},
		"a space":                        {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": " 5"}, wantErr: "not a group ID"},
		"a bad mount group":              {ctx: map[string]string{MountGroupKey: "x"}, wantErr: "volume_mount_group"},
		"a bad attribute names the attr": {ctx: map[string]string{"spiffe.csi.cert-manager.io/fs-group": "x"}, wantErr: "spiffe.csi.cert-manager.io/fs-group"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := FSGroup(tc.ctx)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("FSGroup error %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("FSGroup error %v", err)
			case tc.want == 0 && got != nil, tc.want != 0 && (got == nil || *got != tc.want):
				t.Errorf("FSGroup = %v, want %d", got, tc.want)
			}
		})
	}
}

func TestIsEphemeral(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"true": true, "false": false, "": false, "True": false} {
		if got := IsEphemeral(map[string]string{EphemeralKey: v}); got != want {
			t.Errorf("IsEphemeral(%q) = %v, want %v", v, got, want)
		}
	}
}
