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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
)

func TestBuildApproverDeployment(t *testing.T) {
	t.Parallel()
	const meta = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: foo-bar-approver
  namespace: csi-driver-spiffe
  labels:
    app.kubernetes.io/name: csi-driver-spiffe
    app.kubernetes.io/instance: foo-bar
    app.kubernetes.io/component: approver
    app.kubernetes.io/managed-by: csi-driver-spiffe-operator
    spiffe.csi.cert-manager.io/trust-domain-object: foo-bar` + ownerYAML
	tests := map[string]struct {
		td   *spiffev1alpha1.SpiffeTrustDomain
		want string
	}{
		"one replica: no leader election, restricted Pod Security": {
			td: testTrustDomain(),
			want: meta + `
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: csi-driver-spiffe
      app.kubernetes.io/instance: foo-bar
      app.kubernetes.io/component: approver
  template:
    metadata:
      labels:
        app.kubernetes.io/name: csi-driver-spiffe
        app.kubernetes.io/instance: foo-bar
        app.kubernetes.io/component: approver
      annotations:
        kubectl.kubernetes.io/default-container: approver
    spec:
      serviceAccountName: foo-bar-approver
      nodeSelector:
        kubernetes.io/os: linux
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: approver
        image: quay.io/example/csi-driver-spiffe:v1
        imagePullPolicy: IfNotPresent
        args:
        - approver
        - --trust-domain-object=foo-bar
        - --log-level=1
        - --metrics-bind-address=:9402
        - --health-probe-bind-address=:9403
        env:
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
        ports:
        - {name: metrics, containerPort: 9402, protocol: TCP}
        - {name: health, containerPort: 9403, protocol: TCP}
        readinessProbe:
          httpGet: {path: /readyz, port: health}
          periodSeconds: 10
        livenessProbe:
          httpGet: {path: /healthz, port: health}
          initialDelaySeconds: 15
          periodSeconds: 20
        securityContext:
          runAsNonRoot: true
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
`,
		},
		"three replicas elect a leader; image, scheduling and resources from the spec": {
			td: testTrustDomain(func(td *spiffev1alpha1.SpiffeTrustDomain) {
				td.Spec.Approver = spiffev1alpha1.ApproverSpec{
					Replicas:          3,
					Image:             "example.com/own/approver:v9",
					LogLevel:          5,
					NodeSelector:      map[string]string{"node-role.kubernetes.io/control-plane": ""},
					Tolerations:       []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					PriorityClassName: "system-cluster-critical",
					Resources:         &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				}
			}),
			want: meta + `
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: csi-driver-spiffe
      app.kubernetes.io/instance: foo-bar
      app.kubernetes.io/component: approver
  template:
    metadata:
      labels:
        app.kubernetes.io/name: csi-driver-spiffe
        app.kubernetes.io/instance: foo-bar
        app.kubernetes.io/component: approver
      annotations:
        kubectl.kubernetes.io/default-container: approver
    spec:
      serviceAccountName: foo-bar-approver
      nodeSelector:
        node-role.kubernetes.io/control-plane: ""
      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      priorityClassName: system-cluster-critical
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: approver
        image: example.com/own/approver:v9
        imagePullPolicy: IfNotPresent
        args:
        - approver
        - --trust-domain-object=foo-bar
        - --log-level=5
        - --metrics-bind-address=:9402
        - --health-probe-bind-address=:9403
        - --leader-elect
        - --leader-election-namespace=$(POD_NAMESPACE)
        env:
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
        ports:
        - {name: metrics, containerPort: 9402, protocol: TCP}
        - {name: health, containerPort: 9403, protocol: TCP}
        readinessProbe:
          httpGet: {path: /readyz, port: health}
          periodSeconds: 10
        livenessProbe:
          httpGet: {path: /healthz, port: health}
          initialDelaySeconds: 15
          periodSeconds: 20
        resources:
          requests: {cpu: 100m}
        securityContext:
          runAsNonRoot: true
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectYAML(t, buildApproverDeployment(tc.td, testOptions), tc.want)
		})
	}
}
