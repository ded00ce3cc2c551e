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

package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// hostState is what a node can change on the machine and must leave as it
// found it: firewall rules, network links, addresses and routes, mounts,
// the kernel settings kubelet, kube-proxy and the CNI bridge plugin touch,
// and the well-known directories kubelet and containerd write to.
type hostState struct {
	// Iptables are the rules and chains of every table, IPv4 and IPv6, as
	// "table chain rule" lines (see iptablesLines).
	Iptables []string `json:"iptables"`
	Links    []string `json:"links"`
	Addrs    []string `json:"addrs"`
	Routes   []string `json:"routes"`
	Mounts   []string `json:"mounts"`
	// Sysctls maps a /proc/sys path to its value.
	Sysctls map[string]string `json:"sysctls"`
	// Paths maps a well-known path to whether it exists.
	Paths map[string]bool `json:"paths"`
	// Cgroups maps a cgroup directory the node would create to whether it
	// exists.
	Cgroups map[string]bool `json:"cgroups"`
}

// watchedSysctls are the kernel settings the node's components may change:
// kubelet's "kernel defaults" (it sets them unless protectKernelDefaults),
// kube-proxy's (route_localnet, conntrack), the bridge plugin's forwarding.
var watchedSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/ipv4/conf/all/route_localnet",
	"net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait", "net/netfilter/nf_conntrack_tcp_be_liberal",
	"net/bridge/bridge-nf-call-iptables",
}

// watchedPaths are the places outside the work directory that kubelet,
// containerd, runc and the CNI plugins write to by default.
var watchedPaths = []string{
	KubeletRootDir, DriverDataRoot, "/var/log/pods", "/var/log/containers",
	"/run/containerd", "/var/run/netns", "/var/lib/cni", "/etc/cni", "/opt/cni", "/opt/containerd",
	"/etc/kubernetes", "/run/nri", "/var/run/nri", "/run/runc", "/var/lib/containerd", "/run/kubernetes",
}

func captureHostState(ctx context.Context) (*hostState, error) {
	s := &hostState{Sysctls: map[string]string{}, Paths: map[string]bool{}, Cgroups: map[string]bool{}}
	var err error
	if s.Iptables, err = iptablesLines(ctx); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dst  *[]string
		args []string
	}{
		{&s.Links, []string{"-o", "link", "show"}},
		{&s.Addrs, []string{"-o", "addr", "show"}},
		{&s.Routes, []string{"route", "show", "table", "all"}},
	} {
		out, err := exec.CommandContext(ctx, "ip", c.args...).Output()
		if err != nil {
			return nil, fmt.Errorf("ip %s: %w", strings.Join(c.args, " "), err)
		}
		*c.dst = normalizeIPLines(string(out))
	}
	if s.Mounts, err = mountPoints(); err != nil {
		return nil, err
	}
	for _, k := range watchedSysctls {
		if data, err := os.ReadFile(filepath.Join("/proc/sys", k)); err == nil {
			s.Sysctls[k] = strings.TrimSpace(string(data))
		}
	}
	for _, p := range watchedPaths {
		_, err := os.Lstat(p)
		s.Paths[p] = err == nil
	}
	for _, dir := range cgroupDirs() {
		_, err := os.Stat(dir)
		s.Cgroups[dir] = err == nil
	}
	return s, nil
}

// diff lists how now differs from the baseline s.
func (s *hostState) diff(now *hostState) []string {
	var out []string
	list := func(what string, before, after []string) {
		for _, l := range after {
			if !slices.Contains(before, l) {
				out = append(out, fmt.Sprintf("%s added: %s", what, l))
			}
		}
		for _, l := range before {
			if !slices.Contains(after, l) {
				out = append(out, fmt.Sprintf("%s removed: %s", what, l))
			}
		}
	}
	list("iptables", s.Iptables, now.Iptables)
	list("link", s.Links, now.Links)
	list("address", s.Addrs, now.Addrs)
	list("route", s.Routes, now.Routes)
	list("mount", s.Mounts, now.Mounts)
	for k, v := range s.Sysctls {
		if now.Sysctls[k] != v {
			out = append(out, fmt.Sprintf("sysctl %s: %s, was %s", k, now.Sysctls[k], v))
		}
	}
	for p, existed := range s.Paths {
		if now.Paths[p] != existed {
			out = append(out, fmt.Sprintf("path %s: exists=%t, was %t", p, now.Paths[p], existed))
		}
	}
	for p, existed := range s.Cgroups {
		if now.Cgroups[p] != existed {
			out = append(out, fmt.Sprintf("cgroup %s: exists=%t, was %t", p, now.Cgroups[p], existed))
		}
	}
	return out
}

// normalizeIPLines drops what changes by itself (counters, timers, link
// state flags and dynamic route details) from `ip -o` output lines.
func normalizeIPLines(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		// ip -o link: "2: eth0: <FLAGS> mtu ..." -> "eth0"; the index and
		// flags change as links come and go and go up and down.
		if len(f) > 2 && strings.HasSuffix(f[0], ":") && strings.HasSuffix(f[1], ":") && strings.HasPrefix(f[2], "<") {
			lines = append(lines, strings.TrimSuffix(f[1], ":"))
			continue
		}
		// ip -o addr: "2: eth0 inet 192.0.2.2/24 ... valid_lft ..."
		if len(f) > 3 && strings.HasSuffix(f[0], ":") && (f[2] == "inet" || f[2] == "inet6") {
			lines = append(lines, strings.Join(f[1:4], " "))
			continue
		}
		// Routes: drop expiry timers and cache details.
		if i := slices.Index(f, "expires"); i >= 0 && i+1 < len(f) {
			f = slices.Delete(f, i, i+2)
		}
		lines = append(lines, strings.Join(f, " "))
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// iptablesLines returns every rule and user chain of every table, IPv4
// and IPv6, as "family table chain-or-rule" lines, without counters. A
// built-in chain with the ACCEPT policy and no rules is left out: it is
// the same as none, and iptables-nft creates such chains merely by listing.
func iptablesLines(ctx context.Context) ([]string, error) {
	var lines []string
	for _, family := range []string{"iptables", "ip6tables"} {
		out, err := exec.CommandContext(ctx, family+"-save").Output()
		if err != nil {
			return nil, fmt.Errorf("%s-save: %w", family, err)
		}
		lines = append(lines, parseIptablesSave(family, string(out))...)
	}
	return lines, nil
}

// parseIptablesSave turns iptables-save output into iptablesLines' lines.
func parseIptablesSave(family, out string) []string {
	var lines []string
	table := ""
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || l == "COMMIT":
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, ":"):
			f := strings.Fields(l[1:])
			if len(f) >= 2 && f[1] != "-" {
				// A built-in chain: kept only if its policy is not ACCEPT.
				if f[1] != "ACCEPT" {
					lines = append(lines, fmt.Sprintf("%s %s policy %s %s", family, table, f[0], f[1]))
				}
				continue
			}
			lines = append(lines, fmt.Sprintf("%s %s chain %s", family, table, f[0]))
		default:
			lines = append(lines, fmt.Sprintf("%s %s rule %s", family, table, l))
		}
	}
	return lines
}

// restoreIptables deletes the rules and then the chains that are in now but
// not in the baseline, table by table (kube-proxy --cleanup removes its own;
// this catches whatever is left, such as KUBE-FIREWALL).
func restoreIptables(ctx context.Context, baseline []string) error {
	now, err := iptablesLines(ctx)
	if err != nil {
		return err
	}
	var errs []string
	run := func(bin string, args ...string) {
		if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("%s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out))))
		}
	}
	for _, l := range now {
		if slices.Contains(baseline, l) {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if f[2] == "rule" {
			// "-A CHAIN spec..." -> "-D CHAIN spec..."
			spec := strings.Fields(strings.TrimPrefix(f[3], "-A "))
			run(f[0], append([]string{"-w", "-t", f[1], "-D"}, unquote(spec)...)...)
		}
	}
	for _, l := range now {
		if slices.Contains(baseline, l) {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if f[2] == "chain" {
			run(f[0], "-w", "-t", f[1], "-F", f[3])
		}
	}
	for _, l := range now {
		if slices.Contains(baseline, l) {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if f[2] == "chain" {
			run(f[0], "-w", "-t", f[1], "-X", f[3])
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("failed to restore the firewall rules: %s", strings.Join(errs, "; "))
	}
	return nil
}

// unquote joins iptables-save's double-quoted arguments ("--comment "a b"")
// back into single arguments.
func unquote(fields []string) []string {
	var out []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.HasPrefix(f, `"`) && !(len(f) > 1 && strings.HasSuffix(f, `"`)) {
			parts := []string{f}
			for i+1 < len(fields) {
				i++
				parts = append(parts, fields[i])
				if strings.HasSuffix(fields[i], `"`) {
					break
				}
			}
			f = strings.Join(parts, " ")
		}
		out = append(out, strings.Trim(f, `"`))
	}
	return out
}

// mountPoints lists the mount points of the calling process's namespace.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	slices.Sort(out)
	return out, s.Err()
}

// cgroupDirs returns the node's cgroup root in every cgroup v1 hierarchy
// (and the unified one): kubelet puts every pod under it.
func cgroupDirs() []string {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue // a symlink such as cpu -> cpu,cpuacct
		}
		out = append(out, filepath.Join(p, CgroupRoot))
	}
	return out
}
