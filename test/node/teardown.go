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
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
)

// teardown stops every process of the node and removes everything it
// created, in an order that works whether the node stopped cleanly or was
// killed: processes, then what they left (containers, shims, mounts),
// then the firewall rules, links, cgroups, kernel settings and paths.
func (c *Cluster) teardown(ctx context.Context) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Processes, the node's first, the control plane last.
	if len(c.procs) > 0 {
		for i := len(c.procs) - 1; i >= 0; i-- {
			p := c.procs[i]
			// Containers may have exited under the node: their exit is
			// not the test's error, but a component's is logged.
			// A component that exited by itself was reported when it did.
			if err := p.Stop(20 * time.Second); err != nil && !strings.Contains(err.Error(), "did not exit cleanly") && !strings.Contains(err.Error(), "exited before it was stopped") {
				add(err)
			}
		}
		c.procs = nil
	} else {
		add(c.killFromPIDFiles())
	}
	// What containerd leaves: shims (they outlive containerd by design)
	// and the containers' processes, found by our socket and our cgroup.
	add(c.killLeftovers())
	// Mounts: kubelet's (its root directory, pod volumes), the driver's
	// (tmpfs in its data root), containerd's (rootfs, network namespaces).
	for _, dir := range []string{KubeletRootDir, DriverDataRoot, c.WorkDir, "/run/containerd"} {
		add(kubelet.UnmountUnder(dir))
	}
	// Firewall rules: kube-proxy's own cleanup first, then anything else
	// that differs from the baseline.
	if _, err := os.Stat(filepath.Join(c.bin, "kube-proxy")); err == nil {
		out, err := exec.CommandContext(ctx, filepath.Join(c.bin, "kube-proxy"), "--cleanup", "--proxy-mode=iptables").CombinedOutput()
		if err != nil {
			add(fmt.Errorf("kube-proxy --cleanup: %w: %s", err, out))
		}
	}
	add(restoreIptables(ctx, c.state.Baseline.Iptables))
	// Connection-tracking entries of our addresses.
	for _, flag := range []string{"--orig-src", "--orig-dst", "--reply-src", "--reply-dst"} {
		// conntrack exits 1 when nothing matched.
		_ = exec.CommandContext(ctx, "conntrack", "-D", flag, "198.18.0.0", "--mask-src", "255.254.0.0").Run()
		_ = exec.CommandContext(ctx, "conntrack", "-D", flag, "198.18.0.0", "--mask-dst", "255.254.0.0").Run()
	}
	for _, what := range slices.Backward(c.state.Created) {
		kind, arg, _ := strings.Cut(what, " ")
		switch kind {
		case "link":
			if _, err := os.Stat("/sys/class/net/" + arg); err == nil {
				add(c.ip(ctx, "link", "del", arg))
			}
		case "cgroup":
			add(removeCgroup(arg))
		case "path":
			if mounts, err := kubelet.MountsUnder(arg); err != nil || len(mounts) > 0 {
				add(fmt.Errorf("not removing %s: mounts remain under it: %v %v", arg, mounts, err))
				continue
			}
			add(os.RemoveAll(arg))
		}
	}
	// /var/log/containers existed before: remove only the links kubelet
	// made into our pod logs.
	if c.state.Baseline.Paths["/var/log/containers"] {
		entries, _ := os.ReadDir("/var/log/containers")
		for _, e := range entries {
			p := filepath.Join("/var/log/containers", e.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, c.WorkDir) {
				add(os.Remove(p))
			}
		}
	}
	// Kernel settings kubelet or the CNI plugins changed.
	for k, v := range c.state.Baseline.Sysctls {
		p := filepath.Join("/proc/sys", k)
		if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) != v {
			add(os.WriteFile(p, []byte(v), 0o644))
		}
	}
	return errors.Join(errs...)
}

// killFromPIDFiles kills the processes of a previous run from their pid
// files, if the PID still runs the same binary.
func (c *Cluster) killFromPIDFiles() error {
	entries, err := os.ReadDir(filepath.Join(c.WorkDir, "run"))
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pid")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.WorkDir, "run", e.Name()))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == filepath.Join(c.bin, name) {
			errs = append(errs, killAndWait(pid))
		}
	}
	return errors.Join(errs...)
}

// killLeftovers kills the containerd shims of the node (their command line
// names the node's containerd socket) and every process left in the node's
// cgroups.
func (c *Cluster) killLeftovers() error {
	socket := filepath.Join(c.containerdDir(), "containerd.sock")
	var pids []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == socket {
			pids = append(pids, pid)
		}
	}
	for _, dir := range cgroupDirs() {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	var errs []error
	for _, pid := range pids {
		errs = append(errs, killAndWait(pid))
	}
	return errors.Join(errs...)
}

// killAndWait kills pid with SIGKILL and waits until it is gone (or a
// zombie its parent has to reap).
func killAndWait(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("failed to kill process %d: %w", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(data), ") Z ") {
			return nil
		}
	}
	return fmt.Errorf("process %d did not die", pid)
}

// removeCgroup removes a cgroup directory and every cgroup under it,
// deepest first (a cgroup is removed with rmdir once it has no process).
func removeCgroup(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for _, d := range slices.Backward(dirs) {
		var err error
		for range 50 {
			if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
				err = nil
				break
			}
			// EBUSY while the kernel still releases a killed process.
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
