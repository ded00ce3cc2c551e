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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/internal/operand"
)

// Volume names of the driver's pod.
const (
	volumePluginDir       = "plugin-dir"
	volumeRegistrationDir = "registration-dir"
	volumePodsMountDir    = "pods-mount-dir"
	volumeDataDir         = "csi-data-dir"
	volumeCABundle        = "ca-bundle"
)

// containerDriver is the driver pod's one container: the driver registers
// itself with kubelet and serves its own health endpoints, without the
// node-driver-registrar and livenessprobe sidecars.
const containerDriver = "driver"

// defaultNodeSelector keeps the driver and the approver on Linux nodes when
// the spec selects none: the driver mounts tmpfs and bind mounts.
var defaultNodeSelector = map[string]string{corev1.LabelOSStable: "linux"}

// buildDriverDaemonSet returns the driver DaemonSet of td. caBundleMounted
// says whether the CA-bundle ConfigMap exists with a valid bundle: only then
// is it mounted and passed with --ca-bundle-file.
//
// Everything here needs a restart to change, and the pod template carries a
// hash of it (AnnotationRestartHash). What the driver follows at run time
// through status.config (issuer, duration, key type, annotations, file
// names, the CA bundle's content) is deliberately absent, so changing it
// never restarts the driver.
func buildDriverDaemonSet(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, caBundleMounted bool) *appsv1ac.DaemonSetApplyConfiguration {
	spec := td.Spec.Driver
	driverName := DriverName(td)
	pluginDir := path.Join(opts.KubeletRootDir, "plugins", driverName)

	args := []string{
		"driver",
		"--trust-domain-object=" + td.Name,
		"--driver-name=" + driverName,
		"--node-id=$(NODE_NAME)",
		"--endpoint=unix://" + pluginDirMountPath + "/csi.sock",
		"--plugin-registration-dir=" + registrationDir,
		"--kubelet-registration-path=" + path.Join(pluginDir, "csi.sock"),
		"--data-root=" + dataDirMountPath,
	}
	if caBundleMounted {
		args = append(args, "--ca-bundle-file="+path.Join(CABundleMountPath, CABundleKey))
	}
	args = append(args,
		"--log-level="+strconv.Itoa(int(spec.LogLevel)),
		"--metrics-bind-address=:"+strconv.Itoa(metricsPort),
		"--health-probe-bind-address=:"+strconv.Itoa(healthPort),
	)

	driverMounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName(volumePluginDir).WithMountPath(pluginDirMountPath),
		corev1ac.VolumeMount().WithName(volumeRegistrationDir).WithMountPath(registrationDir),
		corev1ac.VolumeMount().WithName(volumePodsMountDir).
			WithMountPath(path.Join(opts.KubeletRootDir, "pods")).
			WithMountPropagation(corev1.MountPropagationBidirectional),
		corev1ac.VolumeMount().WithName(volumeDataDir).
			WithMountPath(dataDirMountPath).
			WithMountPropagation(corev1.MountPropagationBidirectional),
	}
	volumes := []*corev1ac.VolumeApplyConfiguration{
		hostPathVolume(volumePluginDir, pluginDir, corev1.HostPathDirectoryOrCreate),
		hostPathVolume(volumeRegistrationDir, path.Join(opts.KubeletRootDir, "plugins_registry"), corev1.HostPathDirectory),
		hostPathVolume(volumePodsMountDir, path.Join(opts.KubeletRootDir, "pods"), corev1.HostPathDirectory),
		hostPathVolume(volumeDataDir, path.Join(HostDataRoot, td.Name), corev1.HostPathDirectoryOrCreate),
	}
	if caBundleMounted {
		driverMounts = append(driverMounts, corev1ac.VolumeMount().
			WithName(volumeCABundle).
			WithMountPath(CABundleMountPath).
			WithReadOnly(true))
		volumes = append(volumes, corev1ac.Volume().
			WithName(volumeCABundle).
			WithConfigMap(corev1ac.ConfigMapVolumeSource().
				WithName(operand.CABundleConfigMapName(td.Name))))
	}

	driver := corev1ac.Container().
		WithName(containerDriver).
		WithImage(orDefault(spec.Image, opts.Image)).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(args...).
		WithEnv(
			corev1ac.EnvVar().WithName("NODE_NAME").WithValueFrom(fieldRef("spec.nodeName")),
			corev1ac.EnvVar().WithName("POD_NAMESPACE").WithValueFrom(fieldRef("metadata.namespace")),
		).
		WithPorts(
			corev1ac.ContainerPort().WithName("metrics").WithContainerPort(metricsPort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("health").WithContainerPort(healthPort).WithProtocol(corev1.ProtocolTCP),
		).
		// Live unless a restart mends something (its kubelet registration
		// socket cannot be re-created): a driver waiting for its
		// configuration is alive, not restarted.
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("health"))).
			WithInitialDelaySeconds(10).
			WithPeriodSeconds(20).
			WithTimeoutSeconds(5).
			WithFailureThreshold(5)).
		// Ready once the driver has a published configuration and kubelet
		// has registered it.
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/readyz").WithPort(intstr.FromString("health"))).
			WithPeriodSeconds(10)).
		// Privileged: the driver mounts a tmpfs and bind-mounts volumes
		// into pods, with Bidirectional propagation back to the host.
		WithSecurityContext(corev1ac.SecurityContext().
			WithPrivileged(true).
			WithRunAsUser(0).
			WithReadOnlyRootFilesystem(true)).
		WithVolumeMounts(driverMounts...)
	if spec.Resources != nil {
		driver.WithResources(resources(spec.Resources))
	}

	podSpec := corev1ac.PodSpec().
		WithServiceAccountName(operand.DriverServiceAccountName(td.Name)).
		WithContainers(driver).
		WithVolumes(volumes...)
	schedule(podSpec, spec.NodeSelector, spec.Tolerations, spec.PriorityClassName)

	podLabels := selectorLabels(td.Name, operand.ComponentDriver)
	return appsv1ac.DaemonSet(operand.DriverDaemonSetName(td.Name), opts.Namespace).
		WithLabels(childLabels(td.Name, operand.ComponentDriver)).
		WithOwnerReferences(ownerReference(td)).
		WithSpec(appsv1ac.DaemonSetSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(podLabels)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(podLabels).
				WithAnnotations(map[string]string{
					annotationDefaultContainer: containerDriver,
					AnnotationRestartHash:      restartHash(podLabels, podSpec),
				}).
				WithSpec(podSpec)))
}

// restartHash hashes a pod template's labels and spec. Go's JSON encoding is
// deterministic (struct fields in order, map keys sorted), so equal inputs
// give equal hashes.
func restartHash(labels map[string]string, spec *corev1ac.PodSpecApplyConfiguration) string {
	data, err := json.Marshal(struct {
		Labels map[string]string                   `json:"labels"`
		Spec   *corev1ac.PodSpecApplyConfiguration `json:"spec"`
	}{labels, spec})
	if err != nil {
		// Apply configurations are plain data; this cannot fail.
		panic(fmt.Sprintf("failed to encode a pod template, this is a bug, please report: %v", err))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func hostPathVolume(name, hostPath string, t corev1.HostPathType) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(name).WithHostPath(corev1ac.HostPathVolumeSource().WithPath(hostPath).WithType(t))
}

func fieldRef(fieldPath string) *corev1ac.EnvVarSourceApplyConfiguration {
	return corev1ac.EnvVarSource().WithFieldRef(corev1ac.ObjectFieldSelector().WithAPIVersion("v1").WithFieldPath(fieldPath))
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// schedule sets a pod's node selector (default: Linux nodes), tolerations
// and priority class.
func schedule(pod *corev1ac.PodSpecApplyConfiguration, sel map[string]string, tols []corev1.Toleration, priorityClassName string) {
	if len(sel) == 0 {
		sel = defaultNodeSelector
	}
	pod.WithNodeSelector(sel)
	if len(tols) > 0 {
		pod.WithTolerations(tolerations(tols)...)
	}
	if priorityClassName != "" {
		pod.WithPriorityClassName(priorityClassName)
	}
}

// resources converts resource requirements into their apply configuration.
func resources(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	ac := corev1ac.ResourceRequirements()
	if len(r.Limits) > 0 {
		ac.WithLimits(r.Limits)
	}
	if len(r.Requests) > 0 {
		ac.WithRequests(r.Requests)
	}
	for _, c := range r.Claims {
		claim := corev1ac.ResourceClaim().WithName(c.Name)
		if c.Request != "" {
			claim.WithRequest(c.Request)
		}
		ac.WithClaims(claim)
	}
	return ac
}

// tolerations converts tolerations into their apply configuration.
func tolerations(ts []corev1.Toleration) []*corev1ac.TolerationApplyConfiguration {
	out := make([]*corev1ac.TolerationApplyConfiguration, 0, len(ts))
	for _, t := range ts {
		ac := corev1ac.Toleration()
		if t.Key != "" {
			ac.WithKey(t.Key)
		}
		if t.Operator != "" {
			ac.WithOperator(t.Operator)
		}
		if t.Value != "" {
			ac.WithValue(t.Value)
		}
		if t.Effect != "" {
			ac.WithEffect(t.Effect)
		}
		if t.TolerationSeconds != nil {
			ac.WithTolerationSeconds(*t.TolerationSeconds)
		}
		out = append(out, ac)
	}
	return out
}
