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

package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// Node stands in for one Kubernetes node and the workload controllers, which
// the test control plane does not run. For every DaemonSet and Deployment in
// the operator's namespace whose container runs csi-driver-spiffe (the
// operator installed from config/default, and the driver and approver the
// operator creates), it runs that container as a local process, exactly with
// the arguments and environment of the pod template, translated to this
// machine:
//
//   - hostPath and ConfigMap volumes become directories under the work
//     directory (ConfigMaps are written the way kubelet writes them: a
//     "..data" symlink swapped atomically);
//   - ports become free loopback ports;
//   - the pod's ServiceAccount token (a real TokenRequest, bound to a Pod
//     object created from the template) goes into a kubeconfig, so each
//     process has exactly the RBAC the operator granted it;
//   - the driver registers itself through a socket in the node's
//     plugins_registry; the node registers each socket that appears there as
//     kubelet's plugin watcher does (GetInfo, NodeGetInfo,
//     NotifyRegistrationStatus), and the test kubelet calls the driver's CSI
//     socket directly.
//
// It restarts a process when its pod template changes (a rollout) and writes
// the DaemonSet and Deployment status the real controllers would.
type Node struct {
	// Name is the node name (NODE_NAME).
	Name string
	// Namespace is the operator's namespace.
	Namespace string
	// Binary is the csi-driver-spiffe binary.
	Binary string
	// WorkDir holds the node's directories, kubeconfigs and logs.
	WorkDir string
	// Env is the control plane.
	Env *env.Environment
	// Log receives one line per rollout.
	Log io.Writer

	mu        sync.Mutex
	workloads map[string]*workload
	// plugins are the registration sockets registered, by path.
	plugins map[string]os.FileInfo
}

// workload is the local stand-in of one DaemonSet or Deployment.
type workload struct {
	kind, name string
	hash       string
	procs      []*process.Process
	configMaps map[string]string // ConfigMap name -> volume directory
}

// KubeletDir is the kubelet root directory of the node.
func (n *Node) KubeletDir() string { return filepath.Join(n.WorkDir, "node", "var", "lib", "kubelet") }

// HostPath maps a host path of the node to this machine.
func (n *Node) HostPath(p string) string { return filepath.Join(n.WorkDir, "node", p) }

// Run reconciles workloads until ctx ends, then stops every process.
func (n *Node) Run(ctx context.Context) {
	n.mu.Lock()
	if n.workloads == nil {
		n.workloads = map[string]*workload{}
	}
	n.mu.Unlock()
	defer n.stopAll()
	for {
		if err := n.sync(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(n.Log, "node %s: %v\n", n.Name, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Processes returns the running processes of a DaemonSet or Deployment.
func (n *Node) Processes(kind, name string) []*process.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.workloads[kind+"/"+name]
	if w == nil {
		return nil
	}
	return append([]*process.Process(nil), w.procs...)
}

// Restart stops and starts the processes of a workload, like deleting its
// pods.
func (n *Node) Restart(ctx context.Context, kind, name string) error {
	n.mu.Lock()
	w := n.workloads[kind+"/"+name]
	if w != nil {
		w.hash = "" // forces a new rollout on the next sync
	}
	n.mu.Unlock()
	if w == nil {
		return fmt.Errorf("no %s %s runs on node %s", kind, name, n.Name)
	}
	return n.sync(ctx)
}

func (n *Node) stopAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key, w := range n.workloads {
		for _, p := range w.procs {
			_ = p.Stop(10 * time.Second)
		}
		delete(n.workloads, key)
	}
}

func (n *Node) sync(ctx context.Context) error {
	cl := n.Env.Client
	var errs []error
	seen := map[string]bool{}

	dsList := &appsv1.DaemonSetList{}
	if err := cl.List(ctx, dsList, client.InNamespace(n.Namespace)); err != nil {
		return fmt.Errorf("failed to list daemonsets: %w", err)
	}
	for i := range dsList.Items {
		ds := &dsList.Items[i]
		if !runsOurBinary(&ds.Spec.Template) || !n.matchesNode(&ds.Spec.Template) {
			continue
		}
		key := "DaemonSet/" + ds.Name
		seen[key] = true
		if err := n.rollout(ctx, "DaemonSet", ds.Name, &ds.Spec.Template, 1); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, n.writeDaemonSetStatus(ctx, ds))
	}

	depList := &appsv1.DeploymentList{}
	if err := cl.List(ctx, depList, client.InNamespace(n.Namespace)); err != nil {
		return fmt.Errorf("failed to list deployments: %w", err)
	}
	for i := range depList.Items {
		d := &depList.Items[i]
		if !runsOurBinary(&d.Spec.Template) {
			continue
		}
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		key := "Deployment/" + d.Name
		seen[key] = true
		if err := n.rollout(ctx, "Deployment", d.Name, &d.Spec.Template, replicas); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, n.writeDeploymentStatus(ctx, d))
	}

	// Workloads that were deleted stop, as their pods would.
	n.mu.Lock()
	for key, w := range n.workloads {
		if !seen[key] {
			for _, p := range w.procs {
				_ = p.Stop(10 * time.Second)
			}
			delete(n.workloads, key)
			fmt.Fprintf(n.Log, "node %s: stopped %s (deleted)\n", n.Name, key)
		}
	}
	n.mu.Unlock()
	return errors.Join(errs...)
}

// runsOurBinary reports whether a pod template has a container that runs
// the operator, driver or approver subcommand.
func runsOurBinary(t *corev1.PodTemplateSpec) bool {
	c := mainContainer(t)
	return c != nil
}

func mainContainer(t *corev1.PodTemplateSpec) *corev1.Container {
	for i := range t.Spec.Containers {
		c := &t.Spec.Containers[i]
		if len(c.Args) > 0 && (c.Args[0] == "operator" || c.Args[0] == "driver" || c.Args[0] == "approver") {
			return c
		}
	}
	return nil
}

// matchesNode reports whether a DaemonSet's node selector matches this node,
// which carries the usual kubernetes.io/os and hostname labels.
func (n *Node) matchesNode(t *corev1.PodTemplateSpec) bool {
	labels := map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/hostname": n.Name}
	for k, v := range t.Spec.NodeSelector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func templateHash(t *corev1.PodTemplateSpec, replicas int) string {
	data, _ := json.Marshal(t)
	sum := sha256.Sum256(append(data, byte(replicas)))
	return hex.EncodeToString(sum[:8])
}

// rollout (re)starts the workload's processes when the template changed, and
// keeps ConfigMap volumes in sync.
func (n *Node) rollout(ctx context.Context, kind, name string, t *corev1.PodTemplateSpec, replicas int) error {
	key := kind + "/" + name
	hash := templateHash(t, replicas)
	n.mu.Lock()
	w := n.workloads[key]
	n.mu.Unlock()
	if w != nil && w.hash == hash {
		// Restart processes that crashed, as kubelet would.
		for i, p := range w.procs {
			if exited, _ := p.Exited(); exited {
				fmt.Fprintf(n.Log, "node %s: %s exited, restarting (see %s)\n", n.Name, p.Name, p.LogFile)
				np, err := n.start(ctx, kind, name, t, i, w)
				if err != nil {
					return err
				}
				n.mu.Lock()
				w.procs[i] = np
				n.mu.Unlock()
			}
		}
		return n.syncConfigMaps(ctx, w)
	}
	if w != nil {
		for _, p := range w.procs {
			_ = p.Stop(10 * time.Second)
		}
	}
	nw := &workload{kind: kind, name: name, hash: hash, configMaps: map[string]string{}}
	for _, v := range t.Spec.Volumes {
		if v.ConfigMap != nil {
			nw.configMaps[v.ConfigMap.Name] = filepath.Join(n.WorkDir, "pods", strings.ToLower(kind)+"-"+name, "volumes", v.Name)
		}
	}
	if err := n.syncConfigMaps(ctx, nw); err != nil {
		return err
	}
	for i := 0; i < replicas; i++ {
		p, err := n.start(ctx, kind, name, t, i, nw)
		if err != nil {
			return err
		}
		nw.procs = append(nw.procs, p)
	}
	n.mu.Lock()
	n.workloads[key] = nw
	n.mu.Unlock()
	fmt.Fprintf(n.Log, "node %s: rolled out %s (%d process(es))\n", n.Name, key, replicas)
	return nil
}

// syncConfigMaps writes each ConfigMap volume's data the way kubelet does:
// into a new timestamped directory, then an atomic swap of the "..data"
// symlink, with each key a symlink through "..data".
func (n *Node) syncConfigMaps(ctx context.Context, w *workload) error {
	for cmName, dir := range w.configMaps {
		cm := &corev1.ConfigMap{}
		err := n.Env.Client.Get(ctx, client.ObjectKey{Namespace: n.Namespace, Name: cmName}, cm)
		if apierrors.IsNotFound(err) {
			continue // kubelet waits for an optional or missing ConfigMap
		}
		if err != nil {
			return fmt.Errorf("failed to get configmap %s: %w", cmName, err)
		}
		if err := writeAtomic(dir, cm.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(dir string, data map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Unchanged content: nothing to do.
	same := true
	for k, v := range data {
		cur, err := os.ReadFile(filepath.Join(dir, k))
		if err != nil || string(cur) != v {
			same = false
			break
		}
	}
	if same && len(data) > 0 {
		return nil
	}
	ts := fmt.Sprintf("..%d", time.Now().UnixNano())
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		return err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o644); err != nil {
			return err
		}
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(ts, tmpLink); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for k := range data {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
				return err
			}
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// start runs replica i of a workload.
func (n *Node) start(ctx context.Context, kind, name string, t *corev1.PodTemplateSpec, i int, w *workload) (*process.Process, error) {
	c := mainContainer(t)
	podName := fmt.Sprintf("%s-%s-%d", name, n.Name, i)
	kubeconfig, err := n.podKubeconfig(ctx, t, podName)
	if err != nil {
		return nil, err
	}

	// Where each mount path of the container lives on this machine.
	mounts := map[string]string{}
	volumes := map[string]corev1.Volume{}
	for _, v := range t.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v := volumes[m.Name]
		switch {
		case v.HostPath != nil:
			mounts[m.MountPath] = n.HostPath(v.HostPath.Path)
		case v.ConfigMap != nil:
			mounts[m.MountPath] = w.configMaps[v.ConfigMap.Name]
		default:
			mounts[m.MountPath] = filepath.Join(n.WorkDir, "pods", podName, "volumes", m.Name)
		}
		if err := os.MkdirAll(mounts[m.MountPath], 0o755); err != nil {
			return nil, fmt.Errorf("failed to create %s: %w", mounts[m.MountPath], err)
		}
	}
	// Longest mount path first, so nested mounts win.
	paths := make([]string, 0, len(mounts))
	for p := range mounts {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(a, b int) bool { return len(paths[a]) > len(paths[b]) })

	// The container's environment: literal values and the downward API.
	envVars := map[string]string{}
	var procEnv []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.namespace":
				v = n.Namespace
			case "metadata.name":
				v = podName
			case "spec.nodeName":
				v = n.Name
			case "spec.serviceAccountName":
				v = t.Spec.ServiceAccountName
			}
		}
		envVars[e.Name] = v
		procEnv = append(procEnv, e.Name+"="+v)
	}
	var healthAddr, metricsAddr string
	args := []string{}
	for _, a := range c.Args {
		a = expandEnv(a, envVars)
		flag, value, hasValue := strings.Cut(a, "=")
		if hasValue && strings.HasSuffix(flag, "-bind-address") && value != "0" {
			addr, err := process.FreeAddr()
			if err != nil {
				return nil, err
			}
			switch flag {
			case "--health-probe-bind-address":
				healthAddr = addr
			case "--metrics-bind-address":
				metricsAddr = addr
			}
			a = flag + "=" + addr
		} else if hasValue {
			a = flag + "=" + translatePath(value, paths, mounts)
		}
		args = append(args, a)
	}
	args = append(args, "--kubeconfig="+kubeconfig)
	p := &process.Process{
		Name:        podName,
		Binary:      n.Binary,
		Args:        args,
		Env:         procEnv,
		HealthAddr:  healthAddr,
		MetricsAddr: metricsAddr,
		LogFile:     filepath.Join(n.WorkDir, "logs", podName+".log"),
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func expandEnv(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "$("+k+")", v)
	}
	return s
}

// translatePath rewrites a container path (also inside unix:// URLs) to the
// local directory of its mount.
func translatePath(value string, paths []string, mounts map[string]string) string {
	prefix := ""
	if rest, ok := strings.CutPrefix(value, "unix://"); ok {
		prefix, value = "unix://", rest
	}
	for _, mp := range paths {
		if value == mp || strings.HasPrefix(value, strings.TrimSuffix(mp, "/")+"/") {
			return prefix + mounts[mp] + strings.TrimPrefix(value, mp)
		}
	}
	return prefix + value
}

// podKubeconfig creates the Pod object the workload controller would create
// (so its ServiceAccount token is bound to a real pod) and writes a
// kubeconfig holding that token.
func (n *Node) podKubeconfig(ctx context.Context, t *corev1.PodTemplateSpec, podName string) (string, error) {
	sa := t.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: n.Namespace, Name: podName, Labels: t.Labels},
		Spec:       *t.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = n.Name
	_ = n.Env.Client.Delete(ctx, pod, client.GracePeriodSeconds(0))
	for {
		err := n.Env.Client.Create(ctx, pod)
		if err == nil {
			break
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("failed to create pod %s: %w", podName, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	tok, err := n.Env.PodToken(ctx, pod, 24*3600)
	if err != nil {
		return "", err
	}
	path := filepath.Join(n.WorkDir, "kubeconfigs", podName+".kubeconfig")
	return path, process.WriteKubeconfig(path, n.Env.TokenConfig(tok.Token))
}

// registerPlugins does what kubelet's plugin watcher does with
// plugins_registry: it registers each plugin whose registration socket
// appeared, or was re-created, since it last looked.
func (n *Node) registerPlugins(ctx context.Context) {
	dir := filepath.Join(n.KubeletDir(), "plugins_registry")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.plugins == nil {
		n.plugins = map[string]os.FileInfo{}
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSocket == 0 || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		// A socket re-created by a restarted driver may get the old one's
		// inode number; its modification time tells them apart (kubelet
		// sees the create event).
		if old := n.plugins[path]; old != nil && os.SameFile(old, fi) && old.ModTime().Equal(fi.ModTime()) {
			continue
		}
		if _, _, err := kubelet.RegisterPlugin(ctx, path, n.HostPath); err != nil {
			fmt.Fprintf(n.Log, "node %s: failed to register the plugin of %s: %v\n", n.Name, path, err)
			continue
		}
		n.plugins[path] = fi
	}
}

func (n *Node) readyCount(ctx context.Context, kind, name string) int32 {
	if kind == "DaemonSet" {
		n.registerPlugins(ctx)
	}
	var ready int32
	for _, p := range n.Processes(kind, name) {
		if p.Ready(ctx) == nil {
			ready++
		}
	}
	return ready
}

// writeDaemonSetStatus writes what the DaemonSet controller would: one node.
func (n *Node) writeDaemonSetStatus(ctx context.Context, ds *appsv1.DaemonSet) error {
	ready := n.readyCount(ctx, "DaemonSet", ds.Name)
	st := appsv1.DaemonSetStatus{
		CurrentNumberScheduled: 1,
		DesiredNumberScheduled: 1,
		NumberReady:            ready,
		NumberAvailable:        ready,
		UpdatedNumberScheduled: 1,
		ObservedGeneration:     ds.Generation,
	}
	if ready == 0 {
		st.NumberUnavailable = 1
	}
	if equalJSON(ds.Status, st) {
		return nil
	}
	ds.Status = st
	if err := n.Env.Client.Status().Update(ctx, ds); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to update daemonset %s status: %w", ds.Name, err)
	}
	return nil
}

// writeDeploymentStatus writes what the Deployment controller would.
func (n *Node) writeDeploymentStatus(ctx context.Context, d *appsv1.Deployment) error {
	ready := n.readyCount(ctx, "Deployment", d.Name)
	replicas := int32(len(n.Processes("Deployment", d.Name)))
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           replicas,
		UpdatedReplicas:    replicas,
		ReadyReplicas:      ready,
		AvailableReplicas:  ready,
	}
	if replicas > ready {
		st.UnavailableReplicas = replicas - ready
	}
	if equalJSON(d.Status, st) {
		return nil
	}
	d.Status = st
	if err := n.Env.Client.Status().Update(ctx, d); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to update deployment %s status: %w", d.Name, err)
	}
	return nil
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
