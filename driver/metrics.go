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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// Failure reasons, the values of the reason label of
// csi_driver_spiffe_failures_total.
const (
	ReasonNoConfiguration    = "NoConfiguration"
	ReasonDriverNameMismatch = "DriverNameMismatch"
	ReasonInvalidVolume      = "InvalidVolume"
	ReasonKeyGeneration      = "KeyGeneration"
	ReasonCreateForbidden    = "CreateForbidden"
	ReasonCreateUnauthorized = "CreateUnauthorized"
	ReasonCreateFailed       = "CreateFailed"
	ReasonDenied             = "Denied"
	ReasonFailed             = "Failed"
	ReasonInvalidRequest     = "InvalidRequest"
	ReasonRequestDeleted     = "RequestDeleted"
	ReasonPendingTooLong     = "PendingTooLong"
	ReasonBadCertificate     = "BadCertificate"
	ReasonWriteFailed        = "WriteFailed"
	ReasonMountFailed        = "MountFailed"
)

// Metrics are the driver's Prometheus metrics.
type Metrics struct {
	issuances     prometheus.Counter
	renewals      prometheus.Counter
	failures      *prometheus.CounterVec
	volumes       prometheus.Gauge
	timeToIssue   *prometheus.HistogramVec
	caFileUpdates prometheus.Counter
}

// ConfigGenerationMetric is the gauge of the configuration generation the
// driver issues with.
const ConfigGenerationMetric = "csi_driver_spiffe_config_generation"

// NewMetrics registers the driver's metrics with reg; config is the
// configuration the driver issues with.
func NewMetrics(reg prometheus.Registerer, config trustdomain.Source) *Metrics {
	m := &Metrics{
		issuances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_driver_spiffe_issuances_total",
			Help: "SVIDs issued for newly published volumes.",
		}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_driver_spiffe_renewals_total",
			Help: "SVIDs renewed for live volumes (including re-issuance after a restart).",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_driver_spiffe_failures_total",
			Help: "Failed issuances, renewals and publishes, by reason.",
		}, []string{"reason"}),
		volumes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "csi_driver_spiffe_volumes",
			Help: "Volumes the driver manages on this node.",
		}),
		timeToIssue: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "csi_driver_spiffe_time_to_issue_seconds",
			Help:    "Time from generating the key to the SVID files being written, by type (issuance or renewal).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"type"}),
		caFileUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_driver_spiffe_ca_file_updates_total",
			Help: "CA files rewritten in live volumes after the CA bundle changed.",
		}),
	}
	// Read at each scrape from what the next issuance reads, so it never
	// runs ahead of (or behind) the configuration in use.
	configGeneration := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: ConfigGenerationMetric,
		Help: "Generation (status.config.generation of the SpiffeTrustDomain) of the configuration the driver issues with; 0 while it has none.",
	}, func() float64 { return float64(trustdomain.Generation(config)) })
	reg.MustRegister(m.issuances, m.renewals, m.failures, m.volumes, m.timeToIssue, m.caFileUpdates, configGeneration)
	return m
}
