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

// Package logging builds the structured logger (zap through zapr) shared by
// the operator, the driver and the approver.
package logging

import (
	"fmt"
	"io"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configure logging.
type Options struct {
	// Level is the verbosity: 0 logs errors and important events only, 1
	// (the default) routine progress, 2 and above details for debugging.
	Level int
	// Format is "json" (the default, for log collectors) or "text".
	Format string
}

// AddFlags adds --log-level and --log-format.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.Level, "log-level", 1, "Log verbosity: 0 logs errors and important events only, 1 routine progress, 2 to 10 more detail.")
	fs.StringVar(&o.Format, "log-format", "json", `Log format: "json" or "text".`)
}

// Validate checks the options, naming the bad flag.
func (o *Options) Validate() error {
	if o.Level < 0 || o.Level > 10 {
		return fmt.Errorf("--log-level must be between 0 and 10, got %d", o.Level)
	}
	if o.Format != "json" && o.Format != "text" {
		return fmt.Errorf(`--log-format must be "json" or "text", got %q`, o.Format)
	}
	return nil
}

// New builds a logger writing to w, and installs it as the logger of
// controller-runtime and klog so that every library logs the same way.
func (o *Options) New(w io.Writer) logr.Logger {
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if o.Format == "text" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	// logr verbosity V(n) maps to zap level -n.
	level := zap.NewAtomicLevelAt(zapcore.Level(-o.Level))
	core := zapcore.NewCore(enc, zapcore.AddSync(w), level)
	log := zapr.NewLogger(zap.New(core, zap.AddCaller()))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return log
}
