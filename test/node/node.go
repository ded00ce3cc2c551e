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

// Package node runs a real one-node Kubernetes cluster on this machine for
// tests (`make test-node`, `make demo-node`): etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built from source into bin/,
// containerd (built from source) with Debian's runc and CNI plugins, a real
// kubelet and kube-proxy, and the cert-manager stand-ins. Pods run as real
// containers; the product is installed the way a user installs it.
//
// Everything runs as background processes (test/process) with pid files
// under the work directory. Nothing may leave the machine: the node's
// address, the pod network and the Service range live on bridges the
// harness creates, pods have no default route, and the Service range is
// routed into an empty bridge. Stop tears everything down — processes,
// containers, mounts, links, firewall rules, cgroups, kernel settings,
// /var/lib/kubelet — and fails if the machine differs from the baseline
// taken before anything started.
package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/certmanager"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/env"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

// The node's names and addresses. The addresses are from 198.18.0.0/15,
// reserved for network benchmarks (RFC 2544) and never routed on the
// internet; they live only on the bridges the harness creates.
const (
	NodeName = "node-1"
	// NodeIP is the node's address (kubelet, the API server), on NodeBridge.
	NodeIP     = "198.18.0.1"
	NodeBridge = "spfnode0"
	// PodCIDR is the pod network on PodBridge, whose address is PodGateway.
	PodCIDR    = "198.18.1.0/24"
	PodGateway = "198.18.1.1"
	PodBridge  = "spfcni0"
	// ServiceCIDR is routed into ServiceBridge, an empty bridge: Service
	// traffic kube-proxy does not answer goes nowhere.
	ServiceCIDR         = "198.18.2.0/24"
	KubernetesServiceIP = "198.18.2.1"
	ServiceBridge       = "spfsvc0"

	APIServerPort      = "6443"
	KubeletPort        = 10250
	KubeletHealthzPort = 10248

	// KubeletRootDir is kubelet's default root directory, which the
	// operator's DaemonSet mounts (--kubelet-root-dir): the node uses it,
	// refuses to start if it exists and is not empty, and removes it.
	KubeletRootDir = "/var/lib/kubelet"
	// DriverDataRoot is where the driver DaemonSet keeps its data on the
	// host (controllers/spiffetrustdomain.HostDataRoot).
	DriverDataRoot = "/var/lib/csi-driver-spiffe"
	// CgroupRoot is the cgroup, in every hierarchy, under which kubelet
	// puts every pod.
	CgroupRoot = "csi-driver-spiffe-node"

	// PauseImage is the sandbox image (our own, see test/node/pause) and
	// BusyboxImage what `image: busybox` resolves to (Debian's
	// busybox-static).
	PauseImage   = "localhost/csi-driver-spiffe-node/pause:v1"
	BusyboxImage = "docker.io/library/busybox:latest"

	// DefaultWorkDir holds everything the node writes, except what must be
	// where kubelet and the driver expect it.
	DefaultWorkDir = "/var/tmp/csi-driver-spiffe-node"
)

// Options configure a Cluster.
type Options struct {
	// WorkDir holds the node's files; default DefaultWorkDir. A work
	// directory left by a run that could not clean up is torn down first.
	WorkDir string
	// Bin holds the binaries: etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubelet, kube-proxy, kubectl, containerd,
	// containerd-shim-runc-v2, ctr. Default <repo>/bin.
	Bin string
	// Images are docker archives to import into containerd besides the
	// pause and busybox images (such as the product image of `make image`).
	Images []string
	// KeepWorkDir keeps the work directory (logs) after Stop.
	KeepWorkDir bool
	// Log receives progress lines. Default: discarded.
	Log io.Writer
}

// Cluster is the running node and its control plane.
type Cluster struct {
	// Config and Client are a cluster administrator's (system:masters).
	Config *rest.Config
	Client client.Client
	// Kubeconfig is the administrator's kubeconfig file.
	Kubeconfig string
	// WorkDir holds logs (logs/), pid files (run/) and configuration.
	WorkDir string
	// RepoRoot is the repository root.
	RepoRoot string

	opts     Options
	bin      string
	state    *runState
	lock     *os.File
	procs    []*process.Process // in start order
	cancel   context.CancelFunc
	standIns chan struct{}
}

// runState is what a run created, written to the work directory before
// anything is created, so a later run can clean up after one that was
// killed.
type runState struct {
	Baseline *hostState `json:"baseline"`
	// Created lists what the run made: links, cgroup directories, and
	// watched paths that did not exist before.
	Created []string `json:"created"`
}

func (c *Cluster) progress(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, "==> "+format+"\n", args...)
}

// Start brings the node up: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd with the images, kubelet, kube-proxy, the
// cert-manager CRDs and stand-ins. It returns once the node is Ready. On
// error everything started is torn down.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.WorkDir == "" {
		opts.WorkDir = DefaultWorkDir
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a real node needs root (containers, mounts, network links)")
	}
	root, err := env.RepoRoot()
	if err != nil {
		return nil, err
	}
	c = &Cluster{opts: opts, WorkDir: opts.WorkDir, RepoRoot: root, bin: opts.Bin}
	if c.bin == "" {
		c.bin = filepath.Join(root, "bin")
	}
	if err := c.checkPrerequisites(); err != nil {
		return nil, err
	}
	if err := c.acquireLock(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if err := c.cleanStale(ctx); err != nil {
		return c, err
	}
	if err := c.claimHostPaths(); err != nil {
		return c, err
	}
	c.progress("recording the machine's state: firewall rules, links, routes, mounts, kernel settings")
	baseline, err := captureHostState(ctx)
	if err != nil {
		return c, err
	}
	c.state = &runState{Baseline: baseline}
	for _, d := range []string{"run", "logs", "pki"} {
		if err := os.MkdirAll(filepath.Join(c.WorkDir, d), 0o700); err != nil {
			return c, err
		}
	}
	if err := c.saveState(); err != nil {
		return c, err
	}

	c.progress("creating the node's network: %s (node %s), %s (pods %s), %s (Services %s)", NodeBridge, NodeIP, PodBridge, PodCIDR, ServiceBridge, ServiceCIDR)
	if err := c.setupNetwork(ctx); err != nil {
		return c, err
	}
	p, err := newPKI(filepath.Join(c.WorkDir, "pki"))
	if err != nil {
		return c, err
	}
	if err := c.startControlPlane(ctx, p); err != nil {
		return c, err
	}
	if err := c.startNode(ctx, p); err != nil {
		return c, err
	}
	if err := c.startStandIns(ctx); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Cluster) checkPrerequisites() error {
	var missing []string
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "containerd", "containerd-shim-runc-v2", "ctr"} {
		if fi, err := os.Stat(filepath.Join(c.bin, name)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing from %s: %s; build them with `hack/build-controlplane.sh bin node` and `hack/build-containerd.sh bin` (make test-node does)", c.bin, strings.Join(missing, ", "))
	}
	for _, f := range []string{"/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/sbin/iptables", "/usr/sbin/conntrack", "/bin/busybox", "/usr/sbin/ip"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing; install the node's Debian packages with hack/install-node-packages.sh (make test-node does)", f)
		}
	}
	return nil
}

// acquireLock makes sure one node runs on the machine at a time: the
// names, addresses and ports are fixed.
func (c *Cluster) acquireLock() error {
	path := filepath.Clean(c.WorkDir) + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("failed to open the lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another node runs on this machine (%s is locked): %w", path, err)
	}
	c.lock = f
	return nil
}

func (c *Cluster) saveState() error {
	data, err := json.MarshalIndent(c.state, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.WorkDir, "state.json"), data, 0o600)
}

// created records that the run made something, before it makes it.
func (c *Cluster) created(what string) error {
	c.state.Created = append(c.state.Created, what)
	return c.saveState()
}

// cleanStale tears down what a previous run left when it was killed
// without a chance to clean up, using the state it recorded.
func (c *Cluster) cleanStale(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(c.WorkDir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		if err := os.RemoveAll(c.WorkDir); err != nil {
			return err
		}
		return os.MkdirAll(c.WorkDir, 0o700)
	}
	if err != nil {
		return err
	}
	c.progress("cleaning up after a previous node that did not stop (%s)", c.WorkDir)
	st := &runState{}
	if err := json.Unmarshal(data, st); err != nil {
		return fmt.Errorf("failed to read %s/state.json: %w", c.WorkDir, err)
	}
	c.state = st
	if err := c.teardown(ctx); err != nil {
		return fmt.Errorf("failed to clean up after a previous node: %w", err)
	}
	c.state = nil
	if err := os.RemoveAll(c.WorkDir); err != nil {
		return err
	}
	return os.MkdirAll(c.WorkDir, 0o700)
}

// claimHostPaths refuses to start when kubelet's root directory or the
// driver's data root hold something: they may belong to a real kubelet.
func (c *Cluster) claimHostPaths() error {
	for _, p := range []string{KubeletRootDir, DriverDataRoot} {
		entries, err := os.ReadDir(p)
		if err == nil && len(entries) > 0 {
			return fmt.Errorf("%s exists and is not empty: a node cannot start here without touching another kubelet's files", p)
		}
	}
	return nil
}

func (c *Cluster) ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupNetwork creates the three bridges. Routes to the node address and
// the pod network come with their addresses; the Service range is routed
// into the empty ServiceBridge.
func (c *Cluster) setupNetwork(ctx context.Context) error {
	for _, b := range []struct{ name, addr string }{
		{NodeBridge, NodeIP + "/32"},
		{PodBridge, PodGateway + "/24"},
		{ServiceBridge, ""},
	} {
		if err := c.created("link " + b.name); err != nil {
			return err
		}
		if err := c.ip(ctx, "link", "add", b.name, "type", "bridge"); err != nil {
			return err
		}
		if b.addr != "" {
			if err := c.ip(ctx, "addr", "add", b.addr, "dev", b.name); err != nil {
				return err
			}
		}
		if err := c.ip(ctx, "link", "set", b.name, "up"); err != nil {
			return err
		}
	}
	return c.ip(ctx, "route", "add", ServiceCIDR, "dev", ServiceBridge)
}

// newProcess returns a process of a binary of bin/, logging to logs/ and
// leaving a pid file in run/ once started.
func (c *Cluster) newProcess(name string, args ...string) *process.Process {
	return &process.Process{
		Name:    name,
		Binary:  filepath.Join(c.bin, name),
		Args:    args,
		LogFile: filepath.Join(c.WorkDir, "logs", name+".log"),
		// containerd finds its shim and runc on PATH.
		Env: []string{"PATH=" + c.bin + ":/usr/sbin:/usr/bin:/sbin:/bin"},
	}
}

// start starts p, writes its pid file and waits until ready answers nil.
func (c *Cluster) start(ctx context.Context, p *process.Process, timeout time.Duration, ready func(context.Context) error) error {
	if err := p.Start(); err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	if err := os.WriteFile(filepath.Join(c.WorkDir, "run", p.Name+".pid"), []byte(strconv.Itoa(p.PID())+"\n"), 0o600); err != nil {
		return err
	}
	if ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.WaitFor(ctx, ready)
}

// insecureHTTP checks health endpoints on loopback and the node address,
// served with self-signed certificates.
var insecureHTTP = &http.Client{
	Timeout: 5 * time.Second,
	// #nosec G402 -- a health check of a process the test started.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

// httpReady returns a readiness check answering nil once url answers 200
// (TLS unverified: a health endpoint on loopback).
func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := insecureHTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s answered %d: %s", url, resp.StatusCode, body)
		}
		return nil
	}
}

func (c *Cluster) startControlPlane(ctx context.Context, p *pki) error {
	peer, err := process.FreeAddr()
	if err != nil {
		return err
	}
	etcdAddr, err := process.FreeAddr()
	if err != nil {
		return err
	}
	c.progress("starting etcd and kube-apiserver (%s:%s)", NodeIP, APIServerPort)
	etcd := c.newProcess("etcd",
		"--name=node", "--data-dir="+filepath.Join(c.WorkDir, "etcd"),
		"--listen-client-urls=http://"+etcdAddr, "--advertise-client-urls=http://"+etcdAddr,
		"--listen-peer-urls=http://"+peer, "--initial-advertise-peer-urls=http://"+peer,
		"--initial-cluster=node=http://"+peer, "--unsafe-no-fsync=true")
	if err := c.start(ctx, etcd, time.Minute, httpReady("http://"+etcdAddr+"/health")); err != nil {
		return err
	}
	apiserver := c.newProcess("kube-apiserver",
		"--etcd-servers=http://"+etcdAddr,
		"--bind-address="+NodeIP, "--secure-port="+APIServerPort, "--advertise-address="+NodeIP,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--cert-dir="+filepath.Join(c.WorkDir, "apiserver"),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--kubelet-client-certificate="+p.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+p.path("apiserver-kubelet-client.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.path("sa.key"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
	)
	if err := c.start(ctx, apiserver, 2*time.Minute, httpReady("https://"+net.JoinHostPort(NodeIP, APIServerPort)+"/readyz")); err != nil {
		return err
	}
	cfg, kubeconfig, err := p.userConfig("admin", "kubernetes-admin", "system:masters")
	if err != nil {
		return err
	}
	c.Config, c.Kubeconfig = cfg, kubeconfig
	if c.Client, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		return err
	}

	_, kcmConfig, err := p.userConfig("kube-controller-manager", "system:kube-controller-manager")
	if err != nil {
		return err
	}
	_, schedConfig, err := p.userConfig("kube-scheduler", "system:kube-scheduler")
	if err != nil {
		return err
	}
	c.progress("starting kube-controller-manager and kube-scheduler")
	kcmHealth, err := process.FreeAddr()
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(kcmHealth)
	kcm := c.newProcess("kube-controller-manager",
		"--kubeconfig="+kcmConfig, "--authentication-kubeconfig="+kcmConfig, "--authorization-kubeconfig="+kcmConfig,
		"--bind-address="+host, "--secure-port="+port,
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+p.path("sa.key"),
		"--root-ca-file="+p.path("ca.crt"),
		"--cluster-signing-cert-file="+p.path("ca.crt"),
		"--leader-elect=false", "--profiling=false",
		"--controllers=*,-persistentvolume-binder-controller,-persistentvolume-expander-controller,-ephemeral-volume-controller,-persistentvolumeclaim-protection-controller,-persistentvolume-protection-controller",
	)
	if err := c.start(ctx, kcm, time.Minute, httpReady("https://"+kcmHealth+"/healthz")); err != nil {
		return err
	}
	schedHealth, err := process.FreeAddr()
	if err != nil {
		return err
	}
	host, port, _ = net.SplitHostPort(schedHealth)
	sched := c.newProcess("kube-scheduler",
		"--kubeconfig="+schedConfig, "--authentication-kubeconfig="+schedConfig, "--authorization-kubeconfig="+schedConfig,
		"--bind-address="+host, "--secure-port="+port, "--leader-elect=false", "--profiling=false")
	return c.start(ctx, sched, time.Minute, httpReady("https://"+schedHealth+"/healthz"))
}

func (c *Cluster) containerdDir() string { return filepath.Join(c.WorkDir, "containerd") }

// ctr runs containerd's ctr against the node's containerd, in the
// namespace of Kubernetes.
func (c *Cluster) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "ctr"), append([]string{"--address", filepath.Join(c.containerdDir(), "containerd.sock"), "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (c *Cluster) startNode(ctx context.Context, p *pki) error {
	cniConfDir := filepath.Join(c.WorkDir, "cni", "net.d")
	if err := os.MkdirAll(cniConfDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cniConfDir, "10-csi-driver-spiffe-node.conflist"), []byte(cniConfig(filepath.Join(c.WorkDir, "cni", "ipam"))), 0o644); err != nil {
		return err
	}
	cdir := c.containerdDir()
	if err := os.MkdirAll(cdir, 0o711); err != nil {
		return err
	}
	configFile := filepath.Join(cdir, "config.toml")
	if err := os.WriteFile(configFile, []byte(containerdConfig(cdir, cniConfDir)), 0o644); err != nil {
		return err
	}
	c.progress("starting containerd (runc, CNI bridge %s)", PodBridge)
	if !c.state.Baseline.Paths["/run/containerd"] {
		// The shims' sockets go to /run/containerd/s, whatever the config.
		if err := c.created("path /run/containerd"); err != nil {
			return err
		}
	}
	ctrd := c.newProcess("containerd", "--config", configFile)
	if err := c.start(ctx, ctrd, time.Minute, func(ctx context.Context) error {
		_, err := c.ctr(ctx, "version")
		return err
	}); err != nil {
		return err
	}
	images, err := c.buildImages()
	if err != nil {
		return err
	}
	c.progress("importing images: %s", strings.Join(append(images, c.opts.Images...), ", "))
	for _, archive := range append(images, c.opts.Images...) {
		if _, err := c.ctr(ctx, "images", "import", "--no-unpack=false", archive); err != nil {
			return err
		}
	}

	// Every pod goes under CgroupRoot, which kubelet wants to exist.
	for _, dir := range cgroupDirs() {
		if err := c.created("cgroup " + dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create cgroup %s: %w", dir, err)
		}
		// A new cpuset cgroup has no CPUs and memory nodes until given
		// its parent's.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					return fmt.Errorf("failed to set %s of cgroup %s: %w", f, dir, err)
				}
			}
		}
	}
	for _, path := range []string{KubeletRootDir, DriverDataRoot, "/var/log/containers"} {
		if !c.state.Baseline.Paths[path] {
			if err := c.created("path " + path); err != nil {
				return err
			}
		}
	}

	// The driver's data directory is mounted Bidirectional into the driver
	// pod, which containerd allows only from a shared mount; kubelet makes
	// its root directory one itself.
	if err := os.MkdirAll(DriverDataRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(DriverDataRoot, DriverDataRoot, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("failed to bind-mount %s: %w", DriverDataRoot, err)
	}
	if err := unix.Mount("", DriverDataRoot, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("failed to make %s a shared mount: %w", DriverDataRoot, err)
	}

	_, kubeletConfigFile, err := p.userConfig("kubelet", "system:node:"+NodeName, "system:nodes")
	if err != nil {
		return err
	}
	kdir := filepath.Join(c.WorkDir, "kubelet")
	if err := os.MkdirAll(kdir, 0o700); err != nil {
		return err
	}
	kcfg := filepath.Join(kdir, "config.yaml")
	if err := os.WriteFile(kcfg, []byte(kubeletConfig(p.path("ca.crt"), filepath.Join(c.WorkDir, "pod-logs"))), 0o644); err != nil {
		return err
	}
	c.progress("starting kubelet (node %s, %s) and kube-proxy", NodeName, NodeIP)
	kl := c.newProcess("kubelet",
		"--config="+kcfg, "--kubeconfig="+kubeletConfigFile,
		"--container-runtime-endpoint=unix://"+filepath.Join(cdir, "containerd.sock"),
		"--hostname-override="+NodeName, "--node-ip="+NodeIP,
		"--root-dir="+KubeletRootDir, "--cert-dir="+filepath.Join(kdir, "pki"))
	if err := c.start(ctx, kl, time.Minute, httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", KubeletHealthzPort))); err != nil {
		return err
	}

	_, proxyConfig, err := p.userConfig("kube-proxy", "system:kube-proxy")
	if err != nil {
		return err
	}
	proxyHealth, err := process.FreeAddr()
	if err != nil {
		return err
	}
	proxyMetrics, err := process.FreeAddr()
	if err != nil {
		return err
	}
	// The host-protecting flags: NodePorts only on the node address, no
	// conntrack tuning, no OOM score change, endpoints on loopback.
	kp := c.newProcess("kube-proxy",
		"--kubeconfig="+proxyConfig, "--hostname-override="+NodeName, "--cluster-cidr="+PodCIDR,
		"--proxy-mode=iptables", "--nodeport-addresses=primary",
		"--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--oom-score-adj=0", "--healthz-bind-address="+proxyHealth, "--metrics-bind-address="+proxyMetrics)
	if err := c.start(ctx, kp, time.Minute, httpReady("http://"+proxyHealth+"/healthz")); err != nil {
		return err
	}

	c.progress("waiting for node %s to be Ready", NodeName)
	return waitFor(ctx, 2*time.Minute, "node "+NodeName+" to be Ready", func(ctx context.Context) error {
		n := &corev1.Node{}
		if err := c.Client.Get(ctx, client.ObjectKey{Name: NodeName}, n); err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return errors.New("no Ready condition yet")
	})
}

// startStandIns installs cert-manager's CRDs and the cert-manager stand-ins
// (test/certmanager), as a user installs cert-manager before the product.
func (c *Cluster) startStandIns(ctx context.Context) error {
	c.progress("installing cert-manager's CRDs and the cert-manager stand-in (identity stamping, approval check, CA issuers)")
	crdDir, err := env.CertManagerCRDDir(c.RepoRoot)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(crdDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			if _, err := kustomize.ApplyFile(ctx, c.Client, filepath.Join(crdDir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := waitFor(ctx, time.Minute, "cert-manager's CRDs to be served", func(ctx context.Context) error {
		return c.Client.List(ctx, &cmapi.CertificateRequestList{}, client.Limit(1))
	}); err != nil {
		return err
	}
	if err := certmanager.InstallStandIns(ctx, c.Config, c.Client, env.Scheme); err != nil {
		return err
	}
	cm, err := certmanager.NewClient(c.Config)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.standIns = make(chan struct{})
	issuers := &certmanager.Issuers{Client: c.Client, CertManager: cm, Log: c.opts.Log}
	go func() { defer close(c.standIns); issuers.Run(runCtx) }()
	return nil
}

// Clientset returns a client-go clientset of the administrator.
func (c *Cluster) Clientset() (kubernetes.Interface, error) { return kubernetes.NewForConfig(c.Config) }

// waitFor polls cond every 200 ms until it returns nil or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		last := cond(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %w", what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop tears the node down (see teardown) and compares the machine with
// the baseline taken before Start created anything: anything left over is
// an error.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	if c.cancel != nil {
		c.cancel()
		<-c.standIns
		c.cancel = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	if c.Client != nil && slices.ContainsFunc(c.procs, func(p *process.Process) bool { return p.Name == "kubelet" }) {
		c.progress("deleting every pod, so kubelet stops the containers and unmounts the volumes")
		errs = append(errs, c.deletePods(ctx))
	}
	var hostErrs []error
	if c.state != nil {
		c.progress("stopping the node and removing what it created")
		hostErrs = append(hostErrs, c.teardown(ctx))
		now, err := captureHostState(ctx)
		if err != nil {
			hostErrs = append(hostErrs, err)
		} else if diff := c.state.Baseline.diff(now); len(diff) > 0 {
			hostErrs = append(hostErrs, fmt.Errorf("the node left the machine changed:\n  %s", strings.Join(diff, "\n  ")))
		}
		errs = append(errs, hostErrs...)
	}
	switch {
	case c.opts.KeepWorkDir:
		fmt.Fprintf(c.opts.Log, "kept the work directory %s\n", c.WorkDir)
	case errors.Join(hostErrs...) != nil:
		// Its state.json lets the next run finish the cleanup.
		fmt.Fprintf(c.opts.Log, "kept the work directory %s (logs in logs/); the next run cleans up what is left\n", c.WorkDir)
	case c.state != nil:
		errs = append(errs, os.RemoveAll(c.WorkDir))
	}
	if c.lock != nil {
		errs = append(errs, c.lock.Close())
		c.lock = nil
	}
	c.state = nil
	return errors.Join(errs...)
}

// deletePods deletes every pod without grace once the controllers that
// would replace them have stopped: first the workloads, so that the CSI
// driver still runs to unpublish their volumes, then the rest (the
// operator's namespace, kube-system). It waits until kubelet has torn down
// their volumes; the teardown kills whatever still runs.
func (c *Cluster) deletePods(ctx context.Context) error {
	for _, p := range c.procs {
		if p.Name == "kube-controller-manager" || p.Name == "kube-scheduler" {
			_ = p.Stop(10 * time.Second)
		}
	}
	pods := &corev1.PodList{}
	if err := c.Client.List(ctx, pods); err != nil {
		return err
	}
	system := func(p *corev1.Pod) bool {
		return p.Namespace == "kube-system" || p.Namespace == "csi-driver-spiffe-system"
	}
	for _, phase := range []func(*corev1.Pod) bool{func(p *corev1.Pod) bool { return !system(p) }, system} {
		var uids []string
		for i := range pods.Items {
			p := &pods.Items[i]
			if !phase(p) {
				continue
			}
			if err := c.Client.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			uids = append(uids, string(p.UID))
		}
		// kubelet removes a pod's directory once its volumes are torn down.
		if err := waitFor(ctx, time.Minute, "kubelet to tear down the volumes of the deleted pods", func(context.Context) error {
			for _, uid := range uids {
				if _, err := os.Stat(filepath.Join(KubeletRootDir, "pods", uid)); err == nil {
					return fmt.Errorf("%s still exists", filepath.Join(KubeletRootDir, "pods", uid))
				}
			}
			return nil
		}); err != nil {
			// Reported, and cleaned up by the teardown's unmounting.
			fmt.Fprintf(c.opts.Log, "warning: %v\n", err)
		}
	}
	return nil
}

// Processes returns the node's processes (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy).
func (c *Cluster) Processes() []*process.Process { return slices.Clone(c.procs) }

// ContainerPIDs returns the processes of every running container of the
// pods in namespace ns, by "pod/container", from the containers' cgroups.
func (c *Cluster) ContainerPIDs(ctx context.Context, ns string) (map[string][]int, error) {
	pods := &corev1.PodList{}
	if err := c.Client.List(ctx, pods, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := map[string][]int{}
	base := filepath.Join("/sys/fs/cgroup/pids", CgroupRoot)
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			_, id, ok := strings.Cut(s.ContainerID, "://")
			if !ok {
				continue
			}
			_ = filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
				if err != nil || !d.IsDir() || d.Name() != id {
					return nil
				}
				data, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						out[p.Name+"/"+s.Name] = append(out[p.Name+"/"+s.Name], pid)
					}
				}
				return filepath.SkipDir
			})
		}
	}
	return out, nil
}
