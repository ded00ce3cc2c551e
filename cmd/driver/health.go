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
	"errors"
	"net/http"

	"github.com/cert-manager/csi-driver-spiffe-operator/driver/registration"
)

// readiness is what /readyz waits for besides the registration.
type readiness interface {
	// Ready returns nil when the driver can publish volumes, else why not.
	Ready() error
}

// healthHandler serves the driver's probes, in place of the livenessprobe
// sidecar:
//   - /healthz (liveness) fails only when a restart of the container mends
//     something: the kubelet registration socket cannot be (re-)created. A
//     driver waiting for its configuration is alive: restarting it would not
//     bring the configuration sooner.
//   - /readyz (readiness) succeeds once the driver can publish volumes (a
//     configuration is published for its driver name, its CertificateRequest
//     cache synced) and, when it registers itself, kubelet has registered it.
//
// Each answers 200 "ok", or 503 (/healthz 500) with every reason, one a line.
func healthHandler(d readiness, registrar *registration.Registrar) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if registrar != nil {
			if err := registrar.Healthy(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		errs := []error{d.Ready()}
		if registrar != nil {
			errs = append(errs, registrar.Registered())
		}
		if err := errors.Join(errs...); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}
