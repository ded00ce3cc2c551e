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

// Package approvertest runs the approver the way it runs in a cluster: the
// csi-driver-spiffe binary, built from this repository, as its own process,
// authenticated as its ServiceAccount, with its metrics and health endpoints
// served on local ports.
package approvertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// Build builds the csi-driver-spiffe binary of the repository at repoRoot
// into dir and returns its path.
func Build(ctx context.Context, repoRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "csi-driver-spiffe")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("failed to build csi-driver-spiffe: %w: %s", err, out)
	}
	return bin, nil
}

// WriteKubeconfig writes to path a copy of the administrator's kubeconfig
// that impersonates the ServiceAccount ns/name with the groups the API
// server gives ServiceAccounts, so that the process has exactly the
// ServiceAccount's permissions. With an empty name it is the administrator.
func WriteKubeconfig(adminKubeconfig []byte, ns, name, path string) error {
	cfg, err := clientcmd.Load(adminKubeconfig)
	if err != nil {
		return fmt.Errorf("failed to load kubeconfig: %w", err)
	}
	if name != "" {
		ctx, ok := cfg.Contexts[cfg.CurrentContext]
		if !ok {
			return fmt.Errorf("kubeconfig has no current context %q", cfg.CurrentContext)
		}
		user := cfg.AuthInfos[ctx.AuthInfo]
		user.Impersonate = "system:serviceaccount:" + ns + ":" + name
		user.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("failed to write kubeconfig %q: %w", path, err)
	}
	return nil
}

// FreePort returns a local TCP port that is free now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("failed to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a running approver.
type Process struct {
	stopOnce    sync.Once
	stopErr     error
	cmd         *exec.Cmd
	done        chan struct{}
	err         error
	metricsAddr string
	healthAddr  string
}

// Options start an approver.
type Options struct {
	// Binary is the csi-driver-spiffe binary.
	Binary string
	// Kubeconfig is the path of its kubeconfig.
	Kubeconfig string
	// TrustDomainObject is the SpiffeTrustDomain it follows.
	TrustDomainObject string
	// Args are further flags.
	Args []string
	// Output receives its logs.
	Output io.Writer
}

// Start starts an approver on free local ports for its endpoints.
func Start(opts Options) (*Process, error) {
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	healthPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &Process{
		done:        make(chan struct{}),
		metricsAddr: "127.0.0.1:" + strconv.Itoa(metricsPort),
		healthAddr:  "127.0.0.1:" + strconv.Itoa(healthPort),
	}
	args := append([]string{
		"approver",
		"--kubeconfig=" + opts.Kubeconfig,
		"--trust-domain-object=" + opts.TrustDomainObject,
		"--metrics-bind-address=" + p.metricsAddr,
		"--health-probe-bind-address=" + p.healthAddr,
		"--log-format=text",
	}, opts.Args...)
	// #nosec G204 -- the binary and arguments come from the test itself.
	p.cmd = exec.Command(opts.Binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = opts.Output, opts.Output
	p.cmd.Env = append(os.Environ(), "POD_NAMESPACE=")
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the approver: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop stops the process as Kubernetes does, SIGTERM then, after timeout,
// SIGKILL, and waits for it. It returns an error if the process had already
// exited, or did not exit cleanly. Calling it again returns the same.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(timeout) })
	return p.stopErr
}

func (p *Process) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("the approver exited before it was stopped: %v", p.err)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("failed to signal the approver: %w", err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("the approver did not exit cleanly: %w", p.err)
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("the approver did not stop within %s after SIGTERM", timeout)
	}
}

// Ready returns the status code and body of /readyz, or of
// /readyz/<check> when check is not empty: only a single check's endpoint
// says why it fails.
func (p *Process) Ready(ctx context.Context, check string) (int, string, error) {
	url := "http://" + p.healthAddr + "/readyz"
	if check != "" {
		url += "/" + check
	}
	return get(ctx, url)
}

// Metrics returns the /metrics text.
func (p *Process) Metrics(ctx context.Context) (string, error) {
	code, body, err := get(ctx, "http://"+p.metricsAddr+"/metrics")
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("/metrics returned %d", code)
	}
	return body, nil
}

// Metric returns the value of the sample of the /metrics text whose name
// and labels are series, as written there, e.g.
// `csi_driver_spiffe_approver_decisions_total{result="approved",rule="none"}`,
// and 0 when there is no such sample.
func Metric(text, series string) (float64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.Fields(rest)[0], 64)
		}
	}
	return 0, sc.Err()
}

// PeakRSS returns the peak resident set size of the process (VmHWM), in
// bytes.
func (p *Process) PeakRSS() (int64, error) {
	return procStatus(p.Pid(), "VmHWM:")
}

// RSS returns the resident set size of the process (VmRSS), in bytes.
func (p *Process) RSS() (int64, error) {
	return procStatus(p.Pid(), "VmRSS:")
}

// CPUTime returns the CPU time the process has used, user and system.
func (p *Process) CPUTime() (time.Duration, error) { return CPUTime(p.Pid()) }

// CPUTime returns the CPU time the process pid has used, user and system.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the process stat: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
		}
		ticks += n
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Children returns the IDs of the running child processes of this process
// whose command is name, such as the kube-apiserver envtest started.
func Children(name string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || s[open+1:end] != name {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the process status: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("failed to parse %s %q: %w", field, rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	// Uncompressed: a benchmark polling /metrics must cost the process
	// as little as possible.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
