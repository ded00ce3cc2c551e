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

package approver

import (
	"sync/atomic"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

// Values of the result label.
const (
	resultApproved = "approved"
	resultDenied   = "denied"
)

var (
	decisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csi_driver_spiffe_approver_decisions_total",
		Help: "CertificateRequests decided by this approver, by result (approved, denied) and by the first broken rule of the issuance policy (none when approved).",
	}, []string{"result", "rule"})

	competingDecisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csi_driver_spiffe_approver_competing_decisions_total",
		Help: "CertificateRequests for the trust domain's issuer found decided by another approver, by the condition it set (Approved, Denied); each request counts once per process.",
	}, []string{"condition"})

	competingRequests = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "csi_driver_spiffe_approver_competing_requests",
		Help: "CertificateRequests for the trust domain's issuer that another approver decided and that still exist.",
	})

	// configSource is the configuration of the approver Setup registered
	// last in this process (one per process outside tests), read at each
	// scrape: the gauge never runs ahead of the configuration in use.
	configSource atomic.Pointer[trustdomain.Source]

	configGeneration = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: ConfigGenerationMetric,
		Help: "Generation (status.config.generation of the SpiffeTrustDomain) of the configuration the approver decides with; 0 while it has none.",
	}, func() float64 {
		src := configSource.Load()
		if src == nil {
			return 0
		}
		return float64(trustdomain.Generation(*src))
	})
)

// ConfigGenerationMetric is the gauge of the configuration generation the
// approver decides with.
const ConfigGenerationMetric = "csi_driver_spiffe_approver_config_generation"

func init() {
	metrics.Registry.MustRegister(decisionsTotal, competingDecisionsTotal, competingRequests, configGeneration)
	// Every series exists from the start, so that rates and alerts work
	// before the first decision of a kind.
	decisionsTotal.WithLabelValues(resultApproved, string(evaluator.RuleNone))
	for _, rule := range evaluator.Rules {
		decisionsTotal.WithLabelValues(resultDenied, string(rule))
	}
	competingDecisionsTotal.WithLabelValues(string(cmapi.CertificateRequestConditionApproved))
	competingDecisionsTotal.WithLabelValues(string(cmapi.CertificateRequestConditionDenied))
}
