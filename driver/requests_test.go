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
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestLabelValues(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("node-", 20)
	tests := map[string]struct {
		got, want string
	}{
		"a node name that is a label value":   {got: NodeLabelValue("node-1"), want: "node-1"},
		"a node name too long for a label":    {got: NodeLabelValue(long), want: hashLabel(long)},
		"a kubelet volume ID (68 characters)": {got: VolumeLabelValue("csi-" + strings.Repeat("a", 64)), want: hashLabel("csi-" + strings.Repeat("a", 64))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
			if msgs := validation.IsValidLabelValue(tc.got); len(msgs) > 0 {
				t.Errorf("%q is not a label value: %v", tc.got, msgs)
			}
		})
	}
	if VolumeLabelValue("a") == VolumeLabelValue("b") {
		t.Error("different volumes share a label value")
	}
}

func TestRequestName(t *testing.T) {
	t.Parallel()
	for pod, want := range map[string]string{
		"app-1":                        "app-1-abc",
		strings.Repeat("a", 60):        strings.Repeat("a", 52) + "-abc",
		strings.Repeat("a", 51) + ".b": strings.Repeat("a", 51) + "-abc",
		"":                             "csi-spiffe-abc",
	} {
		got := requestName(pod, "abc")
		if got != want {
			t.Errorf("requestName(%q) = %q, want %q", pod, got, want)
		}
		if msgs := validation.IsDNS1123Subdomain(got); len(msgs) > 0 {
			t.Errorf("%q is not an object name: %v", got, msgs)
		}
	}
}

func TestRenewalTime(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Minute)
	for pct, want := range map[int32]time.Duration{
		33: 60*time.Minute + 18*time.Second,
		50: 45 * time.Minute,
		10: 81 * time.Minute,
		0:  60 * time.Minute, // unset: cert-manager's default, a third
	} {
		if got := renewalTime(start, end, pct).Sub(start); got != want {
			t.Errorf("renewBeforePercentage %d: renew after %s, want %s", pct, got, want)
		}
	}
}
