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
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

const containerApprover = "approver"

// approverUID is the user and group the approver runs as: any non-root ID
// works, as the approver writes nothing to disk. It is set explicitly so the
// pod starts whatever USER the image declares.
const approverUID = 65532

// buildApproverDeployment returns the approver Deployment of td. It meets
// the restricted Pod Security Standard: non-root, read-only root
// filesystem, no privilege escalation, every capability dropped, the
// runtime's default seccomp profile, no host access.
func buildApproverDeployment(td *spiffev1alpha1.SpiffeTrustDomain, opts Options) *appsv1ac.DeploymentApplyConfiguration {
	spec := td.Spec.Approver
	replicas := spec.Replicas
	if replicas < 1 {
		replicas = 1
	}
	args := []string{
		"approver",
		"--trust-domain-object=" + td.Name,
		"--log-level=" + strconv.Itoa(int(spec.LogLevel)),
		"--metrics-bind-address=:" + strconv.Itoa(metricsPort),
		"--health-probe-bind-address=:" + strconv.Itoa(healthPort),
	}
	if replicas > 1 {
		args = append(args, "--leader-elect", "--leader-election-namespace=$(POD_NAMESPACE)")
	}

	approver := corev1ac.Container().
		WithName(containerApprover).
		WithImage(orDefault(spec.Image, opts.Image)).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(args...).
		WithEnv(corev1ac.EnvVar().WithName("POD_NAMESPACE").WithValueFrom(fieldRef("metadata.namespace"))).
		WithPorts(
			corev1ac.ContainerPort().WithName("metrics").WithContainerPort(metricsPort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("health").WithContainerPort(healthPort).WithProtocol(corev1.ProtocolTCP),
		).
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/readyz").WithPort(intstr.FromString("health"))).
			WithPeriodSeconds(10)).
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("health"))).
			WithInitialDelaySeconds(15).
			WithPeriodSeconds(20)).
		WithSecurityContext(corev1ac.SecurityContext().
			WithRunAsNonRoot(true).
			WithReadOnlyRootFilesystem(true).
			WithAllowPrivilegeEscalation(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	if spec.Resources != nil {
		approver.WithResources(resources(spec.Resources))
	}

	podSpec := corev1ac.PodSpec().
		WithServiceAccountName(operand.ApproverServiceAccountName(td.Name)).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(approverUID).
			WithRunAsGroup(approverUID).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithContainers(approver)
	schedule(podSpec, spec.NodeSelector, spec.Tolerations, spec.PriorityClassName)

	podLabels := selectorLabels(td.Name, operand.ComponentApprover)
	return appsv1ac.Deployment(operand.ApproverDeploymentName(td.Name), opts.Namespace).
		WithLabels(childLabels(td.Name, operand.ComponentApprover)).
		WithOwnerReferences(ownerReference(td)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(podLabels)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(podLabels).
				WithAnnotations(map[string]string{annotationDefaultContainer: containerApprover}).
				WithSpec(podSpec)))
}
