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

// Package approver decides cert-manager CertificateRequests for the issuer of
// one SPIFFE trust domain: it approves those that ask for exactly the SVID of
// the ServiceAccount that created them and denies all others, following the
// published configuration (status.config) of a SpiffeTrustDomain. It also
// reports another approver racing it on the SpiffeTrustDomain.
package approver

import (
	"errors"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/cert-manager/csi-driver-spiffe-operator/approver/evaluator"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/trustdomain"
)

const (
	// FieldManager owns, through server-side apply, the Approved and Denied
	// conditions of CertificateRequests and the CompetingApprover condition
	// of the SpiffeTrustDomain.
	FieldManager = "csi-driver-spiffe-approver"

	// ControllerName names the controller and is the reporting controller
	// of its events.
	ControllerName = "csi-driver-spiffe-approver"

	// DefaultWorkers is the default number of requests decided in parallel.
	DefaultWorkers = 16

	// DefaultCompetingResync is how often, by default, the
	// CompetingApprover condition is recomputed even without events.
	DefaultCompetingResync = 5 * time.Minute
)

// Options configure the approver.
type Options struct {
	// TrustDomainObject is the name of the SpiffeTrustDomain whose
	// configuration the approver enforces and whose status carries the
	// CompetingApprover condition. Required.
	TrustDomainObject string

	// Source delivers the SpiffeTrustDomain's published configuration.
	// Required.
	Source trustdomain.Source

	// Evaluator decides requests. Default: evaluator.New().
	Evaluator evaluator.Interface

	// Workers is the number of requests decided in parallel. Default
	// DefaultWorkers.
	Workers int

	// Clock stamps conditions. Default: the real clock.
	Clock clock.PassiveClock

	// CompetingResync is how often the CompetingApprover condition is
	// recomputed from the cache even when nothing notified a change.
	// Default DefaultCompetingResync.
	CompetingResync time.Duration
}

// Setup registers the approver with mgr: the CertificateRequest controller
// and the runnable that maintains the CompetingApprover condition. Both run
// on the elected leader only; the configuration Source must be running on
// every replica.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.TrustDomainObject == "" || opts.Source == nil {
		return errors.New("the approver needs a SpiffeTrustDomain name and a configuration source")
	}
	if opts.Evaluator == nil {
		opts.Evaluator = evaluator.New()
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.CompetingResync <= 0 {
		opts.CompetingResync = DefaultCompetingResync
	}

	configSource.Store(&opts.Source)

	recorder := mgr.GetEventRecorder(ControllerName)
	comp := &competition{
		name:        opts.TrustDomainObject,
		cache:       mgr.GetCache(),
		apiReader:   mgr.GetAPIReader(),
		client:      mgr.GetClient(),
		source:      opts.Source,
		recorder:    recorder,
		clock:       opts.Clock,
		resync:      opts.CompetingResync,
		minInterval: time.Second,
		poke:        make(chan struct{}, 1),
	}
	if err := mgr.Add(comp); err != nil {
		return err
	}
	r := &reconciler{
		client:    mgr.GetClient(),
		source:    opts.Source,
		evaluator: opts.Evaluator,
		recorder:  recorder,
		clock:     opts.Clock,
		competing: comp,
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("certificaterequest-approver").
		For(&cmapi.CertificateRequest{}).
		WatchesRawSource(configChanges(opts.Source, mgr.GetCache())).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Workers}).
		Complete(r)
}
