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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

func TestBuildDriverDaemonSet(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		td      *spiffev1alpha1.SpiffeTrustDomain
		opts    Options
		caMount bool
		want    string
	}{
		"defaults: the operator's images, no CA bundle": {
			td:   testTrustDomain(),
			opts: testOptions,
			want: `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: foo-bar-driver
  namespace: csi-driver-spiffe
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: foo-bar
    app.kubernetes.io/component: driver
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: foo-bar` + ownerYAML + `
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: csi-driver-spiffe
      app.kubernetes.io/instance: foo-bar
      app.kubernetes.io/component: driver
  template:
    metadata:
      labels:
        app.kubernetes.io/name: csi-driver-spiffe
        app.kubernetes.io/instance: foo-bar
        app.kubernetes.io/component: driver
      annotations:
        kubectl.kubernetes.io/default-container: driver
        spiffe.csi.cert-manager.io/restart-hash: f51250b63ac8ea10
    spec:
      serviceAccountName: foo-bar-driver
      nodeSelector:
        kubernetes.io/os: linux
      containers:
      - name: driver
        image: quay.io/example/csi-driver-spiffe:v1
        imagePullPolicy: IfNotPresent
        args:
        - driver
        - --trust-domain-object=foo-bar
        - --driver-name=spiffe.csi.cert-manager.io
        - --node-id=$(NODE_NAME)
        - --endpoint=unix:///plugin/csi.sock
        - --plugin-registration-dir=/registration
        - --kubelet-registration-path=/var/lib/kubelet/plugins/spiffe.csi.cert-manager.io/csi.sock
        - --data-root=/csi-data-dir
        - --log-level=1
        - --metrics-bind-address=:9402
        - --health-probe-bind-address=:9403
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
        ports:
        - {name: metrics, containerPort: 9402, protocol: TCP}
        - {name: health, containerPort: 9403, protocol: TCP}
        livenessProbe:
          httpGet: {path: /healthz, port: health}
          initialDelaySeconds: 10
          periodSeconds: 20
          timeoutSeconds: 5
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /readyz, port: health}
          periodSeconds: 10
        securityContext:
          privileged: true
          runAsUser: 0
          readOnlyRootFilesystem: true
        volumeMounts:
        - {name: plugin-dir, mountPath: /plugin}
        - {name: registration-dir, mountPath: /registration}
        - {name: pods-mount-dir, mountPath: /var/lib/kubelet/pods, mountPropagation: Bidirectional}
        - {name: csi-data-dir, mountPath: /csi-data-dir, mountPropagation: Bidirectional}
      volumes:
      - name: plugin-dir
        hostPath: {path: /var/lib/kubelet/plugins/spiffe.csi.cert-manager.io, type: DirectoryOrCreate}
      - name: registration-dir
        hostPath: {path: /var/lib/kubelet/plugins_registry, type: Directory}
      - name: pods-mount-dir
        hostPath: {path: /var/lib/kubelet/pods, type: Directory}
      - name: csi-data-dir
        hostPath: {path: /var/lib/csi-driver-spiffe/foo-bar, type: DirectoryOrCreate}
`,
		},
		"everything set: image, kubelet directory, scheduling, resources, log level, CA bundle": {
			td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Driver = spiffev1alpha1.DriverSpec{
					Name:         "spiffe.example.com",
					Image:        "example.com/own/driver:v9",
					LogLevel:     4,
					NodeSelector: map[string]string{"spiffe": "yes"},
					Tolerations: []corev1.Toleration{
						{Operator: corev1.TolerationOpExists},
						{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh", Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo[int64](30)},
					},
					PriorityClassName: "system-node-critical",
					Resources: &corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
					},
				}
			}),
			opts: func() Options {
				o := testOptions
				o.KubeletRootDir = "/var/data/kubelet"
				return o
			}(),
			caMount: true,
			want: `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: foo-bar-driver
  namespace: csi-driver-spiffe
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: foo-bar
    app.kubernetes.io/component: driver
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: foo-bar` + ownerYAML + `
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: csi-driver-spiffe
      app.kubernetes.io/instance: foo-bar
      app.kubernetes.io/component: driver
  template:
    metadata:
      labels:
        app.kubernetes.io/name: csi-driver-spiffe
        app.kubernetes.io/instance: foo-bar
        app.kubernetes.io/component: driver
      annotations:
        kubectl.kubernetes.io/default-container: driver
        spiffe.csi.cert-manager.io/restart-hash: 2f52bba8cdb4b439
    spec:
      serviceAccountName: foo-bar-driver
      nodeSelector:
        spiffe: "yes"
      tolerations:
      - operator: Exists
      - {key: dedicated, operator: Equal, value: mesh, effect: NoExecute, tolerationSeconds: 30}
      priorityClassName: system-node-critical
      containers:
      - name: driver
        image: example.com/own/driver:v9
        imagePullPolicy: IfNotPresent
        args:
        - driver
        - --trust-domain-object=foo-bar
        - --driver-name=spiffe.example.com
        - --node-id=$(NODE_NAME)
        - --endpoint=unix:///plugin/csi.sock
        - --plugin-registration-dir=/registration
        - --kubelet-registration-path=/var/data/kubelet/plugins/spiffe.example.com/csi.sock
        - --data-root=/csi-data-dir
        - --ca-bundle-file=/var/run/secrets/spiffe.csi.cert-manager.io/ca-bundle/ca.crt
        - --log-level=4
        - --metrics-bind-address=:9402
        - --health-probe-bind-address=:9403
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
        ports:
        - {name: metrics, containerPort: 9402, protocol: TCP}
        - {name: health, containerPort: 9403, protocol: TCP}
        livenessProbe:
          httpGet: {path: /healthz, port: health}
          initialDelaySeconds: 10
          periodSeconds: 20
          timeoutSeconds: 5
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /readyz, port: health}
          periodSeconds: 10
        resources:
          requests: {cpu: 10m, memory: 32Mi}
          limits: {memory: 64Mi}
        securityContext:
          privileged: true
          runAsUser: 0
          readOnlyRootFilesystem: true
        volumeMounts:
        - {name: plugin-dir, mountPath: /plugin}
        - {name: registration-dir, mountPath: /registration}
        - {name: pods-mount-dir, mountPath: /var/data/kubelet/pods, mountPropagation: Bidirectional}
        - {name: csi-data-dir, mountPath: /csi-data-dir, mountPropagation: Bidirectional}
        - {name: ca-bundle, mountPath: /var/run/secrets/spiffe.csi.cert-manager.io/ca-bundle, readOnly: true}
      volumes:
      - name: plugin-dir
        hostPath: {path: /var/data/kubelet/plugins/spiffe.example.com, type: DirectoryOrCreate}
      - name: registration-dir
        hostPath: {path: /var/data/kubelet/plugins_registry, type: Directory}
      - name: pods-mount-dir
        hostPath: {path: /var/data/kubelet/pods, type: Directory}
      - name: csi-data-dir
        hostPath: {path: /var/lib/csi-driver-spiffe/foo-bar, type: DirectoryOrCreate}
      - name: ca-bundle
        configMap: {name: foo-bar-ca-bundle}
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectYAML(t, buildDriverDaemonSet(tc.td, tc.opts, tc.caMount), tc.want)
		})
	}
}

// The restart hash changes with what the driver was started with, and not
// with what it reads from status.config at run time.
func TestDriverRestartHash(t *testing.T) {
	t.Parallel()
	hashOf := func(td *spiffev1alpha1.SpiffeTrustDomain, opts Options, ca bool) string {
		return buildDriverDaemonSet(td, opts, ca).Spec.Template.Annotations[AnnotationRestartHash]
	}
	base := hashOf(testTrustDomain(), testOptions, false)
	tests := map[string]struct {
		td      *spiffev1alpha1.SpiffeTrustDomain
		opts    Options
		caMount bool
		restart bool
	}{
		"nothing changes": {td: testTrustDomain(), opts: testOptions},
		"another issuer": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.IssuerRef = spiffev1alpha1.IssuerReference{Name: "vault", Kind: "ClusterIssuer", Group: "cert-manager.io"}
		}), opts: testOptions},
		"another duration and renewal": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Certificate.Duration = &metav1.Duration{Duration: 24 * time.Hour}
			td.Spec.Certificate.RenewBeforePercentage = 50
		}), opts: testOptions},
		"another key type": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Certificate.PrivateKey = spiffev1alpha1.PrivateKeySpec{Algorithm: spiffev1alpha1.Ed25519KeyAlgorithm}
		}), opts: testOptions},
		"request annotations and file names": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Certificate.Annotations = map[string]string{"example.com/a": "b"}
			td.Spec.Files = spiffev1alpha1.FilesSpec{Certificate: "cert.pem", Key: "key.pem", CA: "ca.pem"}
		}), opts: testOptions},
		"another CA-bundle source (its content lives in the ConfigMap)": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.CABundle = &spiffev1alpha1.CABundleSource{Secret: &spiffev1alpha1.KeySelector{Namespace: "a", Name: "b", Key: "c"}}
		}), opts: testOptions},
		"approver settings": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Approver = spiffev1alpha1.ApproverSpec{Replicas: 3, LogLevel: 5, Image: "x"}
		}), opts: testOptions},

		"a CA bundle gets mounted": {td: testTrustDomain(), opts: testOptions, caMount: true, restart: true},
		"the driver image": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Driver.Image = "example.com/driver:v2"
		}), opts: testOptions, restart: true},
		"the operator's default image": {td: testTrustDomain(), opts: func() Options {
			o := testOptions
			o.Image = "example.com/csi-driver-spiffe:v3"
			return o
		}(), restart: true},
		"the kubelet directory": {td: testTrustDomain(), opts: func() Options {
			o := testOptions
			o.KubeletRootDir = "/var/data/kubelet"
			return o
		}(), restart: true},
		"the log level": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Driver.LogLevel = 2
		}), opts: testOptions, restart: true},
		"the resources": {td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
			td.Spec.Driver.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
		}), opts: testOptions, restart: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := hashOf(tc.td, tc.opts, tc.caMount)
			if restarted := got != base; restarted != tc.restart {
				t.Errorf("hash %s (base %s): restart = %v, want %v", got, base, restarted, tc.restart)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
