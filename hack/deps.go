//go:build deps

// Package hack pins dependencies that the project is about to use, so that
// parallel work on separate packages does not race on go.mod. It is removed
// once every dependency is imported by real code.
package hack

import (
	_ "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	_ "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	_ "github.com/cert-manager/cert-manager/pkg/util/pki"
	_ "github.com/cert-manager/csi-lib/driver"
	_ "github.com/cert-manager/csi-lib/manager"
	_ "github.com/cert-manager/csi-lib/metadata"
	_ "github.com/cert-manager/csi-lib/storage"
	_ "github.com/container-storage-interface/spec/lib/go/csi"
	_ "github.com/go-logr/zapr"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/operator-framework/api/pkg/validation"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/pflag"
	_ "github.com/spiffe/go-spiffe/v2/svid/x509svid"
	_ "go.uber.org/zap"
	_ "google.golang.org/grpc"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/component-base/cli/flag"
	_ "k8s.io/mount-utils"
	_ "k8s.io/utils/clock"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest/komega"
	_ "sigs.k8s.io/kustomize/api/krusty"
	_ "sigs.k8s.io/yaml"
)
