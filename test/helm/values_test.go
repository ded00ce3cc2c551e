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

package helm

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	helmchart "github.com/cert-manager/csi-driver-spiffe-operator/hack/helmchart/chart"
)

const (
	digest     = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	driverImg  = "registry.example/csi-driver-spiffe:v9"
	trustSpecD = "example.org"
)

// everyValue sets every value of values.yaml to something other than its
// default (TestEveryValueIsTested keeps it complete).
func everyValue() map[string]any {
	return map[string]any{
		"global": map[string]any{"imagePullSecrets": []any{map[string]any{"name": "pull-secret"}}},
		"crds":   map[string]any{"enabled": true, "keep": false},
		// crds.enabled=false is asserted by TestCRDsDisabled.
		"replicaCount": 3,
		"image": map[string]any{
			"repository": "registry.example/operator",
			"tag":        "v9.9.9",
			"digest":     digest,
			"pullPolicy": "Always",
		},
		"operandImages": map[string]any{
			"csiDriverSpiffe": driverImg,
		},
		"logLevel":       4,
		"leaderElection": map[string]any{"enabled": false},
		"metrics": map[string]any{
			"enabled": true,
			"port":    9090,
			"serviceMonitor": map[string]any{
				"enabled":  true,
				"interval": "15s",
				"labels":   map[string]any{"release": "prometheus"},
			},
		},
		"resources":         map[string]any{"limits": map[string]any{"memory": "1Gi"}, "requests": map[string]any{"cpu": "1"}},
		"nodeSelector":      map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":       []any{map[string]any{"key": "control-plane", "operator": "Exists", "effect": "NoSchedule"}},
		"affinity":          map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}}}}},
		"priorityClassName": "system-cluster-critical",
		"podLabels":         map[string]any{"team": "platform"},
		"podAnnotations":    map[string]any{"example.com/note": "hello"},
		"podSecurityContext": map[string]any{
			"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsGroup": 65532,
			"capabilities": map[string]any{"drop": []any{"ALL"}},
		},
		"podDisruptionBudget": map[string]any{"enabled": true, "minAvailable": "", "maxUnavailable": "50%"},
		"trustDomains": []any{map[string]any{"name": "example-org", "spec": map[string]any{
			"trustDomain": trustSpecD,
			"issuerRef":   map[string]any{"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}}},
	}
}

// Every documented value is set by everyValue, so that the test below
// checks it: a new value without a test fails here.
func TestEveryValueIsTested(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(chartDir(t), helmchart.ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := helmchart.ParseValues(data)
	if err != nil {
		t.Fatal(err)
	}
	set := everyValue()
	for _, v := range doc.Values {
		if v.Group {
			continue
		}
		var cur any = set
		for _, k := range strings.Split(v.Path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[k]
		}
		if cur == nil {
			t.Errorf("value %s is not set by everyValue(); add it and assert where it shows up", v.Path)
		}
	}
}

func deployment(t testing.TB, r *rendered) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	fromUnstructured(t, r.get(t, "Deployment", "csi-driver-spiffe-controller-manager"), d)
	return d
}

func fromUnstructured(t testing.TB, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s does not decode as %T: %v", key(u), into, err)
	}
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// Every value shows up where it should.
func TestEveryValueRendersWhereItShould(t *testing.T) {
	t.Parallel()
	r := mustRender(t, everyValue())
	d := deployment(t, r)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	image := "registry.example/operator@" + digest

	check := func(what string, got, want any) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	check("global.imagePullSecrets", pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "pull-secret"}})
	check("replicaCount", *d.Spec.Replicas, int32(3))
	check("image.repository/tag/digest: the digest wins over the tag", c.Image, image)
	check("image.pullPolicy", c.ImagePullPolicy, corev1.PullAlways)
	env := envOf(c)
	check("operandImages.csiDriverSpiffe", env["RELATED_IMAGE_CSI_DRIVER_SPIFFE"], driverImg)
	check("logLevel, leaderElection.enabled=false, metrics.port", c.Args, []string{
		"operator", "--metrics-bind-address=:9090", "--health-probe-bind-address=:8081", "--log-level=4",
	})
	check("metrics.port on the container", c.Ports[0], corev1.ContainerPort{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP})
	svc := &corev1.Service{}
	fromUnstructured(t, r.get(t, "Service", "csi-driver-spiffe-controller-manager-metrics-service"), svc)
	check("metrics.port on the Service", svc.Spec.Ports[0].Port, int32(9090))

	sm := r.get(t, "ServiceMonitor", "csi-driver-spiffe-controller-manager")
	check("metrics.serviceMonitor.labels", sm.GetLabels()["release"], "prometheus")
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	check("metrics.serviceMonitor.interval", endpoints, []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "15s"}})
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(selector) == 0 {
		t.Error("the ServiceMonitor selects every Service")
	}
	for k, v := range selector {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service does not have (labels %v)", k, v, svc.Labels)
		}
	}

	check("resources", c.Resources.Limits.Memory().String()+" "+c.Resources.Requests.Cpu().String(), "1Gi 1")
	check("nodeSelector", pod.NodeSelector, map[string]string{"kubernetes.io/os": "linux"})
	check("tolerations", pod.Tolerations, []corev1.Toleration{{Key: "control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}})
	check("affinity", pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values, []string{"a"})
	check("priorityClassName", pod.PriorityClassName, "system-cluster-critical")
	check("podLabels", d.Spec.Template.Labels["team"], "platform")
	check("podLabels keep the selector's labels", d.Spec.Template.Labels["control-plane"], "controller-manager")
	check("podAnnotations", d.Spec.Template.Annotations["example.com/note"], "hello")
	check("podSecurityContext", *pod.SecurityContext.RunAsUser, int64(65532))
	check("securityContext", *c.SecurityContext.RunAsGroup, int64(65532))

	pdb := r.get(t, "PodDisruptionBudget", "csi-driver-spiffe-controller-manager")
	spec, _, _ := unstructured.NestedMap(pdb.Object, "spec")
	check("podDisruptionBudget", spec, map[string]any{
		"maxUnavailable": "50%",
		"selector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "csi-driver-spiffe", "control-plane": "controller-manager"}},
	})

	crd := r.get(t, "CustomResourceDefinition", "spiffetrustdomains.spiffe.csi.cert-manager.io")
	if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
		t.Error("crds.keep=false: the CRD still has helm.sh/resource-policy")
	}
	td := r.get(t, "SpiffeTrustDomain", "example-org")
	got, _, _ := unstructured.NestedString(td.Object, "spec", "trustDomain")
	check("trustDomains", got, trustSpecD)
}

// The CRD's keep policy is on by default, and a pod disruption budget
// defaults to minAvailable 1; without metrics there is no Service, port or
// ServiceMonitor; without a digest the tag defaults to appVersion and the
// operand image to the operator's.
func TestDefaultsAndSwitches(t *testing.T) {
	t.Parallel()
	r := mustRender(t, nil)
	crd := r.get(t, "CustomResourceDefinition", "spiffetrustdomains.spiffe.csi.cert-manager.io")
	if got := crd.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
		t.Errorf("crds.keep=true: helm.sh/resource-policy = %q, want keep", got)
	}
	c := deployment(t, r).Spec.Template.Spec.Containers[0]
	want := "ghcr.io/cert-manager/csi-driver-spiffe-operator:" + loadChart(t).Metadata.AppVersion
	if c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	if got := envOf(c)["RELATED_IMAGE_CSI_DRIVER_SPIFFE"]; got != want {
		t.Errorf("RELATED_IMAGE_CSI_DRIVER_SPIFFE = %q, want the operator image %q", got, want)
	}
	if r.has("ServiceMonitor") || r.has("PodDisruptionBudget") || r.has("SpiffeTrustDomain") {
		t.Error("default values render a ServiceMonitor, PodDisruptionBudget or SpiffeTrustDomain")
	}

	r = mustRender(t, map[string]any{
		"metrics":             map[string]any{"enabled": false, "serviceMonitor": map[string]any{"enabled": true}},
		"podDisruptionBudget": map[string]any{"enabled": true},
		"image":               map[string]any{"tag": "v2"},
	})
	if r.has("Service") || r.has("ServiceMonitor") {
		t.Error("metrics.enabled=false still renders a Service or ServiceMonitor")
	}
	c = deployment(t, r).Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--metrics-bind-address=0") || slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" }) {
		t.Errorf("metrics.enabled=false: args %q, ports %v; want --metrics-bind-address=0 and no metrics port", c.Args, c.Ports)
	}
	if c.Image != "ghcr.io/cert-manager/csi-driver-spiffe-operator:v2" {
		t.Errorf("image.tag: image = %q", c.Image)
	}
	spec, _, _ := unstructured.NestedMap(r.get(t, "PodDisruptionBudget", "csi-driver-spiffe-controller-manager").Object, "spec")
	if fmt.Sprint(spec["minAvailable"]) != "1" || spec["maxUnavailable"] != nil {
		t.Errorf("podDisruptionBudget without minAvailable/maxUnavailable: spec %v, want minAvailable 1", spec)
	}

	if _, err := render(t, map[string]any{"podDisruptionBudget": map[string]any{"enabled": true, "minAvailable": 1, "maxUnavailable": 1}}); err == nil || !strings.Contains(err.Error(), "set minAvailable or maxUnavailable, not both") {
		t.Errorf("podDisruptionBudget with both: err = %v", err)
	}
}

// crds.enabled=false leaves the CRD out, and nothing else.
func TestCRDsDisabled(t *testing.T) {
	t.Parallel()
	all := mustRender(t, nil)
	r := mustRender(t, map[string]any{"crds": map[string]any{"enabled": false}})
	if r.has("CustomResourceDefinition") {
		t.Error("crds.enabled=false still renders the CRD")
	}
	if len(r.objs) != len(all.objs)-1 {
		t.Errorf("crds.enabled=false renders %d objects, want %d (all but the CRD)", len(r.objs), len(all.objs)-1)
	}
}

// values.schema.json refuses a wrong type or an unknown key, naming it.
func TestSchemaRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		vals    map[string]any
		expErrs []string
	}{
		"a string for a boolean": {
			vals:    map[string]any{"crds": map[string]any{"keep": "yes"}},
			expErrs: []string{"/crds/keep", "want boolean"},
		},
		"a number for a string": {
			vals:    map[string]any{"image": map[string]any{"tag": 1.2}},
			expErrs: []string{"/image/tag", "want string"},
		},
		"a string for an integer": {
			vals:    map[string]any{"replicaCount": "three"},
			expErrs: []string{"/replicaCount", "want integer"},
		},
		"an unknown top-level key": {
			vals:    map[string]any{"imagePullSecrets": []any{}},
			expErrs: []string{"additional properties 'imagePullSecrets' not allowed"},
		},
		"an unknown nested key": {
			vals:    map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"intervall": "1m"}}},
			expErrs: []string{"/metrics/serviceMonitor", "'intervall' not allowed"},
		},
		"a misspelt key of a trust domain": {
			vals:    map[string]any{"trustDomains": []any{map[string]any{"name": "a", "spce": map[string]any{}}}},
			expErrs: []string{"/trustDomains/0", "'spec'"},
		},
		"a log level out of range": {
			vals:    map[string]any{"logLevel": 11},
			expErrs: []string{"/logLevel", "maximum"},
		},
		"an image pull policy that does not exist": {
			vals:    map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}},
			expErrs: []string{"/image/pullPolicy", "must be one of"},
		},
		"a digest without its algorithm": {
			vals:    map[string]any{"image": map[string]any{"digest": "0123"}},
			expErrs: []string{"/image/digest"},
		},
		"a non-string node selector": {
			vals:    map[string]any{"nodeSelector": map[string]any{"zone": 1}},
			expErrs: []string{"/nodeSelector/zone", "want string"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.vals)
			if err == nil {
				t.Fatal("the chart rendered; want a schema error")
			}
			for _, want := range tc.expErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
