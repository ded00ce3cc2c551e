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

// Package process runs csi-driver-spiffe as its own OS process in tests, the
// way a pod's container runs it: the binary built once per test binary, its
// endpoints on free loopback ports, a kubeconfig of its own, and stopped the
// way Kubernetes stops a container. The node stand-in (test/harness), the
// driver fixture (test/driverenv) and the approver's tests (test/approver)
// build on it.
package process

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one csi-driver-spiffe process: operator, driver or approver.
// Set its fields, then Start it. Once it has ended it may be started again,
// with the same fields.
type Process struct {
	// Name names the process in errors, e.g. "the driver" or a pod name.
	Name string
	// Binary is the csi-driver-spiffe binary (see Binary).
	Binary string
	// Args are its arguments, the subcommand first.
	Args []string
	// Env is added to the test's environment (KEY=value).
	Env []string
	// LogFile, when set, receives its stdout and stderr, appended across
	// restarts.
	LogFile string
	// Output, when set, receives its stdout and stderr too.
	Output io.Writer
	// HealthAddr is where it serves /readyz (its
	// --health-probe-bind-address). When empty it has no health endpoint
	// and is ready while it runs.
	HealthAddr string
	// MetricsAddr is where it serves /metrics (its --metrics-bind-address).
	MetricsAddr string

	op  sync.Mutex // serializes Start, Stop and Kill
	mu  sync.Mutex // guards cur and its ended and stopErr
	cur *run
}

// run is one start of a Process.
type run struct {
	cmd *exec.Cmd
	// done is closed once the process has exited; err is how, set before.
	done chan struct{}
	err  error
	// ended is set once Stop or Kill has ended the run; stopErr is what
	// Stop returns from then on.
	ended   bool
	stopErr error
}

// Start starts the process in its own process group, so that Stop and Kill
// reach anything it starts, with Pdeathsig set, so that it dies with the
// test. It does not wait for the process to be ready: see WaitReady.
func (p *Process) Start() error {
	p.op.Lock()
	defer p.op.Unlock()
	if r := p.current(); r != nil && !r.exited() {
		return fmt.Errorf("%s is already running", p.Name)
	}
	var out []io.Writer
	var logFile *os.File
	if p.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(p.LogFile), 0o755); err != nil {
			return fmt.Errorf("failed to create the log directory of %s: %w", p.Name, err)
		}
		var err error
		if logFile, err = os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("failed to open log %q: %w", p.LogFile, err)
		}
		out = append(out, logFile)
	}
	if p.Output != nil {
		out = append(out, p.Output)
	}
	// #nosec G204 -- the binary and arguments come from the test itself.
	cmd := exec.Command(p.Binary, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	switch len(out) {
	case 1:
		cmd.Stdout, cmd.Stderr = out[0], out[0]
	case 2:
		w := io.MultiWriter(out...)
		cmd.Stdout, cmd.Stderr = w, w
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			_ = logFile.Close()
		}
		return fmt.Errorf("failed to start %s: %w", p.Name, err)
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		if logFile != nil {
			_ = logFile.Close()
		}
		close(r.done)
	}()
	p.mu.Lock()
	p.cur = r
	p.mu.Unlock()
	return nil
}

func (p *Process) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	r := p.current()
	if r == nil || !r.exited() {
		return false, nil
	}
	return true, r.err
}

// PID returns the process ID; 0 before Start and once Stop or Kill has
// ended it.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.ended {
		return 0
	}
	return p.cur.cmd.Process.Pid
}

// Stop stops the process as Kubernetes stops a container: SIGTERM to its
// process group, then SIGKILL after grace, and waits for it. It returns an
// error if the process had exited before, did not exit cleanly, or had to be
// killed; calling it again returns the same. It returns nil when the process
// was never started or Kill ended it.
func (p *Process) Stop(grace time.Duration) error {
	p.op.Lock()
	defer p.op.Unlock()
	r := p.current()
	if r == nil {
		return nil
	}
	p.mu.Lock()
	ended, stopErr := r.ended, r.stopErr
	p.mu.Unlock()
	if ended {
		return stopErr
	}
	if r.exited() {
		stopErr = fmt.Errorf("%s exited before it was stopped: %v", p.Name, r.err)
	} else {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
			if r.err != nil {
				stopErr = fmt.Errorf("%s did not exit cleanly: %w", p.Name, r.err)
			}
		case <-time.After(grace):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
			stopErr = fmt.Errorf("%s did not stop within %s after SIGTERM and was killed", p.Name, grace)
		}
	}
	p.mu.Lock()
	r.ended, r.stopErr = true, stopErr
	p.mu.Unlock()
	return stopErr
}

// Kill kills the process group with SIGKILL, as a crash, and waits for the
// process to exit.
func (p *Process) Kill() error {
	p.op.Lock()
	defer p.op.Unlock()
	r := p.current()
	if r == nil {
		return nil
	}
	if !r.exited() {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
	p.mu.Lock()
	r.ended = true
	p.mu.Unlock()
	return nil
}

// Logs returns what the process wrote to LogFile so far.
func (p *Process) Logs() string {
	if p.LogFile == "" {
		return ""
	}
	data, _ := os.ReadFile(p.LogFile)
	return string(data)
}

// logNote is the end of an error about the process: its log, if it has a
// log file.
func (p *Process) logNote() string {
	if p.LogFile == "" {
		return ""
	}
	return fmt.Sprintf("; its log (%s):\n%s", p.LogFile, p.Logs())
}

// Readyz returns the status code and body of /readyz, or of /readyz/<check>
// when check is not empty: only a single check's endpoint says why it fails.
func (p *Process) Readyz(ctx context.Context, check string) (int, string, error) {
	url := "http://" + p.HealthAddr + "/readyz"
	if check != "" {
		url += "/" + check
	}
	return get(ctx, url)
}

// Ready returns nil when the process runs and /readyz answers 200, and
// otherwise why not.
func (p *Process) Ready(ctx context.Context) error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("%s was not started", p.Name)
	}
	if exited, err := p.Exited(); exited {
		return fmt.Errorf("%s exited (%v)", p.Name, err)
	}
	if p.HealthAddr == "" {
		return nil
	}
	code, body, err := p.Readyz(ctx, "")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/readyz answered %d: %s", code, strings.TrimSpace(body))
	}
	return nil
}

// WaitReady waits until Ready, the process exits or ctx ends.
func (p *Process) WaitReady(ctx context.Context) error {
	return p.WaitFor(ctx, p.Ready)
}

// WaitFor polls cond until it returns nil, the process exits or ctx ends.
// Its error says what cond said last, and holds the process's log.
func (p *Process) WaitFor(ctx context.Context, cond func(context.Context) error) error {
	for {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited while starting (%v)%s", p.Name, err, p.logNote())
		}
		last := cond(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready (%v): %w%s", p.Name, last, ctx.Err(), p.logNote())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// get returns the status code and body of url.
func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	// Uncompressed: a benchmark polling /metrics must cost the process as
	// little as possible.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// FreeAddr returns a loopback TCP address (127.0.0.1:port) that is free now,
// for a process's endpoint.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("failed to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
