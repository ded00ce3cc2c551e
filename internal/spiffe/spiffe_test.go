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

package spiffe

import "testing"

func TestID(t *testing.T) {
	t.Parallel()
	if got, want := ID("foo.bar", "sandbox", "example-app").String(), "spiffe://foo.bar/ns/sandbox/sa/example-app"; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
}

func TestParseServiceAccountUsername(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		username      string
		wantNamespace string
		wantName      string
		wantErr       bool
	}{
		"a ServiceAccount":                  {username: "system:serviceaccount:sandbox:example-app", wantNamespace: "sandbox", wantName: "example-app"},
		"a ServiceAccount with dots":        {username: "system:serviceaccount:ns:app.v1", wantNamespace: "ns", wantName: "app.v1"},
		"a user":                            {username: "alice", wantErr: true},
		"the serviceaccounts group":         {username: "system:serviceaccounts:sandbox", wantErr: true},
		"a node":                            {username: "system:node:worker-1", wantErr: true},
		"no name":                           {username: "system:serviceaccount:sandbox:", wantErr: true},
		"no namespace":                      {username: "system:serviceaccount::app", wantErr: true},
		"a colon in the name":               {username: "system:serviceaccount:sandbox:app:extra", wantErr: true},
		"a slash in the namespace":          {username: "system:serviceaccount:sand/box:app", wantErr: true},
		"a path traversal in the name":      {username: "system:serviceaccount:sandbox:../admin", wantErr: true},
		"uppercase namespace":               {username: "system:serviceaccount:Sandbox:app", wantErr: true},
		"prefix in another case":            {username: "System:ServiceAccount:sandbox:app", wantErr: true},
		"empty":                             {username: "", wantErr: true},
		"only the prefix":                   {username: "system:serviceaccount:", wantErr: true},
		"a SPIFFE-looking name is refused":  {username: "system:serviceaccount:sandbox:sa/other", wantErr: true},
		"a name with a percent is refused":  {username: "system:serviceaccount:sandbox:a%2fb", wantErr: true},
		"a name with whitespace is refused": {username: "system:serviceaccount:sandbox:a b", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns, sa, err := ParseServiceAccountUsername(tc.username)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if ns != tc.wantNamespace || sa != tc.wantName {
				t.Errorf("got %q/%q, want %q/%q", ns, sa, tc.wantNamespace, tc.wantName)
			}
		})
	}
}
