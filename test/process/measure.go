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
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Memory is a process's resident memory, from /proc/<pid>/status, in bytes.
type Memory struct {
	// RSS is the resident set size (VmRSS) and Peak its peak (VmHWM).
	RSS, Peak int64
	// Anon and File are the anonymous part of RSS (heap, stacks) and its
	// file-backed part (the binary's pages).
	Anon, File int64
}

// RSS returns the process's resident memory.
func (p *Process) RSS() (Memory, error) {
	pid := p.PID()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("failed to read the status of %s: %w", p.Name, err)
	}
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "VmHWM:": &m.Peak, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	for line := range strings.Lines(string(data)) {
		for prefix, dst := range fields {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return Memory{}, fmt.Errorf("failed to parse %s %q of /proc/%d/status: %w", prefix, rest, pid, err)
				}
				*dst = kb << 10
			}
		}
	}
	if m.RSS == 0 {
		return Memory{}, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// CPUTime returns the CPU time the process has used, user and system.
func (p *Process) CPUTime() (time.Duration, error) { return CPUTime(p.PID()) }

// CPUTime returns the CPU time the process pid has used, user and system.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the stat of process %d: %w", pid, err)
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

// Children returns the IDs of the running child processes of the test
// process whose command is name, such as the kube-apiserver envtest started.
func Children(name string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("failed to list processes: %w", err)
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

// Metrics are the metric families a process serves, by name.
type Metrics map[string]*dto.MetricFamily

// Metrics scrapes the process's /metrics.
func (p *Process) Metrics(ctx context.Context) (Metrics, error) {
	code, body, err := get(ctx, "http://"+p.MetricsAddr+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("failed to scrape the metrics of %s: %w", p.Name, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics of %s answered %d", p.Name, code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("failed to parse the metrics of %s: %w", p.Name, err)
	}
	return families, nil
}

// Metric scrapes the process's /metrics and returns Value(name, labels).
func (p *Process) Metric(ctx context.Context, name string, labels map[string]string) (float64, error) {
	m, err := p.Metrics(ctx)
	if err != nil {
		return 0, err
	}
	return m.Value(name, labels), nil
}

// Value returns the value of a counter or gauge, summed over the series
// whose labels include labels, or the sample count of a histogram; 0 when
// there is no such series.
func (m Metrics) Value(name string, labels map[string]string) float64 {
	var sum float64
	for _, s := range m[name].GetMetric() {
		if !hasLabels(s, labels) {
			continue
		}
		switch {
		case s.GetCounter() != nil:
			sum += s.GetCounter().GetValue()
		case s.GetGauge() != nil:
			sum += s.GetGauge().GetValue()
		case s.GetHistogram() != nil:
			sum += float64(s.GetHistogram().GetSampleCount())
		}
	}
	return sum
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
