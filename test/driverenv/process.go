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

package driverenv

import (
	"bytes"
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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BinaryEnv names an already built csi-driver-spiffe binary to use instead
// of building one.
const BinaryEnv = "CSI_DRIVER_SPIFFE_BINARY"

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// RemoveBinary removes the binary Binary built, if any. Call it when the
// process is done with drivers (TestMain, after m.Run).
func RemoveBinary() error {
	if buildDir == "" {
		return nil
	}
	return os.RemoveAll(buildDir)
}

// Binary returns the path of the csi-driver-spiffe binary: $CSI_DRIVER_SPIFFE_BINARY,
// or one built once per process from the repository at repoRoot.
func Binary(repoRoot string) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p, nil
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "csi-driver-spiffe-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir, buildPath = dir, filepath.Join(dir, "csi-driver-spiffe")
		cmd := exec.Command("go", "build", "-o", buildPath, ".")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("failed to build the driver binary: %w: %s", err, out)
		}
	})
	return buildPath, buildErr
}

// Process is the driver running as its own process, as in its DaemonSet.
type Process struct {
	binary string
	args   []string
	// Socket is the driver's CSI socket.
	Socket string
	// MetricsAddr and HealthAddr are its HTTP endpoints.
	MetricsAddr, HealthAddr string
	logPath                 string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts (or restarts) the process and waits until it is ready
// (/readyz) or ctx ends.
func (p *Process) Start(ctx context.Context) error {
	done, err := p.spawn()
	if err != nil {
		return err
	}
	return p.waitReady(ctx, done)
}

// StartUnready starts the process and waits only for its socket: a driver
// without configuration serves CSI but is not ready.
func (p *Process) StartUnready(ctx context.Context) error {
	done, err := p.spawn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if _, err := os.Stat(p.Socket); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("the driver exited while starting; its log:\n%s", p.Logs())
		case <-ctx.Done():
			return fmt.Errorf("the driver did not open its socket: %w; its log:\n%s", ctx.Err(), p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *Process) spawn() (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil, errors.New("the driver is already running")
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open driver log: %w", err)
	}
	cmd := exec.Command(p.binary, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("failed to start the driver: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return done, nil
}

func (p *Process) waitReady(ctx context.Context, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last string
	for {
		resp, err := http.Get("http://" + p.HealthAddr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if _, err := os.Stat(p.Socket); err == nil {
					return nil
				}
			}
			last = strings.TrimSpace(string(body))
		}
		select {
		case <-done:
			return fmt.Errorf("the driver exited while starting; its log:\n%s", p.Logs())
		case <-ctx.Done():
			return fmt.Errorf("the driver did not become ready (%s): %w; its log:\n%s", last, ctx.Err(), p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop stops the process with SIGTERM (SIGKILL after 10s) and waits for it.
func (p *Process) Stop() error { return p.signal(syscall.SIGTERM) }

// Kill kills the process with SIGKILL, as a crash, and waits for it.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	return nil
}

// PID returns the process ID, 0 when not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Memory is a process's resident memory, from /proc/<pid>/status.
type Memory struct {
	// RSS is the resident set size; Anon and File are its anonymous part
	// (heap, stacks) and its file-backed part (the binary's pages).
	RSS, Anon, File int64
}

// RSS returns the process's resident memory.
func (p *Process) RSS() (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return Memory{}, fmt.Errorf("failed to read the driver's status: %w", err)
	}
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	for line := range strings.Lines(string(data)) {
		for prefix, dst := range fields {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return Memory{}, fmt.Errorf("failed to parse %s %q: %w", prefix, rest, err)
				}
				*dst = kb * 1024
			}
		}
	}
	if m.RSS == 0 {
		return Memory{}, errors.New("no VmRSS in the driver's status")
	}
	return m, nil
}

// CPUTime returns the CPU time (user and system) the process has used.
func (p *Process) CPUTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0, fmt.Errorf("failed to read the driver's stat: %w", err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc/pid/stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// USER_HZ is 100 on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// Logs returns what the process wrote so far.
func (p *Process) Logs() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

// Metrics scrapes the process's /metrics.
func (p *Process) Metrics() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("failed to scrape the driver's metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("failed to read the driver's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader(body))
}

// Metric returns the value of a counter or gauge (summed over the series
// whose labels include labels), or of a histogram's sample count.
func (p *Process) Metric(name string, labels map[string]string) (float64, error) {
	families, err := p.Metrics()
	if err != nil {
		return 0, err
	}
	f, ok := families[name]
	if !ok {
		return 0, nil
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// freeAddr returns a free loopback TCP address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
