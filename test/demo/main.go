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

// Command demo runs csi-driver-spiffe's main job on a local control plane
// (`make demo`): it installs the operator, creates what the csi-driver-spiffe
// documentation's example creates, mounts a pod's SPIFFE volume as kubelet
// would, and shows the SVID the pod gets. It keeps everything running for
// you to explore until Ctrl-C, then stops every process and removes every
// mount.
package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spiffev1alpha1 "github.com/cert-manager/csi-driver-spiffe-operator/api/v1alpha1"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/harness"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kubelet"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/kustomize"
	"github.com/cert-manager/csi-driver-spiffe-operator/test/process"
)

func main() {
	once := flag.Bool("once", false, "Exit after showing the result instead of waiting for Ctrl-C.")
	workDir := flag.String("work-dir", "/var/tmp/csi-driver-spiffe-demo", "Directory for the demo's files, mounts and logs (not under /tmp).")
	flag.Parse()
	// Ctrl-C reaches the demo only, which cleans up and exits 0: make and
	// go run do not see it and report no error.
	restore := process.TakeTerminal()
	err := run(os.Stdout, *workDir, *once)
	restore()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(out io.Writer, workDir string, once bool) (err error) {
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root: the CSI driver mounts a tmpfs and bind-mounts volumes (run: sudo make demo)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopFailed := false
	defer func() {
		// Ctrl-C while starting cancels the start, which cleans up after
		// itself: that is how a user stops the demo, not a failure.
		if err != nil && ctx.Err() != nil && !stopFailed {
			fmt.Fprintf(out, "\n==> interrupted; stopped\n")
			err = nil
		}
	}()

	// A previous demo killed without a chance to clean up may have left
	// mounts and files behind.
	if err := kubelet.UnmountUnder(workDir); err != nil {
		return err
	}
	if err := os.RemoveAll(workDir); err != nil {
		return fmt.Errorf("failed to clean %s: %w", workDir, err)
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}

	h, err := harness.Start(ctx, harness.Options{WorkDir: workDir, Log: out})
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the operator, driver, approver and control plane; removing mounts")
		stopErr := errors.Join(h.Stop(), os.RemoveAll(workDir))
		stopFailed = stopErr != nil
		err = errors.Join(err, stopErr)
		if err == nil {
			step("done: no process and no mount left behind")
		}
	}()
	root := h.Env.RepoRoot
	cl := h.Env.Client

	step("applying the documentation's demo ClusterIssuer (test/e2e/testdata/clusterissuer.yaml)")
	if err := applyFile(ctx, out, h, filepath.Join(root, "test", "e2e", "testdata", "clusterissuer.yaml")); err != nil {
		return err
	}

	step("creating SpiffeTrustDomain foo-bar (config/samples): trust domain foo.bar, ClusterIssuer csi-driver-spiffe-ca")
	if _, err := kustomize.Apply(ctx, cl, filepath.Join(root, "config", "samples")); err != nil {
		return err
	}
	step("waiting for the operator to deploy the driver and the approver, and for them to be ready")
	if err := harness.WaitFor(ctx, 3*time.Minute, "SpiffeTrustDomain foo-bar to be Ready", func(ctx context.Context) (bool, error) {
		td := &spiffev1alpha1.SpiffeTrustDomain{}
		if err := cl.Get(ctx, client.ObjectKey{Name: "foo-bar"}, td); err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(td.Status.Conditions, spiffev1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue {
			if c != nil {
				return false, fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
			}
			return false, nil
		}
		return true, nil
	}); err != nil {
		return err
	}

	step("applying the documentation's example app (test/e2e/testdata/example-app.yaml): namespace sandbox, ServiceAccount example-app")
	if err := applyFile(ctx, out, h, filepath.Join(root, "test", "e2e", "testdata", "example-app.yaml")); err != nil {
		return err
	}
	k, err := h.Kubelet(ctx, "spiffe.csi.cert-manager.io")
	if err != nil {
		return err
	}
	defer k.Close()
	step("scheduling a pod of Deployment my-csi-app on node %s; kubelet publishes its volume", harness.NodeName)
	pod, err := h.PodFromDeployment(ctx, "sandbox", "my-csi-app")
	if err != nil {
		return err
	}
	start := time.Now()
	vol, err := k.Publish(ctx, pod)
	if err != nil {
		return fmt.Errorf("kubelet could not mount the pod's volume: %w", err)
	}
	step("volume mounted in %s at %s", time.Since(start).Round(time.Millisecond), vol.TargetPath)

	fmt.Fprintln(out)
	fmt.Fprintf(out, "$ ls %s\n", vol.TargetPath)
	entries, err := os.ReadDir(vol.TargetPath)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	fmt.Fprintln(out, strings.Join(names, "  "))
	certPEM, err := os.ReadFile(vol.File("tls.crt"))
	if err != nil {
		return err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "$ cat tls.crt | openssl x509 --noout --text | grep Issuer:\n")
	fmt.Fprintf(out, "        Issuer: CN = %s\n", cert.Issuer.CommonName)
	fmt.Fprintf(out, "$ cat tls.crt | openssl x509 --noout --text | grep URI:\n")
	for _, u := range cert.URIs {
		fmt.Fprintf(out, "                URI:%s\n", u)
	}
	fmt.Fprintf(out, "  (valid %s to %s, key %s)\n", cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), cert.PublicKeyAlgorithm)
	fmt.Fprintln(out)

	// Show exactly the command that runs: -o wide adds the REASON column.
	getArgs := []string{"get", "spiffetrustdomains", "-o", "wide"}
	fmt.Fprintf(out, "$ kubectl %s\n", strings.Join(getArgs, " "))
	kubectl := exec.CommandContext(ctx, filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", h.Kubeconfig}, getArgs...)...)
	kubectl.Stdout, kubectl.Stderr = out, out
	if err := kubectl.Run(); err != nil {
		return fmt.Errorf("kubectl get spiffetrustdomains failed: %w", err)
	}
	fmt.Fprintln(out)

	if once {
		return vol.Unpublish(ctx)
	}
	fmt.Fprintf(out, "The control plane keeps running. Explore it with:\n\n")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", h.Kubeconfig)
	fmt.Fprintf(out, "  %s describe spiffetrustdomain foo-bar\n", filepath.Join(root, "bin", "kubectl"))
	fmt.Fprintf(out, "  %s get certificaterequests -A\n", filepath.Join(root, "bin", "kubectl"))
	fmt.Fprintf(out, "  ls -l %s\n\n", vol.TargetPath)
	fmt.Fprintf(out, "Logs of the operator, driver and approver: %s\n", filepath.Join(workDir, "logs"))
	fmt.Fprintf(out, "Press Ctrl-C to stop everything.\n")
	<-ctx.Done()
	fmt.Fprintln(out)
	// Unpublish with a fresh context: kubelet tears the volume down when the
	// pod goes away, and the driver deletes its files and requests.
	uctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return vol.Unpublish(uctx)
}

// applyFile applies a multi-document manifest with kubectl, as a user would.
func applyFile(ctx context.Context, out io.Writer, h *harness.Harness, path string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(h.Env.RepoRoot, "bin", "kubectl"), "--kubeconfig", h.Kubeconfig, "apply", "--server-side", "-f", path)
	applied, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply -f %s failed: %w\n%s", path, err, applied)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(applied)), "\n") {
		fmt.Fprintf(out, "    %s\n", line)
	}
	return nil
}
