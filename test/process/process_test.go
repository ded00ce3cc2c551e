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

package process

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// shell returns a Process that runs script with /bin/sh, logging to a file
// in a temporary directory, and stops it when the test ends.
func shell(t *testing.T, script string) *Process {
	t.Helper()
	p := &Process{Name: "the script", Binary: "/bin/sh", Args: []string{"-c", script}, LogFile: filepath.Join(t.TempDir(), "logs", "script.log")}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// waitExited waits until the process has exited.
func waitExited(t *testing.T, p *Process) error {
	t.Helper()
	for {
		if exited, err := p.Exited(); exited {
			return err
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the process did not exit")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitLog waits until the process's log holds s, so that a script has
// set its traps.
func waitLog(t *testing.T, p *Process, s string) {
	t.Helper()
	if err := p.WaitFor(t.Context(), func(context.Context) error {
		if !strings.Contains(p.Logs(), s) {
			return fmt.Errorf("no %q in the log yet", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		script string
		// exit makes the script end before Stop.
		exit    bool
		grace   time.Duration
		wantErr string
	}{
		"a process that exits on SIGTERM is stopped cleanly": {
			script: `trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done`,
			grace:  time.Minute,
		},
		"a process that fails on SIGTERM did not exit cleanly": {
			script:  `trap 'exit 3' TERM; echo up; while :; do sleep 0.05; done`,
			grace:   time.Minute,
			wantErr: "the script did not exit cleanly: exit status 3",
		},
		"a process that ignores SIGTERM is killed, with its children, after the grace period": {
			script:  `trap '' TERM; echo up; sleep 600`,
			grace:   200 * time.Millisecond,
			wantErr: "the script did not stop within 200ms after SIGTERM and was killed",
		},
		"a process that exited by itself had exited before it was stopped": {
			script:  `echo up; exit 2`,
			exit:    true,
			grace:   time.Minute,
			wantErr: "the script exited before it was stopped: exit status 2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := shell(t, tc.script)
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.exit {
				_ = waitExited(t, p)
			} else {
				waitLog(t, p, "up")
			}
			err := p.Stop(tc.grace)
			if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && got != tc.wantErr) {
				t.Fatalf("Stop returned %v, want %q", err, tc.wantErr)
			}
			if again := p.Stop(tc.grace); fmt.Sprint(again) != fmt.Sprint(err) {
				t.Errorf("Stop again returned %v, want %v", again, err)
			}
			if exited, _ := p.Exited(); !exited {
				t.Error("the process runs after Stop")
			}
			if pid := p.PID(); pid != 0 {
				t.Errorf("PID is %d after Stop, want 0", pid)
			}
		})
	}
}

func TestStopBeforeStart(t *testing.T) {
	t.Parallel()
	p := &Process{Name: "never"}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("Stop returned %v, want nil", err)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("Kill returned %v, want nil", err)
	}
	if exited, err := p.Exited(); exited || err != nil {
		t.Errorf("Exited returned %v, %v, want false, nil", exited, err)
	}
	if err := p.Ready(t.Context()); err == nil || err.Error() != "never was not started" {
		t.Errorf("Ready returned %v, want that it was not started", err)
	}
}

// Kill ends the process like a crash; it can be started again, with its log
// kept, and Stop then stops the new run.
func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	p := shell(t, `echo "run $RUN"; trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	p.Env = []string{"RUN=first"}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "run first")
	first := p.PID()
	if first == 0 {
		t.Fatal("PID is 0 while running")
	}
	if err := p.Start(); err == nil || err.Error() != "the script is already running" {
		t.Fatalf("Start of a running process returned %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if exited, err := p.Exited(); !exited || err == nil || err.Error() != "signal: killed" {
		t.Fatalf("Exited after Kill returned %v, %v, want true, signal: killed", exited, err)
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("Stop after Kill returned %v, want nil", err)
	}
	p.Env = []string{"RUN=second"}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "run second")
	if pid := p.PID(); pid == 0 || pid == first {
		t.Errorf("PID of the second run is %d, first was %d", pid, first)
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	// The shell may add a line about its sleep ending on SIGTERM.
	if logs := p.Logs(); !strings.HasPrefix(logs, "run first\nrun second\n") {
		t.Errorf("log is %q, want both runs in order", logs)
	}
	if fi, err := os.Stat(p.LogFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file: %v, %v, want mode 0600", fi, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOutput(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		logFile bool
	}{
		"output only":          {},
		"output and a logfile": {logFile: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			p := &Process{Name: "echo", Binary: "/bin/sh", Args: []string{"-c", `echo "out $A"; echo "err $A" >&2`}, Env: []string{"A=1"}, Output: out}
			if tc.logFile {
				p.LogFile = filepath.Join(t.TempDir(), "echo.log")
			}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			if err := waitExited(t, p); err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{"out 1\n", "err 1\n"} {
				if !strings.Contains(out.String(), line) {
					t.Errorf("output %q lacks %q", out.String(), line)
				}
				if tc.logFile && !strings.Contains(p.Logs(), line) {
					t.Errorf("log %q lacks %q", p.Logs(), line)
				}
			}
			if !tc.logFile && p.Logs() != "" {
				t.Errorf("Logs without a log file returned %q", p.Logs())
			}
		})
	}
}

func TestStartError(t *testing.T) {
	t.Parallel()
	p := &Process{Name: "the missing binary", Binary: filepath.Join(t.TempDir(), "missing")}
	if err := p.Start(); err == nil || !strings.HasPrefix(err.Error(), "failed to start the missing binary: ") {
		t.Errorf("Start returned %v", err)
	}
}

// health serves /readyz (and /readyz/<check>) answering code and body, and
// /metrics answering metrics.
func health(t *testing.T, code *atomic.Int32, body string, metrics string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/readyz"):
			w.WriteHeader(int(code.Load()))
			fmt.Fprint(w, r.URL.Path+": "+body)
		case r.URL.Path == "/metrics" && metrics != "":
			fmt.Fprint(w, metrics)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	var code atomic.Int32
	code.Store(http.StatusInternalServerError)
	p := shell(t, `echo started; while :; do sleep 0.05; done`)
	p.HealthAddr = health(t, &code, "not yet", "")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(t.Context()); err == nil || err.Error() != "/readyz answered 500: /readyz: not yet" {
		t.Errorf("Ready returned %v, want the reason", err)
	}
	if code, body, err := p.Readyz(t.Context(), "configuration"); err != nil || code != http.StatusInternalServerError || body != "/readyz/configuration: not yet" {
		t.Errorf("Readyz(configuration) returned %d, %q, %v", code, body, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := p.WaitReady(ctx)
	if want := "the script did not become ready (/readyz answered 500: /readyz: not yet): context deadline exceeded; its log (" + p.LogFile + "):\nstarted\n"; err == nil || err.Error() != want {
		t.Errorf("WaitReady returned %v, want %q", err, want)
	}
	code.Store(http.StatusOK)
	if err := p.WaitReady(t.Context()); err != nil {
		t.Errorf("WaitReady returned %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(t.Context()); err == nil || err.Error() != "the script exited (signal: killed)" {
		t.Errorf("Ready of a killed process returned %v", err)
	}
}

func TestReadyWithoutHealthEndpoint(t *testing.T) {
	t.Parallel()
	p := shell(t, `while :; do sleep 0.05; done`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(t.Context()); err != nil {
		t.Errorf("WaitReady returned %v, want nil while it runs", err)
	}
}

func TestWaitReadyExited(t *testing.T) {
	t.Parallel()
	var code atomic.Int32
	code.Store(http.StatusInternalServerError)
	p := shell(t, `echo "bad flag" >&2; exit 1`)
	p.HealthAddr = health(t, &code, "", "")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	want := "the script exited while starting (exit status 1); its log (" + p.LogFile + "):\nbad flag\n"
	if err := p.WaitReady(t.Context()); err == nil || err.Error() != want {
		t.Errorf("WaitReady returned %v, want %q", err, want)
	}
}

const exposition = `# TYPE requests_total counter
requests_total{code="200",verb="GET"} 3
requests_total{code="200",verb="PUT"} 4
requests_total{code="500",verb="GET"} 5
# TYPE volumes gauge
volumes 7
# TYPE latency_seconds histogram
latency_seconds_bucket{le="1"} 2
latency_seconds_bucket{le="+Inf"} 6
latency_seconds_sum 9
latency_seconds_count 6
`

func TestMetrics(t *testing.T) {
	t.Parallel()
	var ok atomic.Int32
	ok.Store(http.StatusOK)
	p := &Process{Name: "the server", MetricsAddr: health(t, &ok, "", exposition)}
	tests := map[string]struct {
		name   string
		labels map[string]string
		want   float64
	}{
		"a counter sums all its series":                    {name: "requests_total", want: 12},
		"a counter sums the series with the labels":        {name: "requests_total", labels: map[string]string{"code": "200"}, want: 7},
		"a counter's series with all the labels":           {name: "requests_total", labels: map[string]string{"code": "200", "verb": "GET"}, want: 3},
		"a series that does not exist is 0":                {name: "requests_total", labels: map[string]string{"code": "404"}, want: 0},
		"a gauge is its value":                             {name: "volumes", want: 7},
		"a histogram is its sample count":                  {name: "latency_seconds", want: 6},
		"a metric that does not exist is 0":                {name: "missing_total", want: 0},
		"a label a series does not have matches no series": {name: "volumes", labels: map[string]string{"x": "y"}, want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Metric(t.Context(), tc.name, tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Metric(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
			}
		})
	}
}

func TestMetricsErrors(t *testing.T) {
	t.Parallel()
	var ok atomic.Int32
	ok.Store(http.StatusOK)
	tests := map[string]struct {
		metrics string
		wantErr string
	}{
		"an endpoint that does not serve metrics": {wantErr: "/metrics of the server answered 404"},
		"metrics that do not parse":               {metrics: "requests_total{ 3\n", wantErr: "failed to parse the metrics of the server: "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &Process{Name: "the server", MetricsAddr: health(t, &ok, "", tc.metrics)}
			if _, err := p.Metrics(t.Context()); err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("Metrics returned %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// RSS, CPUTime and Children read a running process's /proc entries.
func TestProc(t *testing.T) {
	t.Parallel()
	p := &Process{Name: "sleep", Binary: "/bin/sleep", Args: []string{"600"}}
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	m, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS || m.Anon+m.File > m.RSS || m.RSS%1024 != 0 {
		t.Errorf("implausible memory %+v", m)
	}
	if _, err := p.CPUTime(); err != nil {
		t.Error(err)
	}
	pids, err := Children("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, p.PID()) {
		t.Errorf("Children(sleep) = %v, lacks %d", pids, p.PID())
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RSS(); err == nil {
		t.Error("RSS of a killed process returned no error")
	}
	if _, err := CPUTime(0); err == nil {
		t.Error("CPUTime(0) returned no error")
	}
}

func TestWriteKubeconfig(t *testing.T) {
	t.Parallel()
	tests := map[string]*rest.Config{
		"a bearer token": {
			Host:            "https://127.0.0.1:6443",
			TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca")},
			BearerToken:     "token",
		},
		"a client certificate impersonating a ServiceAccount": {
			Host:            "https://127.0.0.1:6443",
			TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca"), CertData: []byte("cert"), KeyData: []byte("key")},
			Impersonate: rest.ImpersonationConfig{
				UserName: "system:serviceaccount:ns:sa",
				Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"},
			},
		},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "kubeconfigs", "test.kubeconfig")
			if err := WriteKubeconfig(path, cfg); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			got, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != cfg.Host || got.BearerToken != cfg.BearerToken ||
				string(got.CAData) != string(cfg.CAData) || string(got.CertData) != string(cfg.CertData) || string(got.KeyData) != string(cfg.KeyData) ||
				got.Impersonate.UserName != cfg.Impersonate.UserName || !slices.Equal(got.Impersonate.Groups, cfg.Impersonate.Groups) {
				t.Errorf("the kubeconfig loads as %+v, want %+v", got, cfg)
			}
		})
	}
}

func TestBinaryFromEnvironment(t *testing.T) {
	t.Setenv(BinaryEnv, "/opt/csi-driver-spiffe")
	got, err := Binary(t.Context(), t.TempDir())
	if err != nil || got != "/opt/csi-driver-spiffe" {
		t.Errorf("Binary returned %q, %v, want $%s", got, err, BinaryEnv)
	}
}

func TestFreeAddr(t *testing.T) {
	t.Parallel()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("FreeAddr returned %q, want a loopback address", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	_ = l.Close()
}
