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

// Command run starts the real one-node cluster of package test/node, runs a
// command against it, and tears the node down, whatever the command's
// outcome (and on Ctrl-C). For example:
//
//	go run ./test/node/run -image bin/images/csi-driver-spiffe.tar -- kubectl get nodes
//
// The command gets KUBECONFIG (the administrator's), USE_EXISTING_CLUSTER=true,
// E2E_NODE=true (the cluster is a fresh test node with the cert-manager
// stand-ins) and E2E_POD_IMAGE=busybox. run exits with the command's exit
// status, or 1 if the node could not start or left the machine changed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/node"
)

type images []string

func (i *images) String() string     { return strings.Join(*i, ",") }
func (i *images) Set(v string) error { *i = append(*i, v); return nil }

func main() {
	var imgs images
	flag.Var(&imgs, "image", "A docker archive to import into the node's containerd (repeatable).")
	keep := flag.Bool("keep-work-dir", false, "Keep the node's work directory (logs) after it stops.")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-image archive]... [-keep-work-dir] -- command [args...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// Mounts the node makes (kubelet's, containerd's, the driver's) live in
	// a private mount namespace and go away with it, even if run is killed.
	if code, reran := kubelet.IsolateMounts(); reran {
		os.Exit(code)
	}
	os.Exit(run(flag.Args(), imgs, *keep))
}

func run(command []string, imgs []string, keep bool) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := node.Start(ctx, node.Options{Images: imgs, Log: os.Stderr, KeepWorkDir: keep})
	if err != nil {
		fmt.Fprintf(os.Stderr, "the node did not start: %v\n", err)
		return 1
	}
	code := 0
	if ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "==> node %s is Ready; running: %s\n", node.NodeName, strings.Join(command, " "))
		code = runCommand(ctx, c, command)
	}
	fmt.Fprintln(os.Stderr, "==> stopping the node")
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the node failed: %v\n", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "==> done: no process, mount, link, route, firewall rule or cgroup of the node left behind")
	if ctx.Err() != nil && code == 0 {
		return 130
	}
	return code
}

// runCommand runs command with the node's environment. On Ctrl-C the
// terminal interrupts it too; a SIGTERM to run is passed on.
func runCommand(ctx context.Context, c *node.Cluster, command []string) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+c.Kubeconfig,
		"USE_EXISTING_CLUSTER=true",
		"E2E_NODE=true",
		"E2E_POD_IMAGE=busybox",
		"PATH="+filepath.Join(c.RepoRoot, "bin")+":"+os.Getenv("PATH"),
	)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "failed to run %s: %v\n", command[0], err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 {
			return 1
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "%s failed: %v\n", command[0], err)
		return 1
	}
}
