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
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
)

func TestDesiredChildren(t *testing.T) {
	t.Parallel()
	const ns = "csi-driver-spiffe"
	identities := []string{
		"ServiceAccount " + ns + "/foo-bar-driver",
		"ServiceAccount " + ns + "/foo-bar-approver",
		"ClusterRole csi-driver-spiffe:foo-bar:driver",
		"ClusterRole csi-driver-spiffe:foo-bar:approver",
		"ClusterRole csi-driver-spiffe:foo-bar:requester",
		"Role " + ns + "/csi-driver-spiffe:foo-bar:approver",
		"ClusterRoleBinding csi-driver-spiffe:foo-bar:driver",
		"ClusterRoleBinding csi-driver-spiffe:foo-bar:approver",
		"RoleBinding " + ns + "/csi-driver-spiffe:foo-bar:approver",
	}
	workloads := []string{
		"CSIDriver spiffe.csi.cert-manager.io",
		"DaemonSet " + ns + "/foo-bar-driver",
		"Deployment " + ns + "/foo-bar-approver",
	}
	concat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := map[string]struct {
		in        installInputs
		want      []string
		kept      []string
		caMounted bool
	}{
		"identities, then permissions, then the workloads that use them": {
			want: concat(identities, workloads),
		},
		"requester bindings after the operand bindings": {
			in: installInputs{RequesterNamespaces: []string{"team-a", "team-b"}},
			want: concat(identities, []string{
				"RoleBinding team-a/csi-driver-spiffe:foo-bar:requester",
				"RoleBinding team-b/csi-driver-spiffe:foo-bar:requester",
			}, workloads),
		},
		"a new CA bundle before the DaemonSet that mounts it": {
			in:        installInputs{CABundle: &caBundle{PEM: []byte("x"), Certificates: 1}},
			want:      concat(identities, []string{"ConfigMap " + ns + "/foo-bar-ca-bundle"}, workloads),
			caMounted: true,
		},
		"a broken source keeps the existing CA bundle, mounted and untouched": {
			in:        installInputs{KeepCABundle: true},
			want:      concat(identities, []string{"ConfigMap " + ns + "/foo-bar-ca-bundle"}, workloads),
			kept:      []string{"ConfigMap " + ns + "/foo-bar-ca-bundle"},
			caMounted: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			children := desiredChildren(testTrustDomain(), testOptions, tc.in)
			var got, kept []string
			for _, c := range children {
				id := c.Key.Kind + " " + keyName(c.Key)
				got = append(got, id)
				if c.Apply == nil {
					kept = append(kept, id)
				}
				if ds, ok := c.Apply.(*appsv1ac.DaemonSetApplyConfiguration); ok {
					mounted := false
					for _, v := range ds.Spec.Template.Spec.Volumes {
						mounted = mounted || *v.Name == volumeCABundle
					}
					if mounted != tc.caMounted {
						t.Errorf("CA bundle mounted = %v, want %v", mounted, tc.caMounted)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("children in apply order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.kept, kept); diff != "" {
				t.Errorf("kept children (-want +got):\n%s", diff)
			}
		})
	}
}
