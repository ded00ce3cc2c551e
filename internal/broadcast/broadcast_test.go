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

package broadcast_test

import (
	"bytes"
	"testing"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/broadcast"
)

func TestValue(t *testing.T) {
	t.Parallel()
	b := broadcast.New([]byte("a"), bytes.Equal)
	first, second := b.Subscribe(), b.Subscribe()

	if b.Set([]byte("a")) {
		t.Error("Set of an equal value reported a change")
	}
	for name, ch := range map[string]<-chan struct{}{"first": first, "second": second} {
		select {
		case <-ch:
			t.Errorf("the %s subscriber was notified of an equal value", name)
		default:
		}
	}

	// Two changes before anyone reads coalesce into one notification.
	if !b.Set([]byte("b")) || !b.Set([]byte("c")) {
		t.Error("Set of a different value reported no change")
	}
	for name, ch := range map[string]<-chan struct{}{"first": first, "second": second} {
		select {
		case <-ch:
		default:
			t.Errorf("the %s subscriber was not notified", name)
		}
		select {
		case <-ch:
			t.Errorf("the %s subscriber was notified twice for coalesced changes", name)
		default:
		}
	}
	if got := string(b.Get()); got != "c" {
		t.Errorf("Get() = %q, want %q", got, "c")
	}
}
